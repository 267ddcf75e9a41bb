# One command starts everything (make up), one runs every test (make test). See README.md.
SHELL := /bin/bash
BIN := .venv/bin
# Every process started from here gets this clone's own secrets, made once into .run/secrets/
# by scripts/secret.sh, unless the environment gives them: the Django secret key, the local
# PostgreSQL role's password and the local RabbitMQ users' (docs/operations.md). The local
# servers listen on 127.0.0.1 only and serve plain http.
secret = $(shell scripts/secret.sh $(1))
local_broker = amqp://$(1):$(call secret,$(if $(filter admin,$(1)),rabbitmq-admin,broker-$(1)))@127.0.0.1:5672/$(2)
ifndef DJANGO_SECRET_KEY
export DJANGO_SECRET_KEY := $(call secret,secret_key)
endif
export DJANGO_SECURE_SSL ?= false
# Given to the commands that need them, not exported: scripts/services.sh starts no local server
# of a kind whose URL the environment names. While `make pg-cluster`'s PostgreSQL cluster runs,
# the app uses it: its URL names every member, and each connection goes to the primary.
PG_CLUSTER_URL := $(shell scripts/pg_cluster.sh url 2>/dev/null)
APP_DATABASE_URL = $(or $(DATABASE_URL),$(PG_CLUSTER_URL),postgres://ecommerce:$(call secret,postgres)@127.0.0.1:5432/ecommerce)
# The cluster's URL when the app uses it (no DATABASE_URL given), else empty: then no local
# PostgreSQL is started, and the split layout lives on the cluster too. Its servers and query,
# from postgres://user:password@SERVERS/database?OPTIONS, for scripts/service.sh.
USE_PG_CLUSTER = $(if $(DATABASE_URL),,$(PG_CLUSTER_URL))
PG_CLUSTER_SERVERS = $(firstword $(subst /, ,$(lastword $(subst @, ,$(PG_CLUSTER_URL)))))
PG_CLUSTER_OPTIONS = $(lastword $(subst ?, ,$(PG_CLUSTER_URL)))
APP_BROKER_URL = $(or $(CELERY_BROKER_URL),$(call local_broker,ecommerce,ecommerce))
APP_BROKER_ADMIN_URL = $(or $(BROKER_ADMIN_URL),$(call local_broker,admin,ecommerce))
APP_ENV = DATABASE_URL='$(APP_DATABASE_URL)' CELERY_BROKER_URL='$(APP_BROKER_URL)' \
	BROKER_ADMIN_URL='$(APP_BROKER_ADMIN_URL)'
# The tests set up and inspect their vhost as its administrator; the processes they start
# connect with the same URL.
TEST_CELERY_BROKER_URL ?= $(call local_broker,admin,ecommerce_test)
TEST_ENV = DATABASE_URL='$(APP_DATABASE_URL)' CELERY_BROKER_URL='$(TEST_CELERY_BROKER_URL)' \
	BROKER_ADMIN_URL='$(TEST_CELERY_BROKER_URL)'
# The split layout has a vhost of its own: its events never meet those of `make up`. Each
# service connects as its own user (scripts/service.sh), beat as `beat`.
SERVICES_VHOST ?= ecommerce_services
SERVICES_ENV = DATABASE_URL='$(APP_DATABASE_URL)' SERVICES_VHOST='$(SERVICES_VHOST)' \
	BROKER_ADMIN_URL='$(or $(BROKER_ADMIN_URL),$(call local_broker,admin,$(SERVICES_VHOST)))' \
	CELERY_BROKER_URL='$(call local_broker,beat,$(SERVICES_VHOST))' \
	$(if $(USE_PG_CLUSTER),SPLIT_DATABASE_SERVERS='$(PG_CLUSTER_SERVERS)' \
		SPLIT_DATABASE_OPTIONS='$(PG_CLUSTER_OPTIONS)')
MANAGE = env $(APP_ENV) $(BIN)/python manage.py
DEMO_ENV = DEMO_PASSWORD='$(call secret,demo-user)'
# As root, the Procfiles' workers run as nobody (celery worker --uid/--gid), provided nobody can
# run the virtualenv's Python: one made from a Python under root's home (pyenv) cannot be.
NOBODY_RUNS_PYTHON = $(shell runuser -u nobody -- $(BIN)/python -c 'import celery' 2>/dev/null && echo yes)
WORKER_USER = $(if $(filter 0,$(shell id -u)),$(if $(NOBODY_RUNS_PYTHON),WORKER_PRIVILEGES='--uid=nobody --gid=nogroup',$(warning the worker runs as root: nobody cannot run $(realpath $(BIN)/python); make .venv from a system Python, e.g. rm -r .venv && PYTHON=/usr/bin/python3 scripts/venv.sh)))

.PHONY: up demo test check lint asyncapi asyncapi-check event-schemas services down migrate bench bench-check up-services migrate-services demo-services cluster cluster-down pg-cluster pg-cluster-down

# The runtime (requirements.txt); the checks', tests', demo's and benchmarks' tools on top.
.venv/.installed: requirements.txt
	scripts/venv.sh
.venv/.installed-dev: .venv/.installed requirements-dev.txt
	scripts/venv.sh requirements-dev.txt

# pytest-xdist's workers, each with its own test database and RabbitMQ vhost (tests/parallel.py):
# one per CPU and at least two, since most tests spend their time waiting on other processes.
# A test module runs on one worker (loadfile): the processes a module starts once serve all its
# tests, and the cluster's and the split layout's fixed ports and names are used by one at once.
# The modules go out in collection order (no reorder), the tests that start processes last.
TEST_WORKERS ?= $(shell n=$$(nproc); echo $$(( n < 2 ? 2 : n )))
PYTEST = env $(TEST_ENV) $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
# The tests keep the local server while `make pg-cluster`'s cluster runs (tests/pg_failover runs
# a cluster of its own): for them and what they need first, as if it did not run.
check test bench bench-check: PG_CLUSTER_URL :=

services:
	$(if $(USE_PG_CLUSTER),DATABASE_URL='$(USE_PG_CLUSTER)' )scripts/services.sh start

migrate: .venv/.installed services
	$(MANAGE) migrate --noinput
	$(MANAGE) declare_topology

## Start PostgreSQL and RabbitMQ, migrate, then run web, relay, worker and beat until Ctrl-C.
## Started as root, the worker drops to the unprivileged user nobody.
up: migrate
	@echo "API http://127.0.0.1:8000/products  admin http://127.0.0.1:8000/admin (make demo creates its demo user)"
	env $(APP_ENV) PATH="$(CURDIR)/.venv/bin:$$PATH" $(WORKER_USER) $(BIN)/honcho start

## Play the demo (scripts/demo.py: a product, its stock, an order) against a running `make up`,
## as the demo user: made here, with DEBUG on for that command only and this clone's own
## password (scripts/secret.sh demo-user).
demo: .venv/.installed-dev
	env $(APP_ENV) $(DEMO_ENV) DJANGO_DEBUG=true $(BIN)/python manage.py ensure_demo_user
	env $(DEMO_ENV) $(BIN)/python scripts/demo.py

## The split layout: a database and a role per service, the identity database as its owner,
## then each service's database as the service's role.
migrate-services: .venv/.installed services
	$(if $(USE_PG_CLUSTER),scripts/pg_cluster.sh,scripts/services.sh) split-databases
	env $(SERVICES_ENV) scripts/migrate_services.sh

## The three services apart, until Ctrl-C: order :8080, product :8082, inventory :8083.
up-services: migrate-services
	@echo "order http://127.0.0.1:8080/orders  product http://127.0.0.1:8082/products  inventory http://127.0.0.1:8083/inventories"
	env $(SERVICES_ENV) PATH="$(CURDIR)/.venv/bin:$$PATH" $(WORKER_USER) \
		$(BIN)/honcho -f Procfile.services start

## Play the demo against a running `make up-services`, each request on its service.
demo-services: .venv/.installed-dev
	env $(SERVICES_ENV) $(DEMO_ENV) DJANGO_DEBUG=true $(BIN)/python manage.py ensure_demo_user
	env $(DEMO_ENV) DEMO_PRODUCTS_URL=http://127.0.0.1:8082 DEMO_INVENTORY_URL=http://127.0.0.1:8083 \
		DEMO_ORDERS_URL=http://127.0.0.1:8080 $(BIN)/python scripts/demo.py

## Lint, format, types and import contracts, as .pre-commit-config.yaml runs them. mypy's
## Django plugin loads the settings: in DEBUG, from an empty environment, so that no variable
## of the shell (ECOMMERCE_SERVICES, say) changes what it sees.
lint: .venv/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	env -i DJANGO_DEBUG=true $(BIN)/mypy
	$(BIN)/lint-imports

## The quick tier, before a commit: make lint, then the unit and integration tests that start
## no web, relay, worker or beat process (real PostgreSQL and RabbitMQ all the same).
check: lint services
	$(PYTEST) -m "not processes"

## Everything, as CI runs it: make lint, then every test against real PostgreSQL,
## RabbitMQ and processes: end-to-end, crash, browser and contract tests, and the cluster tests
## on a three-node cluster of their own (ports 5682-5684, 15682-15684). With Node on the
## machine, the events' AsyncAPI document must also pass the reference parser. The browser
## tests need Chromium from the OS packages (scripts/browser.sh installs it as root).
test: lint services
	scripts/browser.sh
	$(MAKE) asyncapi-check
	$(PYTEST)

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

## Throughput and latency figures (docs/performance.md); e.g. BENCH_SIZES=10000,100000,1000000.
bench: .venv/.installed-dev services
	env $(TEST_ENV) $(BIN)/python -m bench.run

## The benchmark harness's own tests (bench/tests), apart from make test.
bench-check: .venv/.installed-dev services
	$(PYTEST) bench/tests

## Grow the RabbitMQ node of `make up` into a three-node cluster: AMQP 5672-5674, management
## 15672-15674. It prints the broker URL list to give CELERY_BROKER_URL.
cluster:
	scripts/cluster.sh start

## Nodes 2 and 3 leave the cluster and stop; the node of `make up` runs on alone.
cluster-down:
	scripts/cluster.sh stop

## A PostgreSQL cluster with automatic failover (Patroni, etcd): a primary and two standbys on
## 5433-5435, synchronous replication unless PG_CLUSTER_SYNCHRONOUS=false. While it runs, make
## up, make up-services and the demos use it instead of the local server.
pg-cluster:
	scripts/pg_cluster.sh start

## Stop the PostgreSQL cluster (its data stays in .run/pg-cluster); the app goes back to the
## local server.
pg-cluster-down:
	scripts/pg_cluster.sh stop

down:
	scripts/pg_cluster.sh stop
	scripts/cluster.sh stop
	scripts/services.sh stop
