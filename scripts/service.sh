#!/usr/bin/env bash
# One process of one service of the split layout (make up-services, Procfile.services): sets
# that service's environment, then runs the process in its place.
#
#   scripts/service.sh product|inventory|order web|relay|worker|migrate
#
#   web       gunicorn on its demo port: order 8080, product 8082, inventory 8083
#   relay     manage.py run_relay: drains the service's outbox
#   worker    a Celery worker: the service's receive queue and task queue
#   migrate   manage.py migrate --database <app>: the service's own database, as its role
#
# Environment, each with a default for this machine (names: scripts/split_layout.sh):
#   ECOMMERCE_SERVICES           set to the service
#   DATABASE_URL                 <APP>_IDENTITY_DATABASE_URL, or the service's role on the
#                                identity database
#   <APP>_DATABASE_URL           the service's role on its own database (APP: PRODUCTS,
#                                INVENTORY, ORDERS)
#   SPLIT_DATABASE_HOST, SPLIT_DATABASE_PORT
#                                the PostgreSQL server of both (127.0.0.1, $PGPORT_LOCAL or 5432)
#   SPLIT_DATABASE_SERVERS       instead, several servers, host:port,host:port,... (a cluster's
#                                members: make up-services gives those of make pg-cluster)
#   SPLIT_DATABASE_OPTIONS       the query of both URLs, e.g. target_session_attrs=read-write
#                                (connect to whichever of the servers is the primary)
#   CELERY_BROKER_URL            <SERVICE>_BROKER_URL, or the given CELERY_BROKER_URL with the
#                                service's own broker user (named after the service) and this
#                                clone's password for it (scripts/secret.sh broker-<service>)
#   <SERVICE>_WEB_BIND           where its web process listens (SERVICE: PRODUCT, INVENTORY,
#                                ORDER; default 127.0.0.1:<its demo port>)
#   WEB_WORKERS                  gunicorn worker processes (default 2)
# Passwords go into the URLs as they are: characters like @ : / need the URL variables.
set -euo pipefail

SCRIPT_DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd -P "$SCRIPT_DIR/.." && pwd)"
# shellcheck source=split_layout.sh
. "$SCRIPT_DIR/split_layout.sh"

usage() {
    echo "usage: $0 product|inventory|order web|relay|worker|migrate" >&2
    exit 2
}

service=${1:-}
process=${2:-}
case $service in
    product) app=products port=8082 ;;
    inventory) app=inventory port=8083 ;;
    order) app=orders port=8080 ;;
    *) usage ;;
esac

role=$(split_role "$app")
password=$(split_password "$app")
server="${SPLIT_DATABASE_SERVERS:-${SPLIT_DATABASE_HOST:-127.0.0.1}:${SPLIT_DATABASE_PORT:-${PGPORT_LOCAL:-5432}}}"
options="${SPLIT_DATABASE_OPTIONS:+?$SPLIT_DATABASE_OPTIONS}"
identity_variable="${app^^}_IDENTITY_DATABASE_URL"
database_variable="${app^^}_DATABASE_URL"
bind_variable="${service^^}_WEB_BIND"

export ECOMMERCE_SERVICES="$service"
CELERY_BROKER_URL=$(split_broker_url "$service")
export CELERY_BROKER_URL
export DATABASE_URL="${!identity_variable:-postgres://$role:$password@$server/$SPLIT_IDENTITY_DATABASE$options}"
export "$database_variable=${!database_variable:-postgres://$role:$password@$server/$role$options}"

cd "$PROJECT_DIR"
if [ -d .venv/bin ]; then PATH="$PROJECT_DIR/.venv/bin:$PATH"; fi

case $process in
    # Without gunicorn's control socket: its one default path would be shared by the three.
    web)
        exec gunicorn ecommerce.wsgi:application --bind "${!bind_variable:-127.0.0.1:$port}" \
            --access-logfile - --no-control-socket ;;
    relay) exec python manage.py run_relay ;;
    # Named after the service: three workers on one host need three node names. No mingle,
    # gossip or heartbeats: they talk through broadcast exchanges no service's broker user may
    # write to (docs/operations.md, "Broker users").
    # WORKER_PRIVILEGES: e.g. --uid=nobody --gid=nogroup, which make up-services gives as root.
    # shellcheck disable=SC2086
    worker) exec celery -A ecommerce worker --loglevel=INFO --pool=solo --hostname="$service@%h" \
        --without-mingle --without-gossip --without-heartbeat \
        ${WORKER_PRIVILEGES:-} ;;
    migrate) exec python manage.py migrate --noinput --database "$app" ;;
    *) usage ;;
esac
