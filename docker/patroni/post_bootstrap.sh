#!/usr/bin/env bash
# Patroni's post_bootstrap (docker/patroni/entrypoint.sh), run once, on the member that makes the
# cluster, before the standbys clone it: the app's role and database, as scripts/pg_cluster.sh
# makes them on its own cluster. Patroni gives the superuser's connection string as the last
# argument. On a failure it sets the new data directory aside and stops; the container, started
# again, makes the cluster anew.
#
# The password comes from the environment (APP_PASSWORD, POSTGRES_PASSWORD of .env) through
# psql's \getenv, quoted by psql: it is on no command line, where `ps` would show it.
set -euo pipefail

psql -X -q -v ON_ERROR_STOP=1 --no-password -d "$1" <<'SQL'
\getenv app_password APP_PASSWORD
CREATE ROLE ecommerce WITH LOGIN CREATEDB PASSWORD :'app_password';
CREATE DATABASE ecommerce OWNER ecommerce;
-- With OUTBOX_WAIT_FOR_STANDBY the outbox reads how far the standbys have come, which only
-- pg_read_all_stats shows of other roles' sessions (the WAL senders').
GRANT pg_read_all_stats TO ecommerce;
SQL
