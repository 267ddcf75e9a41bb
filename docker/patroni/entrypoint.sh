#!/usr/bin/env bash
# The entrypoint of docker/patroni's image, for the members pg-1, pg-2 and pg-3 of
# docker-compose.yml's profile `pg-cluster`: writes the member's Patroni configuration from the
# environment on every start, so that a value changed in .env takes effect at the next one, then
# runs Patroni as the postgres user. Patroni starts PostgreSQL; the first member to take the
# leader key in etcd makes the database, the others clone it and stream from it.
#
#   entrypoint.sh           write the configuration and run Patroni
#   entrypoint.sh config    print the configuration and exit (it holds the passwords)
#
# Environment:
#   MEMBER_NAME            the member's name in Patroni, and the host the others reach it by
#                          (default: the container's host name, which compose sets to the
#                          service's)
#   CLUSTER_SCOPE          Patroni's scope: the cluster's name in etcd (default ecommerce)
#   ETCD_HOSTS             etcd's client addresses, host:port[,host:port...]
#   SYNCHRONOUS_MODE       true (default) or false: Patroni's synchronous_mode when the cluster
#                          is made. Afterwards etcd holds it:
#                          docker compose exec pg-1 patronictl edit-config --set synchronous_mode=false --set synchronous_mode_strict=false
#   SUPERUSER_PASSWORD     the superuser postgres, as which Patroni manages the server
#   REPLICATION_PASSWORD   the role replicator, as which the standbys stream
#   REST_PASSWORD          the user patroni of the REST API, for what changes the cluster
#   APP_PASSWORD           the role ecommerce, which post_bootstrap.sh makes with the cluster
# ETCD_HOSTS and the passwords must not be empty. The passwords are given to the roles when the
# cluster is made (its volumes are new); a later change needs ALTER ROLE too. None is named
# PATRONI_*: Patroni reads those itself, and would make a role of every PATRONI_<name>_PASSWORD.
set -euo pipefail

CONFIG=/etc/patroni/patroni.yml
# The data directory is one inside the volume, not the volume itself: Patroni renames or removes
# it (a failed bootstrap, a member cloned anew), which it cannot do to a mount point.
VOLUME_DIR=/var/lib/postgresql/data
DATA_DIR=$VOLUME_DIR/pgdata
HERE=/opt/ecommerce/patroni

MEMBER_NAME=${MEMBER_NAME:-$(hostname)}
CLUSTER_SCOPE=${CLUSTER_SCOPE:-ecommerce}
SYNCHRONOUS_MODE=${SYNCHRONOUS_MODE:-true}

# Refuse before Patroni starts, naming the variable of .env: the profile's secrets cannot be
# required by docker compose itself, which reads every service of the file whatever the profile.
refuse() {
    echo "patroni: $1" >&2
    exit 1
}
[ -n "${SUPERUSER_PASSWORD:-}" ] || refuse "PATRONI_SUPERUSER_PASSWORD is empty: set it in .env (see .env.example)"
[ -n "${REPLICATION_PASSWORD:-}" ] || refuse "PATRONI_REPLICATION_PASSWORD is empty: set it in .env (see .env.example)"
[ -n "${REST_PASSWORD:-}" ] || refuse "PATRONI_REST_PASSWORD is empty: set it in .env (see .env.example)"
[ -n "${APP_PASSWORD:-}" ] || refuse "POSTGRES_PASSWORD is empty: set it in .env (see .env.example)"
[ -n "${ETCD_HOSTS:-}" ] || refuse "ETCD_HOSTS is empty"
[ -n "${PG_MAJOR:-}" ] || refuse "PG_MAJOR is empty (the postgres image sets it)"
# Both go into etcd's keys and into host names as they are.
[[ $MEMBER_NAME =~ ^[A-Za-z0-9_-]+$ ]] || refuse "MEMBER_NAME may hold letters, digits, - and _ only, not '$MEMBER_NAME'"
[[ $CLUSTER_SCOPE =~ ^[A-Za-z0-9_-]+$ ]] || refuse "CLUSTER_SCOPE may hold letters, digits, - and _ only, not '$CLUSTER_SCOPE'"
case ${SYNCHRONOUS_MODE,,} in
    true|on|yes|1) SYNCHRONOUS_MODE=true ;;
    false|off|no|0) SYNCHRONOUS_MODE=false ;;
    *) refuse "PG_CLUSTER_SYNCHRONOUS is true or false, not '$SYNCHRONOUS_MODE'" ;;
esac

yaml_quote() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }

member_config() {
    cat <<YAML
# Written by docker/patroni/entrypoint.sh on every start: edit the script, not this file.
scope: $(yaml_quote "$CLUSTER_SCOPE")
name: $(yaml_quote "$MEMBER_NAME")
restapi:
  listen: 0.0.0.0:8008
  connect_address: $MEMBER_NAME:8008
  # Reading is open (the health check, the members' view of one another); changing the cluster
  # (PATCH /config, restarts, switchovers) takes these.
  authentication:
    username: patroni
    password: $(yaml_quote "$REST_PASSWORD")
etcd3:
  hosts: $(yaml_quote "$ETCD_HOSTS")
# What a new cluster starts with; afterwards etcd holds it (patronictl edit-config, PATCH /config).
bootstrap:
  dcs:
    # A Patroni that is gone loses the leader key after ttl seconds; each member looks at the
    # cluster every loop_wait second (ttl must be at least loop_wait + 2 * retry_timeout).
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    # A primary whose postgres crashed is not started again in place: its crash recovery would
    # keep every write waiting, while a standby that streamed up to the crash can take over at
    # once (in synchronous mode only the synchronous one, which holds every commit). The old
    # primary then comes back as a standby, rewound.
    primary_start_timeout: 0
    maximum_lag_on_failover: 1048576
    synchronous_mode: $SYNCHRONOUS_MODE
    # Strict: with no synchronous standby, commits wait rather than go on unreplicated; and a
    # Patroni started again beside a primary it had lost writes '*' before it demotes it, which
    # keeps the commits waiting there from being released (scripts/pg_cluster.sh).
    synchronous_mode_strict: $SYNCHRONOUS_MODE
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        max_connections: 200
        # Three servers on one machine.
        shared_buffers: 128MB
        password_encryption: scram-sha-256
  initdb:
  - encoding: UTF8
  - locale: C.UTF-8
  - data-checksums
  # The app's role and database, once, on the member that makes the cluster; the standbys
  # clone them.
  post_bootstrap: bash $HERE/post_bootstrap.sh
postgresql:
  listen: 0.0.0.0:5432
  connect_address: $MEMBER_NAME:5432
  data_dir: $DATA_DIR
  bin_dir: /usr/lib/postgresql/$PG_MAJOR/bin
  pgpass: /tmp/pgpass
  # Patroni's own connections go through the socket, as the postgres user (peer below).
  use_unix_socket: true
  parameters:
    unix_socket_directories: /var/run/postgresql
  # A standby's clone starts with a checkpoint on the primary: spread over half of
  # checkpoint_timeout, it would keep a new member unhealthy for minutes.
  basebackup:
    checkpoint: fast
  authentication:
    superuser:
      username: postgres
      password: $(yaml_quote "$SUPERUSER_PASSWORD")
    replication:
      username: replicator
      password: $(yaml_quote "$REPLICATION_PASSWORD")
  # The server's own user through the socket; everyone else over the network with a password.
  pg_hba:
  - local all all peer
  - host replication replicator all scram-sha-256
  - host all all all scram-sha-256
# No hardware watchdog in a container.
watchdog:
  mode: 'off'
YAML
}

if [ "${1:-}" = config ]; then
    member_config
    exit 0
fi
[ $# -eq 0 ] || refuse "usage: entrypoint.sh [config]"

# Root, to give the volume and the configuration to the postgres user, whom Patroni runs as.
[ "$(id -u)" = 0 ] || refuse "the container must run as root: give it no user: in docker-compose.yml"
mkdir -p "$VOLUME_DIR"
chown postgres:postgres "$VOLUME_DIR"
chmod 700 "$VOLUME_DIR"
(umask 077 && member_config >"$CONFIG.new")
chown postgres:postgres "$CONFIG.new"
mv "$CONFIG.new" "$CONFIG"
# As PID 1 Patroni reaps the container's orphans and passes its signals on to postgres.
exec gosu postgres patroni "$CONFIG"
