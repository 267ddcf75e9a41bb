# One command starts everything (make up), one runs every test (make test). See README.md.
SHELL := /bin/bash
BIN := .venv/bin
MANAGE := $(BIN)/python manage.py
TEST_CELERY_BROKER_URL ?= amqp://ecommerce:ecommerce@127.0.0.1:5672/ecommerce_test
# The split layout has a vhost of its own: its events never meet those of `make up`.
SERVICES_BROKER_URL ?= amqp://ecommerce:ecommerce@127.0.0.1:5672/ecommerce_services
# Every process started from here gets this clone's secret key (made once into .run/), unless
# the environment gives one, and serves plain http: the machine is 127.0.0.1, without TLS.
ifndef DJANGO_SECRET_KEY
export DJANGO_SECRET_KEY := $(shell scripts/secret_key.sh)
endif
export DJANGO_SECURE_SSL ?= false

.PHONY: up demo test asyncapi asyncapi-check event-schemas services down migrate check bench up-services migrate-services demo-services cluster cluster-down

.venv/.installed: requirements.txt
	scripts/venv.sh

services:
	scripts/services.sh start

migrate: .venv/.installed services
	$(MANAGE) migrate --noinput
	$(MANAGE) declare_topology
	$(MANAGE) ensure_demo_user

## Start PostgreSQL and RabbitMQ, migrate, then run web, relay, worker and beat until Ctrl-C.
up: migrate
	@echo "API http://127.0.0.1:8000/products  admin http://127.0.0.1:8000/admin (demo/demo)"
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(BIN)/honcho start

## Play seed 000's demo against a running `make up`.
demo: .venv/.installed
	$(BIN)/python scripts/demo.py

## The split layout: a database and a role per service, the identity database as its owner,
## then each service's database as the service's role.
migrate-services: .venv/.installed services
	scripts/services.sh split-databases
	CELERY_BROKER_URL=$(SERVICES_BROKER_URL) scripts/migrate_services.sh

## Seed 000's three services apart, until Ctrl-C: order :8080, product :8082, inventory :8083.
up-services: migrate-services
	@echo "order http://127.0.0.1:8080/orders  product http://127.0.0.1:8082/products  inventory http://127.0.0.1:8083/inventories"
	CELERY_BROKER_URL=$(SERVICES_BROKER_URL) PATH="$(CURDIR)/.venv/bin:$$PATH" $(BIN)/honcho -f Procfile.services start

## Play seed 000's demo against a running `make up-services`, each request on its service.
demo-services: .venv/.installed
	DEMO_PRODUCTS_URL=http://127.0.0.1:8082 DEMO_INVENTORY_URL=http://127.0.0.1:8083 \
		DEMO_ORDERS_URL=http://127.0.0.1:8080 $(BIN)/python scripts/demo.py

## Architecture contracts, then every test against real PostgreSQL, RabbitMQ and workers; the
## cluster tests last, on a three-node cluster of their own (ports 5682-5684, 15682-15684).
## With Node on the machine, the events' AsyncAPI document must also pass the reference parser.
## The browser tests need Chromium from the OS packages (scripts/browser.sh installs it as root).
test: .venv/.installed services
	scripts/browser.sh
	$(BIN)/lint-imports
	$(MAKE) asyncapi-check
	CELERY_BROKER_URL=$(TEST_CELERY_BROKER_URL) $(BIN)/pytest

## Write the events' AsyncAPI document again after changing an event or a subscription.
asyncapi: .venv/.installed
	$(MANAGE) asyncapi --output docs/asyncapi.yaml

## Lock the events' data schemas again (docs/event-schemas.json); refuses a breaking change to
## a version (docs/architecture.md, "Event versions").
event-schemas: .venv/.installed
	$(MANAGE) event_schemas

## The AsyncAPI document as the command writes it, through @asyncapi/parser (scripts/asyncapi).
asyncapi-check: .venv/.installed
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		npm ci --prefix scripts/asyncapi --no-audit --no-fund --loglevel=error && \
		mkdir -p .run && $(MANAGE) asyncapi --output .run/asyncapi.json && \
		node scripts/asyncapi/validate.mjs .run/asyncapi.json; \
	else \
		echo "asyncapi-check: no node/npm on PATH, the AsyncAPI parser step is not run"; \
	fi

check: .venv/.installed
	$(BIN)/lint-imports
	$(MANAGE) check

## Throughput and latency figures (docs/performance.md); e.g. BENCH_SIZES=10000,100000,1000000.
bench: .venv/.installed services
	$(BIN)/python -m bench.run

## Grow the RabbitMQ node of `make up` into a three-node cluster: AMQP 5672-5674, management
## 15672-15674. It prints the broker URL list to give CELERY_BROKER_URL.
cluster:
	scripts/cluster.sh start

## Nodes 2 and 3 leave the cluster and stop; the node of `make up` runs on alone.
cluster-down:
	scripts/cluster.sh stop

down:
	scripts/cluster.sh stop
	scripts/services.sh stop
