#!/usr/bin/env bash
# Start / stop / inspect a three-node RabbitMQ cluster on this machine, from the same OS
# packages and in the same way as the single node of scripts/services.sh (data under .run/).
#
#   scripts/cluster.sh start     # idempotent; installs rabbitmq-server when root
#   scripts/cluster.sh status    # one line per node; exit 1 if one is down
#   scripts/cluster.sh stop      # nodes 2 and 3 leave the cluster and stop, then node 1 stops
#
# The first node of the default cluster is the node of scripts/services.sh (rabbit@localhost,
# data in .run/rabbitmq, AMQP 5672, management 15672): `make cluster` grows the node that
# `make up` uses into a cluster, nodes 2 and 3 join it with what it holds, and `make up`,
# `make test` and everything else keep working against it. `stop` shrinks it back: nodes 2 and
# 3 hand their quorum queue replicas over, leave and stop, and that node 1 runs on alone
# until `make down` (any other node 1 stops with the others).
#
# Environment (other values run a second cluster beside the first, as the tests do):
#   CLUSTER_NAME             node names NAME@localhost, NAME-2@localhost, NAME-3@localhost
#                            (default rabbit); data of nodes other than rabbit: .run/cluster/
#   CLUSTER_AMQP_PORT_BASE   AMQP port of node 1; nodes 2 and 3 take the next two (default 5672)
#   CLUSTER_MGMT_PORT_BASE   management HTTP port of node 1, likewise (default 15672)
#   CLUSTER_DIST_PORT_BASE   Erlang distribution port of node 1, likewise (default AMQP + 20000)
#
# Every node runs as the rabbitmq user when started as root (as you otherwise), so all of them
# share that user's ~/.erlang.cookie, which clustering requires.
set -euo pipefail

# shellcheck source=scripts/services.sh
source "$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)/services.sh"

NODE_COUNT=3
CLUSTER_NAME="${CLUSTER_NAME:-rabbit}"
AMQP_PORT_BASE="${CLUSTER_AMQP_PORT_BASE:-5672}"
MGMT_PORT_BASE="${CLUSTER_MGMT_PORT_BASE:-15672}"
DIST_PORT_BASE="${CLUSTER_DIST_PORT_BASE:-$((AMQP_PORT_BASE + 20000))}"
CLUSTER_LOG="$LOG_DIR/cluster-$CLUSTER_NAME.log"   # output of our rabbitmq CLI calls
NODE_START_TIMEOUT=90
JOIN_TIMEOUT=60

for value in "$AMQP_PORT_BASE" "$MGMT_PORT_BASE" "$DIST_PORT_BASE"; do
    [[ $value =~ ^[0-9]+$ ]] || die "cluster: port bases must be numbers, got '$value'"
done
[[ $CLUSTER_NAME =~ ^[A-Za-z0-9_-]+$ ]] || die "cluster: CLUSTER_NAME may hold letters, digits, - and _ only"

NAMES=() DIRS=() AMQP_PORTS=() MGMT_PORTS=() DIST_PORTS=()
for ((i = 1; i <= NODE_COUNT; i++)); do
    if [ "$i" = 1 ]; then short=$CLUSTER_NAME; else short="$CLUSTER_NAME-$i"; fi
    NAMES[i]="$short@localhost"
    # The node named rabbit is the one of services.sh: same name, same data directory.
    if [ "$short" = rabbit ]; then DIRS[i]="$RUN_DIR/rabbitmq"; else DIRS[i]="$RUN_DIR/cluster/$short"; fi
    AMQP_PORTS[i]=$((AMQP_PORT_BASE + i - 1))
    MGMT_PORTS[i]=$((MGMT_PORT_BASE + i - 1))
    DIST_PORTS[i]=$((DIST_PORT_BASE + i - 1))
done

# --------------------------------------------------------------------------- one node

run_on() {  # run_on I TOOL ARGS...: a rabbitmq CLI tool with node I's environment
    local i=$1 tool=$2; shift 2
    (
        export RABBITMQ_NODENAME="${NAMES[i]}"
        export RABBITMQ_NODE_PORT="${AMQP_PORTS[i]}"
        export RABBITMQ_DIST_PORT="${DIST_PORTS[i]}"
        export RABBITMQ_MNESIA_BASE="${DIRS[i]}/mnesia"
        export RABBITMQ_LOG_BASE="${DIRS[i]}/log"
        export RABBITMQ_ENABLED_PLUGINS_FILE="${DIRS[i]}/enabled_plugins"
        export RABBITMQ_PID_FILE="${DIRS[i]}/rabbit.pid"
        export RABBITMQ_CONFIG_FILE="${DIRS[i]}/rabbitmq.conf"
        cd "${DIRS[i]}"
        if is_root; then
            runuser -u rabbitmq -- "$RMQ_BIN/$tool" "$@"
        else
            "$RMQ_BIN/$tool" "$@"
        fi
    )
}
ctl() { local i=$1; shift; run_on "$i" rabbitmqctl -n "${NAMES[i]}" "$@"; }

node_up() { [ -d "${DIRS[$1]}" ] && ctl "$1" -q -t 10 status >/dev/null 2>&1; }

node_pid() {  # pid of node I if its pid file points to a live process
    local pid
    pid=$(cat "${DIRS[$1]}/rabbit.pid" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

cluster_fail() {
    show_log "$CLUSTER_LOG" 15
    if [ -n "${2:-}" ]; then show_log "${DIRS[$2]}/log/${NAMES[$2]}.log" 25; fi
    die "cluster: $1"
}

node_launch() {  # launch node I in the background unless it runs already
    local i=$1 dir=${DIRS[$1]} port
    mkdir -p "$dir/mnesia" "$dir/log"
    if is_root; then
        chown -R rabbitmq: "$dir"
        check_access rabbitmq "$dir"
    fi
    if node_up "$i"; then
        [ -n "$(node_pid "$i")" ] \
            || die "cluster: a node named ${NAMES[i]} is already running, but not from $(rel "$dir") (another clone? the system service?). Stop it, or set CLUSTER_NAME and the CLUSTER_*_PORT_BASE variables."
        return 0
    fi
    for port in "${AMQP_PORTS[i]}" "${MGMT_PORTS[i]}" "${DIST_PORTS[i]}"; do
        if tcp_open 127.0.0.1 "$port"; then
            die "cluster: port $port of ${NAMES[i]} is already in use; choose other ports with CLUSTER_AMQP_PORT_BASE, CLUSTER_MGMT_PORT_BASE, CLUSTER_DIST_PORT_BASE"
        fi
    done
    cat >"$dir/rabbitmq.conf" <<CONF
# Written by scripts/cluster.sh on every start: this machine only.
listeners.tcp.default = 127.0.0.1:${AMQP_PORTS[i]}
management.tcp.ip = 127.0.0.1
management.tcp.port = ${MGMT_PORTS[i]}
CONF
    printf '[rabbitmq_management].\n' >"$dir/enabled_plugins"
    if is_root; then chown rabbitmq: "$dir/rabbitmq.conf" "$dir/enabled_plugins"; fi
    rm -f "$dir/rabbit.pid"
    printf '\n=== %s rabbitmq-server -detached (%s)\n' "$(date '+%F %T')" "${NAMES[i]}" >>"$CLUSTER_LOG"
    run_on "$i" rabbitmq-server -detached >>"$CLUSTER_LOG" 2>&1 \
        || cluster_fail "rabbitmq-server -detached failed for ${NAMES[i]}" "$i"
}

node_await() {  # wait until node I has booted and its management port answers
    local i=$1 deadline=$((SECONDS + NODE_START_TIMEOUT)) relaunched=0
    until ctl "$i" -q await_startup --timeout 15 >>"$CLUSTER_LOG" 2>&1; do
        if [ -s "${DIRS[i]}/rabbit.pid" ] && [ -z "$(node_pid "$i")" ]; then
            # When a whole cluster starts again, a node can die comparing feature flags with a
            # peer that is still booting (RabbitMQ 3.10); a second launch finds it further on.
            [ $relaunched = 0 ] || cluster_fail "${NAMES[i]} died while starting" "$i"
            warn "cluster: ${NAMES[i]} died while starting; launching it once more"
            relaunched=1
            node_launch "$i"
            continue
        fi
        [ $SECONDS -lt $deadline ] || cluster_fail "${NAMES[i]} not up after ${NODE_START_TIMEOUT}s" "$i"
        sleep 1
    done
    until tcp_open 127.0.0.1 "${MGMT_PORTS[i]}"; do
        [ $SECONDS -lt $deadline ] || cluster_fail "management of ${NAMES[i]} not on :${MGMT_PORTS[i]} after ${NODE_START_TIMEOUT}s" "$i"
        sleep 0.5
    done
}

clustered_with_first() {  # does node I count node 1 among its cluster's nodes?
    local status
    status=$(ctl "$1" -q cluster_status --formatter json 2>>"$CLUSTER_LOG") || return 1
    [[ $status == *"\"${NAMES[1]}\""* ]]
}

node_join() {  # node I joins node 1's cluster, and takes replicas of its quorum queues
    local i=$1
    if clustered_with_first "$i"; then return 0; fi
    {
        ctl "$i" -q stop_app && ctl "$i" -q reset \
            && ctl "$i" -q join_cluster "${NAMES[1]}" && ctl "$i" -q start_app
    } >>"$CLUSTER_LOG" 2>&1 || cluster_fail "${NAMES[i]} could not join ${NAMES[1]}" "$i"
    ctl "$i" -q await_startup --timeout "$JOIN_TIMEOUT" >>"$CLUSTER_LOG" 2>&1 \
        || cluster_fail "${NAMES[i]} not back up after joining" "$i"
    # Queues declared before the join have no replica on the new node yet.
    run_on 1 rabbitmq-queues -n "${NAMES[1]}" -q grow "${NAMES[i]}" all --errors-only \
        >>"$CLUSTER_LOG" 2>&1 || cluster_fail "could not add quorum queue replicas on ${NAMES[i]}"
    say "cluster: ${NAMES[i]} joined ${NAMES[1]}"
}

node_leave() {  # node I hands its quorum queue replicas over, leaves the cluster and stops
    local i=$1
    {
        run_on "$i" rabbitmq-queues -n "${NAMES[i]}" -q shrink "${NAMES[i]}" --errors-only \
            && ctl "$i" -q stop_app && ctl "$i" -q reset
    } >>"$CLUSTER_LOG" 2>&1 || cluster_fail "${NAMES[i]} could not leave the cluster" "$i"
}

node_stop() {
    local i=$1
    ctl "$i" -q stop "${DIRS[i]}/rabbit.pid" >>"$CLUSTER_LOG" 2>&1 \
        || cluster_fail "failed to stop ${NAMES[i]}" "$i"
    say "cluster: ${NAMES[i]} stopped"
}

# --------------------------------------------------------------------------- the cluster

broker_urls() {  # broker_urls VHOST: the failover list for CELERY_BROKER_URL, as make up's user
    local i sep="" urls="" password
    password=$(secret broker-ecommerce)
    for ((i = 1; i <= NODE_COUNT; i++)); do
        urls+="${sep}amqp://ecommerce:$password@127.0.0.1:${AMQP_PORTS[i]}/$1"
        sep=";"
    done
    printf '%s\n' "$urls"
}

ensure_objects() {  # idempotent: vhosts, users, the administrator's permissions; no guest
    local defs="${DIRS[1]}/definitions.json" out
    (umask 077 && rmq_definitions >"$defs")
    if is_root; then chown rabbitmq: "$defs"; fi
    ctl 1 -q import_definitions "$defs" >>"$CLUSTER_LOG" 2>&1 \
        || cluster_fail "could not create the vhosts and the users on ${NAMES[1]}"
    rm -f "$defs"
    out=$(ctl 1 -q delete_user guest 2>&1) || [[ $out == *"does not exist"* ]] \
        || { echo "$out" >>"$CLUSTER_LOG"; cluster_fail "could not delete the guest user"; }
}

cmd_start() {
    mkdir -p "$LOG_DIR"
    : >>"$CLUSTER_LOG"
    ensure_packages 0 1
    rmq_setup_vars
    local i
    for ((i = 1; i <= NODE_COUNT; i++)); do node_launch "$i"; done
    for ((i = 1; i <= NODE_COUNT; i++)); do node_await "$i"; done
    for ((i = 2; i <= NODE_COUNT; i++)); do node_join "$i"; done
    ensure_objects
    for ((i = 1; i <= NODE_COUNT; i++)); do
        say "cluster: ${NAMES[i]} running (amqp :${AMQP_PORTS[i]}, management http://127.0.0.1:${MGMT_PORTS[i]})"
    done
    say "cluster: broker URL list (CELERY_BROKER_URL), vhosts: ${RMQ_VHOSTS[*]}"
    say "  $(broker_urls "${RMQ_VHOSTS[0]}")"
}

cmd_stop() {
    if ! rmq_setup_vars 2>/dev/null; then
        say "cluster: rabbitmq-server not installed, nothing to stop"
        return 0
    fi
    mkdir -p "$LOG_DIR"
    local i first_up=0 stopped_others=0
    if node_up 1; then first_up=1; fi
    for ((i = NODE_COUNT; i >= 2; i--)); do
        [ -d "${DIRS[i]}" ] || continue   # never started here
        if [ -n "$(node_pid "$i")" ] && node_up "$i"; then
            if [ $first_up = 1 ] && clustered_with_first "$i"; then node_leave "$i"; fi
            node_stop "$i"
            stopped_others=1
        else
            if [ $first_up = 1 ]; then
                # Down, perhaps killed: node 1 forgets it (and drops its quorum queue replicas).
                ctl 1 -q forget_cluster_node "${NAMES[i]}" >>"$CLUSTER_LOG" 2>&1 || true
            fi
            say "cluster: ${NAMES[i]} not running"
        fi
    done
    if [ "${DIRS[1]}" = "$RMQ_DIR" ]; then
        # The node of services.sh runs on alone, as before `make cluster`, until `make down`.
        if [ $first_up = 1 ] && [ $stopped_others = 1 ]; then
            say "cluster: ${NAMES[1]} runs on alone (make down stops it)"
        fi
    elif [ -n "$(node_pid 1)" ] && [ $first_up = 1 ]; then
        node_stop 1
    else
        say "cluster: ${NAMES[1]} not running (from $(rel "${DIRS[1]}"))"
    fi
}

cmd_status() {
    local i rc=0
    rmq_setup_vars 2>/dev/null || { say "cluster: rabbitmq-server not installed"; return 1; }
    for ((i = 1; i <= NODE_COUNT; i++)); do
        if [ -n "$(node_pid "$i")" ] && node_up "$i"; then
            if [ "$i" = 1 ] || clustered_with_first "$i"; then
                say "cluster: ${NAMES[i]} running (amqp :${AMQP_PORTS[i]}, management http://127.0.0.1:${MGMT_PORTS[i]})"
            else
                say "cluster: ${NAMES[i]} running, but not clustered with ${NAMES[1]} (run: $0 start)"
                rc=1
            fi
        else
            say "cluster: ${NAMES[i]} not running"
            rc=1
        fi
    done
    if [ $rc = 0 ]; then say "cluster: broker URL list: $(broker_urls "${RMQ_VHOSTS[0]}")"; fi
    return $rc
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
