#!/usr/bin/env bash
# Start / stop / inspect the PostgreSQL and RabbitMQ servers used by this project
# for development, tests and benchmarks, without Docker and without touching the
# system services: all data lives under <project>/.run/ (git-ignored).
#
#   scripts/services.sh start     # idempotent; installs missing packages when root
#   scripts/services.sh status    # one line per service; exit 1 if one is down
#   scripts/services.sh stop      # stops the local servers started from .run/
#   scripts/services.sh split-databases [drop]
#                                 # the split layout's databases and roles (make up-services):
#                                 # applies scripts/split_databases.sql as the local superuser,
#                                 # or prints it for the operator when DATABASE_URL is set;
#                                 # names from scripts/split_layout.sh; `drop` removes them
#
# Environment:
#   DATABASE_URL        if set, no local PostgreSQL: just wait until that server answers
#   CELERY_BROKER_URL   if set, no local RabbitMQ: just wait until that broker's port answers
#   PGPORT_LOCAL        port of the local PostgreSQL (default 5432)
#   SERVICES_RUN_DIR    where the local servers live (default .run/ of this clone; another
#                       clone's .run/ to use the servers it runs)
#
# Local servers:
#   PostgreSQL  127.0.0.1:$PGPORT_LOCAL, socket dir .run/postgres, data .run/postgres/data,
#               role/db ecommerce (password: scripts/secret.sh postgres), superuser over TCP
#               with scripts/secret.sh postgres-superuser; no role without its password   log: .run/log/postgres.log
#   RabbitMQ    node rabbit@localhost, amqp 127.0.0.1:5672, amqps 127.0.0.1:5671 (CA:
#               .run/rabbitmq/tls/ca_certificate.pem), management http://127.0.0.1:15672,
#               vhosts ecommerce + ecommerce_test + ecommerce_services, users admin
#               (administrator), ecommerce, product, inventory, order and beat, each with
#               its own password in .run/secrets/ (scripts/secret.sh)
#               logs: .run/log/rabbitmq.log (our commands), .run/rabbitmq/log/ (server)
set -euo pipefail
umask 022

SCRIPT_DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd -P "$SCRIPT_DIR/.." && pwd)"
RUN_DIR="${SERVICES_RUN_DIR:-$PROJECT_DIR/.run}"
LOG_DIR="$RUN_DIR/log"

APP_USER=ecommerce
APP_DB=ecommerce
# Every password is this clone's own, made once into .run/secrets/ (scripts/secret.sh).
secret() { "$SCRIPT_DIR/secret.sh" "$1"; }
# The broker's users: the administrator declares the topology and grants the others their
# permissions (manage.py declare_topology); `ecommerce` is every process of `make up`, which
# serves every context; product, inventory and order are the services of the split layout and
# beat its scheduler. Only the administrator has a tag; `guest` is deleted.
RMQ_ADMIN=admin
RMQ_USERS=(ecommerce product inventory order beat)
# ecommerce_services: the split layout of make up-services, apart from make up's events.
RMQ_VHOSTS=(ecommerce ecommerce_test ecommerce_services)

PG_HOST=127.0.0.1
PG_PORT="${PGPORT_LOCAL:-5432}"
PG_DIR="$RUN_DIR/postgres"          # also the unix socket directory
PG_DATA="$PG_DIR/data"
PG_LOG="$LOG_DIR/postgres.log"
PG_START_TIMEOUT=30

RMQ_DIR="$RUN_DIR/rabbitmq"
RMQ_NODE=rabbit@localhost
RMQ_PORT=5672
RMQ_MGMT_PORT=15672
RMQ_LOG="$LOG_DIR/rabbitmq.log"     # output of our rabbitmq-server/-plugins/ctl calls
RMQ_SERVER_LOG="$RMQ_DIR/log/$RMQ_NODE.log"
RMQ_START_TIMEOUT=60

URL_WAIT_TIMEOUT=30

# Environment shared by rabbitmq-server, rabbitmq-plugins and rabbitmqctl
# (runuser/su keep the environment, so this also reaches them when run as the rabbitmq user).
export RABBITMQ_NODENAME="$RMQ_NODE"
export RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
export RABBITMQ_LOG_BASE="$RMQ_DIR/log"
export RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
export RABBITMQ_PID_FILE="$RMQ_DIR/rabbit.pid"
export RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
# The Erlang distribution (the CLI's and a cluster's own port) and its port mapper listen on
# this machine only, as AMQP and the management UI do (rmq_config).
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"

# --------------------------------------------------------------------------- helpers

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
rel() { printf '%s' "${1#"$PROJECT_DIR"/}"; }   # path relative to the project, for messages

show_log() {  # show_log FILE [LINES]: tail of a log on stderr (for failures)
    local file=$1 lines=${2:-25}
    if [ -s "$file" ]; then
        warn "----- last $lines lines of $file -----"
        tail -n "$lines" "$file" >&2 || true
        warn "-----"
    fi
}

tcp_open() {  # tcp_open HOST PORT: true if something accepts TCP connections there
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" >/dev/null 2>&1
}

URL_HOST="" URL_PORT=""
parse_url() {  # parse_url URL DEFAULT_PORT: sets URL_HOST / URL_PORT
    local url=$1 rest
    rest=${url#*://}
    rest=${rest%%[/?#]*}
    rest=${rest##*@}
    rest=${rest%%,*}                  # multi-host postgres URLs: first host
    if [[ $rest == \[* ]]; then      # [ipv6]:port
        URL_HOST=${rest%%]*}; URL_HOST=${URL_HOST#[}
        URL_PORT=${rest#*]}; URL_PORT=${URL_PORT#:}
    elif [[ $rest == *:* ]]; then
        URL_HOST=${rest%%:*}; URL_PORT=${rest##*:}
    else
        URL_HOST=$rest; URL_PORT=""
    fi
    URL_HOST=${URL_HOST:-localhost}
    URL_PORT=${URL_PORT:-$2}
}

# ------------------------------------------------------------------ package install

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_CREATED=0
cleanup() {
    if [ "$POLICY_RC_CREATED" = 1 ]; then rm -f "$POLICY_RC"; fi
}
trap cleanup EXIT

find_pg_bin() {  # prints the bin dir of the highest installed PostgreSQL version
    local d best="" best_v=-1 v
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] || continue
        v=$(basename "$(dirname "$d")")
        [[ $v =~ ^[0-9]+$ ]] || continue
        if [ "$v" -gt "$best_v" ]; then best_v=$v; best=$d; fi
    done
    [ -n "$best" ] && printf '%s\n' "$best"
}

find_rmq_bin() {  # prints the dir holding the real rabbitmq-server/rabbitmqctl scripts
    if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
        printf '%s\n' /usr/lib/rabbitmq/bin
    elif command -v rabbitmq-server >/dev/null 2>&1; then
        dirname "$(command -v rabbitmq-server)"
    else
        return 1
    fi
}

apt_install() {  # apt_install PKG...
    local log="$LOG_DIR/apt.log"
    if ! is_root; then
        die "missing packages: $*. Install them as root, then re-run this script:
    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q $*"
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "missing packages: $* (no apt-get here: install PostgreSQL and RabbitMQ yourself, or set DATABASE_URL / CELERY_BROKER_URL)"
    say "installing $* (apt-get, log: $(rel "$log"))"
    export DEBIAN_FRONTEND=noninteractive
    # We run our own servers from .run/: keep the packages' system services from starting
    # (they would grab ports 5432/5672) while installing, unless a policy is already in place.
    if [ ! -e "$POLICY_RC" ]; then
        printf '#!/bin/sh\n# temporary, created by %s\nexit 101\n' "$0" >"$POLICY_RC"
        chmod 755 "$POLICY_RC"
        POLICY_RC_CREATED=1
    fi
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        apt-get update -q >>"$log" 2>&1 || { show_log "$log"; die "apt-get update failed"; }
    fi
    if ! apt-get install -y -q "$@" >>"$log" 2>&1; then
        { apt-get update -q && apt-get install -y -q "$@"; } >>"$log" 2>&1 \
            || { show_log "$log"; die "apt-get install $* failed"; }
    fi
    cleanup
    POLICY_RC_CREATED=0
}

ensure_packages() {  # ensure_packages NEED_PG NEED_RMQ
    local missing=()
    if [ "$1" = 1 ] && [ -z "$(find_pg_bin)" ]; then missing+=(postgresql); fi
    if [ "$2" = 1 ] && ! find_rmq_bin >/dev/null; then missing+=(rabbitmq-server); fi
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
    if [ "$1" = 1 ] && [ -z "$(find_pg_bin)" ]; then
        die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
    fi
    if [ "$2" = 1 ] && ! find_rmq_bin >/dev/null; then die "rabbitmq-server not found"; fi
    return 0
}

check_access() {  # check_access OSUSER DIR: OSUSER must be able to reach and write DIR
    local user=$1 dir=$2 cur="" part
    is_root || return 0
    if runuser -u "$user" -- test -x "$dir" -a -w "$dir" 2>/dev/null; then return 0; fi
    local IFS=/
    for part in ${dir#/}; do
        cur="$cur/$part"
        if ! runuser -u "$user" -- test -x "$cur" 2>/dev/null; then
            die "the '$user' OS user cannot enter $cur ($(stat -c '%A %U:%G' "$cur")), so it cannot reach $dir.
The servers run as '$user'. Fix: chmod o+x $cur (and any other closed parent dir), or clone the project somewhere world-traversable (e.g. /srv, /opt, /work)."
        fi
    done
    die "the '$user' OS user cannot write to $dir"
}

# ------------------------------------------------------------------------ PostgreSQL

PG_BIN="" PG_SUPER=""

pg_setup_vars() {
    if [ -s "$PG_DATA/PG_VERSION" ]; then
        local v; v=$(cat "$PG_DATA/PG_VERSION")
        [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ] \
            || die "$(rel "$PG_DATA") was created by PostgreSQL $v, which is not installed (remove $(rel "$PG_DIR") to re-create it with $(basename "$(dirname "$(find_pg_bin)")"))"
        PG_BIN="/usr/lib/postgresql/$v/bin"
    else
        PG_BIN=$(find_pg_bin)
    fi
    if is_root; then
        id postgres >/dev/null 2>&1 || die "OS user 'postgres' missing (is the postgresql package installed?)"
        PG_SUPER=postgres
    else
        PG_SUPER=$(id -un)
    fi
}

run_as_pg() {  # run a command as the owner of the data dir (cwd / so it is always accessible)
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

pg_running() {  # our .run cluster is up?
    [ -f "$PG_DATA/PG_VERSION" ] && [ -n "$PG_BIN" ] || return 1
    run_as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

pg_actual_port() {  # port of the running cluster (line 4 of postmaster.pid)
    local p; p=$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true)
    printf '%s\n' "${p:-$PG_PORT}"
}

pg_hba() {  # who may connect how: the data dir's owner through the socket as itself, every
    # role over TCP with its password; rewritten on every start, also for an older data dir
    cat >"$PG_DATA/pg_hba.conf" <<CONF
# Written by scripts/services.sh on every start: edit the script, not this file.
local   all   all                  peer
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
CONF
    if is_root; then chown postgres: "$PG_DATA/pg_hba.conf"; fi
}

pg_app_db_sql() {  # the psql script that makes role + database ecommerce, or brings them back
    # to this state (also scripts/pg_cluster.sh's, on its primary)
    cat <<SQL
SELECT format('CREATE ROLE %I', '$APP_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_USER')
\gexec
ALTER ROLE "$APP_USER" WITH LOGIN CREATEDB PASSWORD '$(secret postgres)';
SELECT format('CREATE DATABASE %I OWNER %I', '$APP_DB', '$APP_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$APP_DB')
\gexec
ALTER DATABASE "$APP_DB" OWNER TO "$APP_USER";
-- With OUTBOX_WAIT_FOR_STANDBY the outbox reads how far the standbys have come, which only
-- pg_read_all_stats shows of other roles' sessions (the WAL senders').
SELECT format('GRANT pg_read_all_stats TO %I', '$APP_USER')
 WHERE NOT pg_has_role('$APP_USER', 'pg_read_all_stats', 'MEMBER')
\gexec
SQL
}

pg_ensure_app_db() {  # idempotent: role + database ecommerce
    local port=$1
    run_as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$port" -U "$PG_SUPER" -d postgres \
        >>"$PG_LOG" 2>&1 <<SQL || { show_log "$PG_LOG"; die "postgres: could not create role/database $APP_DB"; }
ALTER ROLE "$PG_SUPER" PASSWORD '$(secret postgres-superuser)';
$(pg_app_db_sql)
SQL
}

pg_start() {
    [[ $PG_PORT =~ ^[0-9]+$ ]] || die "PGPORT_LOCAL must be a port number, got '$PG_PORT'"
    pg_setup_vars
    mkdir -p "$PG_DIR" "$LOG_DIR"
    if is_root; then
        chown postgres: "$PG_DIR"
        chmod 755 "$PG_DIR"
        check_access postgres "$PG_DIR"
    elif [ -e "$PG_DATA" ] && [ ! -O "$PG_DATA" ]; then
        die "$(rel "$PG_DATA") belongs to $(stat -c %U "$PG_DATA"), not $(id -un): run this script as root (or remove $(rel "$PG_DIR"))"
    fi
    local sock="$PG_DIR/.s.PGSQL.$PG_PORT"
    [ ${#sock} -le 100 ] || die "project path too long for a PostgreSQL unix socket ($sock is ${#sock} chars, max ~100): clone it to a shorter path"

    if pg_running; then
        local port; port=$(pg_actual_port)
        pg_hba
        run_as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" reload >>"$PG_LOG" 2>&1 \
            || { show_log "$PG_LOG"; die "postgres: could not reload its settings"; }
        pg_ensure_app_db "$port"
        say "postgres: already running on $PG_HOST:$port"
        return 0
    fi
    if tcp_open "$PG_HOST" "$PG_PORT"; then
        die "postgres: port $PG_PORT is already used by another server (system PostgreSQL? see 'pg_lsclusters', stop it with 'pg_ctlcluster <ver> main stop' or 'systemctl stop postgresql'), or set PGPORT_LOCAL / DATABASE_URL"
    fi

    touch "$PG_LOG"
    if is_root; then chown postgres: "$PG_LOG"; fi

    if [ ! -s "$PG_DATA/PG_VERSION" ]; then
        local locale=C
        if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
        rm -rf "$PG_DATA"
        run_as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPER" --auth-local=peer \
            --auth-host=scram-sha-256 --encoding=UTF8 \
            --locale="$locale" >>"$PG_LOG" 2>&1 || { show_log "$PG_LOG"; die "postgres: initdb failed"; }
        printf "\n# Settings of scripts/services.sh (rewritten on every start)\ninclude_if_exists = 'services.conf'\n" \
            >>"$PG_DATA/postgresql.conf"
    fi
    local qdir=${PG_DIR//\'/\'\'}
    cat >"$PG_DATA/services.conf" <<CONF
# Written by scripts/services.sh on every start: edit the script, not this file.
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$qdir'
max_connections = 200
shared_buffers = 256MB
CONF
    if is_root; then chown postgres: "$PG_DATA/services.conf"; fi
    pg_hba

    run_as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$PG_START_TIMEOUT" start >>"$PG_LOG" 2>&1 \
        || { show_log "$PG_LOG"; die "postgres: failed to start (log: $PG_LOG)"; }
    local deadline=$((SECONDS + PG_START_TIMEOUT))
    until "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPER" -d postgres -t 2; do
        [ $SECONDS -lt $deadline ] || { show_log "$PG_LOG"; die "postgres: not accepting connections on $PG_HOST:$PG_PORT"; }
        sleep 0.5
    done
    pg_ensure_app_db "$PG_PORT"
    say "postgres: started on $PG_HOST:$PG_PORT (data: $(rel "$PG_DATA"))"
}

pg_wait_url() {
    local scheme=${DATABASE_URL%%://*}
    case $scheme in
        postgres|postgresql|pgsql|postgis) ;;
        *) say "postgres: DATABASE_URL is a '$scheme' URL, not starting or waiting for PostgreSQL"; return 0 ;;
    esac
    parse_url "$DATABASE_URL" 5432
    local isready="" deadline=$((SECONDS + URL_WAIT_TIMEOUT)) rc
    if command -v pg_isready >/dev/null 2>&1 && pg_isready --version >/dev/null 2>&1; then
        isready=pg_isready
    elif [ -n "$(find_pg_bin)" ]; then
        isready="$(find_pg_bin)/pg_isready"
    fi
    while :; do
        if [ -n "$isready" ]; then
            rc=0; "$isready" -q -d "$DATABASE_URL" -t 2 >/dev/null 2>&1 || rc=$?
            [ $rc -eq 0 ] && break
            [ $rc -eq 3 ] && isready=""     # could not parse the URL: fall back to a TCP check
        elif tcp_open "$URL_HOST" "$URL_PORT"; then
            break
        fi
        [ $SECONDS -lt $deadline ] || die "postgres: DATABASE_URL server $URL_HOST:$URL_PORT not answering after ${URL_WAIT_TIMEOUT}s"
        sleep 1
    done
    say "postgres: using DATABASE_URL ($URL_HOST:$URL_PORT), accepting connections"
}

pg_stop() {
    pg_setup_vars 2>/dev/null || true
    if [ -n "$PG_BIN" ] && pg_running; then
        run_as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >>"$PG_LOG" 2>&1 \
            || { show_log "$PG_LOG"; die "postgres: failed to stop"; }
        say "postgres: stopped"
    elif [ -n "${DATABASE_URL:-}" ]; then
        say "postgres: using DATABASE_URL, nothing to stop"
    else
        say "postgres: not running"
    fi
}

pg_status() {
    if [ -z "$(find_pg_bin)" ] && [ ! -s "$PG_DATA/PG_VERSION" ]; then PG_BIN=""; else pg_setup_vars 2>/dev/null || PG_BIN=""; fi
    if [ -n "$PG_BIN" ] && pg_running; then
        local port; port=$(pg_actual_port)
        if "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$port" -U "$PG_SUPER" -d postgres -t 3; then
            say "postgres: running on $PG_HOST:$port (data: $(rel "$PG_DATA"))"
        else
            say "postgres: process running but not accepting connections on $PG_HOST:$port (log: $(rel "$PG_LOG"))"
            return 1
        fi
    elif [ -n "${DATABASE_URL:-}" ]; then
        parse_url "$DATABASE_URL" 5432
        if tcp_open "$URL_HOST" "$URL_PORT"; then
            say "postgres: using DATABASE_URL ($URL_HOST:$URL_PORT), reachable"
        else
            say "postgres: using DATABASE_URL ($URL_HOST:$URL_PORT), NOT reachable"
            return 1
        fi
    else
        say "postgres: not running"
        return 1
    fi
}

# -------------------------------------------------------------------------- RabbitMQ

RMQ_BIN=""

run_rmq() {  # run_rmq TOOL ARGS...: a rabbitmq CLI tool with our env, as the rabbitmq user when root
    local tool=$1; shift
    if is_root; then
        # runuser keeps the environment (RABBITMQ_*) and sets HOME to the rabbitmq user's home,
        # so the CLI uses the same ~/.erlang.cookie as the node (and as the system rabbitmqctl).
        (cd "$RMQ_DIR" && runuser -u rabbitmq -- "$(rmq_tool "$tool")" "$@")
    else
        (cd "$RMQ_DIR" && "$(rmq_tool "$tool")" "$@")
    fi
}
rmq_tool() {  # a RabbitMQ tool by name, or any other command as given
    case $1 in rabbitmq*) echo "$RMQ_BIN/$1" ;; *) echo "$1" ;; esac
}
rmqctl() { run_rmq rabbitmqctl -n "$RMQ_NODE" "$@"; }

rmq_setup_vars() {
    RMQ_BIN=$(find_rmq_bin) || return 1
    if is_root; then
        id rabbitmq >/dev/null 2>&1 || die "OS user 'rabbitmq' missing (is the rabbitmq-server package installed?)"
    fi
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
        export LANG=C.UTF-8 LC_ALL=C.UTF-8    # keeps the Elixir CLI from warning about latin1
    fi
}

rmq_node_up() { rmqctl -q -t 10 status >/dev/null 2>&1; }

rmq_our_pid() {  # pid of the node started from our .run (if its pid file points to a live process)
    local pid
    pid=$(cat "$RABBITMQ_PID_FILE" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

rmq_fail() {
    show_log "$RMQ_LOG" 15
    show_log "$RMQ_SERVER_LOG" 25
    die "rabbitmq: $*"
}

RMQ_WAS_RUNNING=0
rmq_launch() {  # first half of the start: launch the node in the background (if needed)
    rmq_setup_vars
    mkdir -p "$RMQ_DIR/mnesia" "$RMQ_DIR/log" "$LOG_DIR"
    if is_root; then
        chown -R rabbitmq: "$RMQ_DIR"
        check_access rabbitmq "$RMQ_DIR"
    fi
    : >>"$RMQ_LOG"
    if rmq_node_up; then
        [ -n "$(rmq_our_pid)" ] \
            || die "rabbitmq: a node named $RMQ_NODE is already running, but not from $RMQ_DIR (another clone? the system service?). Stop it first."
        RMQ_WAS_RUNNING=1
        return 0
    fi
    if tcp_open 127.0.0.1 "$RMQ_PORT"; then
        die "rabbitmq: port $RMQ_PORT is already used by another broker (system rabbitmq-server service? stop it with 'systemctl stop rabbitmq-server' or 'service rabbitmq-server stop'), or set CELERY_BROKER_URL"
    fi
    if ! grep -qs rabbitmq_management "$RABBITMQ_ENABLED_PLUGINS_FILE"; then
        run_rmq rabbitmq-plugins --offline enable rabbitmq_management >>"$RMQ_LOG" 2>&1 \
            || rmq_fail "could not enable the management plugin"
    fi
    rmq_config
    rm -f "$RABBITMQ_PID_FILE"
    printf '\n=== %s rabbitmq-server -detached\n' "$(date '+%F %T')" >>"$RMQ_LOG"
    # Each connection and each quorum queue holds file descriptors: the usual soft limit of 1024
    # runs out with a few vhosts of quorum queues, and new connections then hang. The node
    # raises it to the hard limit itself, since runuser starts it with the default one.
    run_rmq sh -c 'ulimit -n "$(ulimit -Hn)"; exec "$@"' rabbitmq-server "$RMQ_BIN/rabbitmq-server" \
        -detached >>"$RMQ_LOG" 2>&1 || rmq_fail "rabbitmq-server -detached failed"
}

# AMQP over TLS: a local CA made once, and a certificate it signs for 127.0.0.1 and localhost.
# The app trusts that CA with BROKER_TLS_CA_FILE=$RMQ_TLS_DIR/ca_certificate.pem.
RMQ_TLS_PORT=5671
RMQ_TLS_DIR="$RMQ_DIR/tls"
RMQ_TLS_RENEW_SECONDS=$((30 * 24 * 3600))   # a certificate this close to its end is made again

rmq_tls_valid() {  # rmq_tls_valid CERT KEY: both there, and the certificate not about to end
    [ -s "$1" ] && [ -s "$2" ] \
        && openssl x509 -noout -checkend "$RMQ_TLS_RENEW_SECONDS" -in "$1" >/dev/null 2>&1
}

rmq_tls() {  # once: the CA and the server's certificate; keys for the rabbitmq user only
    local dir=$RMQ_TLS_DIR
    command -v openssl >/dev/null 2>&1 || die "rabbitmq: openssl not found (apt-get install openssl)"
    mkdir -p "$dir"
    if ! rmq_tls_valid "$dir/ca_certificate.pem" "$dir/ca_key.pem"; then
        rm -f "$dir/ca_certificate.pem" "$dir/ca_key.pem" "$dir/server_certificate.pem" "$dir/server_key.pem"
        (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ecommerce local CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -keyout "$dir/ca_key.pem" -out "$dir/ca_certificate.pem") >>"$RMQ_LOG" 2>&1 \
            || rmq_fail "could not make the TLS CA in $(rel "$dir")"
        say "rabbitmq: made a TLS CA, $(rel "$dir/ca_certificate.pem")"
    fi
    if ! rmq_tls_valid "$dir/server_certificate.pem" "$dir/server_key.pem"; then
        printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
            "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >"$dir/server.ext"
        (umask 077 && openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout "$dir/server_key.pem" -out "$dir/server.csr" \
            && openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca_certificate.pem" \
                -CAkey "$dir/ca_key.pem" -set_serial "0x$(openssl rand -hex 16)" -days 825 \
                -extfile "$dir/server.ext" -out "$dir/server_certificate.pem") >>"$RMQ_LOG" 2>&1 \
            || rmq_fail "could not make the broker's TLS certificate in $(rel "$dir")"
        rm -f "$dir/server.csr" "$dir/server.ext"
    fi
    chmod 755 "$dir"
    chmod 644 "$dir/ca_certificate.pem" "$dir/server_certificate.pem"
    chmod 600 "$dir/ca_key.pem" "$dir/server_key.pem"
    if is_root; then chown -R rabbitmq: "$dir"; fi
}

rmq_config() {  # the node's config file: it listens on this machine only, in plain text and TLS
    rmq_tls
    cat >"$RABBITMQ_CONFIG_FILE" <<CONF
# Written by scripts/services.sh on every start.
listeners.tcp.default = 127.0.0.1:$RMQ_PORT
listeners.ssl.default = 127.0.0.1:$RMQ_TLS_PORT
ssl_options.cacertfile = $RMQ_TLS_DIR/ca_certificate.pem
ssl_options.certfile = $RMQ_TLS_DIR/server_certificate.pem
ssl_options.keyfile = $RMQ_TLS_DIR/server_key.pem
# A client certificate is optional; one that is sent must be signed by the CA.
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
management.tcp.ip = 127.0.0.1
management.tcp.port = $RMQ_MGMT_PORT
CONF
    if is_root; then chown rabbitmq: "$RABBITMQ_CONFIG_FILE"; fi
}

rmq_definitions() {  # vhosts, users and the administrator's permissions, as a definitions document
    local v u sep="" perms="" vhosts="" users
    for v in "${RMQ_VHOSTS[@]}"; do
        perms+="$sep{\"user\":\"$RMQ_ADMIN\",\"vhost\":\"$v\",\"configure\":\".*\",\"write\":\".*\",\"read\":\".*\"}"
        vhosts+="$sep{\"name\":\"$v\"}"
        sep=","
    done
    users="{\"name\":\"$RMQ_ADMIN\",\"password\":\"$(secret rabbitmq-admin)\",\"tags\":\"administrator\"}"
    for u in "${RMQ_USERS[@]}"; do
        users+=",{\"name\":\"$u\",\"password\":\"$(secret "broker-$u")\",\"tags\":\"\"}"
    done
    printf '{"users":[%s],"vhosts":[%s],"permissions":[%s]}\n' "$users" "$vhosts" "$perms"
}

rmq_ensure_objects() {  # idempotent: vhosts, users, the administrator's permissions; no guest
    local defs="$RMQ_DIR/definitions.json"
    (umask 077 && rmq_definitions >"$defs")
    if is_root; then chown rabbitmq: "$defs"; fi
    rmqctl -q import_definitions "$defs" >>"$RMQ_LOG" 2>&1 || rmq_fail "import_definitions failed"
    rm -f "$defs"
    local out
    out=$(rmqctl -q delete_user guest 2>&1) || [[ $out == *"does not exist"* ]] \
        || { echo "$out" >>"$RMQ_LOG"; rmq_fail "delete_user guest failed"; }
}

rmq_finish() {  # second half of the start: wait for the node, then create vhosts/user
    local deadline=$((SECONDS + RMQ_START_TIMEOUT)) pid_seen=0 pid
    until rmqctl -q await_startup --timeout 15 >>"$RMQ_LOG" 2>&1; do
        if [ -s "$RABBITMQ_PID_FILE" ]; then pid_seen=1; fi
        pid=$(rmq_our_pid || true)
        if [ $pid_seen = 1 ] && [ -z "$pid" ]; then rmq_fail "the node died while starting"; fi
        if [ $SECONDS -ge $deadline ]; then
            if grep -qi 'cookie' "$RMQ_LOG" 2>/dev/null; then
                rmq_fail "rabbitmqctl cannot talk to the node: Erlang cookie mismatch (~/.erlang.cookie of the user running rabbitmqctl vs. the node's)"
            fi
            rmq_fail "node $RMQ_NODE not up after ${RMQ_START_TIMEOUT}s"
        fi
        sleep 1
    done
    rmq_ensure_objects
    if [ "$RMQ_WAS_RUNNING" = 1 ]; then
        say "rabbitmq: already running ($RMQ_NODE, amqp :$RMQ_PORT, management http://127.0.0.1:$RMQ_MGMT_PORT)"
    else
        say "rabbitmq: started ($RMQ_NODE, amqp :$RMQ_PORT, management http://127.0.0.1:$RMQ_MGMT_PORT, vhosts: ${RMQ_VHOSTS[*]})"
    fi
}

rmq_wait_url() {
    local scheme=${CELERY_BROKER_URL%%://*} default=5672
    case $scheme in
        amqp|pyamqp|librabbitmq) ;;
        amqps) default=5671 ;;
        *) say "rabbitmq: CELERY_BROKER_URL is a '$scheme' URL, not starting or waiting for RabbitMQ"; return 0 ;;
    esac
    parse_url "$CELERY_BROKER_URL" "$default"
    local deadline=$((SECONDS + URL_WAIT_TIMEOUT))
    until tcp_open "$URL_HOST" "$URL_PORT"; do
        [ $SECONDS -lt $deadline ] || die "rabbitmq: CELERY_BROKER_URL broker $URL_HOST:$URL_PORT not answering after ${URL_WAIT_TIMEOUT}s"
        sleep 1
    done
    say "rabbitmq: using CELERY_BROKER_URL ($URL_HOST:$URL_PORT), port open"
}

rmq_stop() {
    if ! rmq_setup_vars 2>/dev/null; then
        say "rabbitmq: not installed, nothing to stop"
        return 0
    fi
    if [ -n "$(rmq_our_pid)" ] && rmq_node_up; then
        mkdir -p "$LOG_DIR"
        rmqctl stop "$RABBITMQ_PID_FILE" >>"$RMQ_LOG" 2>&1 || rmq_fail "failed to stop $RMQ_NODE"
        say "rabbitmq: stopped"
    elif [ -n "${CELERY_BROKER_URL:-}" ]; then
        say "rabbitmq: using CELERY_BROKER_URL, nothing to stop"
    else
        say "rabbitmq: not running (from $(rel "$RMQ_DIR"))"
    fi
}

rmq_status() {
    if rmq_setup_vars 2>/dev/null && [ -d "$RMQ_DIR" ] && [ -n "$(rmq_our_pid)" ] && rmq_node_up; then
        say "rabbitmq: running ($RMQ_NODE, amqp :$RMQ_PORT, management http://127.0.0.1:$RMQ_MGMT_PORT)"
    elif [ -n "${CELERY_BROKER_URL:-}" ]; then
        parse_url "$CELERY_BROKER_URL" 5672
        if tcp_open "$URL_HOST" "$URL_PORT"; then
            say "rabbitmq: using CELERY_BROKER_URL ($URL_HOST:$URL_PORT), reachable"
        else
            say "rabbitmq: using CELERY_BROKER_URL ($URL_HOST:$URL_PORT), NOT reachable"
            return 1
        fi
    else
        say "rabbitmq: not running"
        return 1
    fi
}

# ------------------------------------------------------------------- split layout

# shellcheck source=split_layout.sh
. "$SCRIPT_DIR/split_layout.sh"
SPLIT_SQL="$SCRIPT_DIR/split_databases.sql"

split_sql_variables() {  # split_sql_variables ACTION: the psql variables of split_databases.sql
    local app
    printf '%s\n' "action=$1" "identity_db=$SPLIT_IDENTITY_DATABASE" "identity_owner=$SPLIT_IDENTITY_OWNER"
    for app in "${SPLIT_APPS[@]}"; do
        printf '%s\n' "$app=$(split_role "$app")" "${app}_password=$(split_password "$app")"
    done
}

split_databases_apply() {  # split_databases_apply LABEL ACTION PSQL...: split_databases.sql through
    # that psql command, connected as a superuser to any database of the server (the local one,
    # or the primary of scripts/pg_cluster.sh); LABEL names the server in the messages
    local label=$1 action=$2 assignment arguments=() names; shift 2
    case $action in create|drop) ;; *) die "split-databases takes 'drop' or nothing, not '$action'" ;; esac
    names="$(split_role products), $(split_role inventory), $(split_role orders)"
    while IFS= read -r assignment; do arguments+=(-v "$assignment"); done < <(split_sql_variables "$action")
    "$@" "${arguments[@]}" <"$SPLIT_SQL" || die "$label: the split layout's SQL failed ($action)"
    if [ "$action" = drop ]; then
        say "$label: dropped the databases and roles $names"
    else
        say "$label: databases and roles $names, each reading the identity database $SPLIT_IDENTITY_DATABASE"
    fi
}

cmd_split_databases() {  # cmd_split_databases [drop]
    local action=${1:-create} assignment value
    case $action in create|drop) ;; *) die "split-databases takes 'drop' or nothing, not '$action'" ;; esac
    if [ -n "${DATABASE_URL:-}" ]; then
        # Not our server: its superuser is the operator's. Print a script they can run as is.
        warn "postgres: DATABASE_URL is set: not applying the split layout's SQL. As a superuser of that server, run what follows (psql -d postgres -f FILE):"
        while IFS= read -r assignment; do
            value=${assignment#*=}
            printf "\\set %s '%s'\n" "${assignment%%=*}" "${value//\'/\'\'}"
        done < <(split_sql_variables "$action")
        cat "$SPLIT_SQL"
        return 0
    fi
    pg_setup_vars
    pg_running || die "postgres: the local server is not running (scripts/services.sh start)"
    split_databases_apply postgres "$action" \
        run_as_pg "$PG_BIN/psql" -X -q -h "$PG_DIR" -p "$(pg_actual_port)" -U "$PG_SUPER" -d postgres
}

# ------------------------------------------------------------------------------ main

cmd_start() {
    local need_pg=1 need_rmq=1
    [ -z "${DATABASE_URL:-}" ] || need_pg=0
    [ -z "${CELERY_BROKER_URL:-}" ] || need_rmq=0
    mkdir -p "$LOG_DIR"
    ensure_packages "$need_pg" "$need_rmq"
    # RabbitMQ boots slowest: launch it first, set up PostgreSQL meanwhile, then wait for it.
    if [ $need_rmq = 1 ]; then rmq_launch; fi
    if [ $need_pg = 1 ]; then pg_start; else pg_wait_url; fi
    if [ $need_rmq = 1 ]; then rmq_finish; else rmq_wait_url; fi
}

cmd_stop() {
    rmq_stop
    pg_stop
}

cmd_status() {
    local rc=0
    pg_status || rc=1
    rmq_status || rc=1
    return $rc
}

# Sourced (by scripts/cluster.sh and scripts/pg_cluster.sh, for the package install and the
# helpers above), it stops here.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        split-databases) cmd_split_databases "${2:-create}" ;;
        *) echo "usage: $0 start|stop|status|split-databases [drop]" >&2; exit 2 ;;
    esac
fi
