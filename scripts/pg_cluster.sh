#!/usr/bin/env bash
# Start / stop / inspect a PostgreSQL cluster with automatic failover on this machine: three
# members run by Patroni, one primary and two streaming standbys, with a one-member etcd as
# the store they elect their leader in. Data under .run/pg-cluster/<name>/ (git-ignored), from
# the OS packages (patroni, etcd-server, etcd-client, postgresql), as scripts/services.sh does.
#
#   scripts/pg_cluster.sh start      # idempotent; installs missing packages when root; waits for
#                                    # a primary, two streaming standbys (one synchronous in
#                                    # synchronous mode), role and database ecommerce; prints the URL
#   scripts/pg_cluster.sh status     # one line per member; exit 1 if one is down
#   scripts/pg_cluster.sh stop       # the Patronis (each stops its postgres), then etcd
#   scripts/pg_cluster.sh url        # the app's multi-host DATABASE_URL while the cluster runs;
#                                    # nothing and exit 1 otherwise (quick: the Makefile asks it)
#   scripts/pg_cluster.sh superuser-url
#                                    # the same as the postgres superuser, for tools and tests
#   scripts/pg_cluster.sh mode synchronous|asynchronous
#                                    # Patroni's synchronous_mode, and wait until it holds
#   scripts/pg_cluster.sh split-databases [drop]
#                                    # the split layout's databases and roles on the primary
#                                    # (scripts/split_databases.sql, as scripts/services.sh does)
#
# Environment (other values run a second cluster beside the first, as the tests do):
#   PG_CLUSTER_NAME            Patroni's scope and the data directory's name (default ecommerce)
#   PG_CLUSTER_PORT_BASE       PostgreSQL port of member1; member2 and member3 take the next two
#                              (default 5433)
#   PG_CLUSTER_REST_PORT_BASE  Patroni REST API port of member1, likewise (default 8008)
#   PG_CLUSTER_ETCD_PORT       etcd's client port; its peer port is the next one (default 2379)
#   PG_CLUSTER_SYNCHRONOUS     true (default) or false: Patroni's synchronous_mode, given at the
#                              cluster's creation and set again by every start
#
# Everything listens on 127.0.0.1 only. As root, etcd and the members run as the postgres user.
# Roles: ecommerce (scripts/secret.sh postgres, owns the database ecommerce, member of
# pg_read_all_stats to read the standbys' positions), the superuser postgres (postgres-superuser),
# replicator for the standbys (postgres-replication); Patroni's REST API takes the user patroni
# (patroni-rest) for what changes the cluster.
# Logs: .run/log/pg-cluster-<name>-member<i>.log, -etcd.log, and .run/log/pg-cluster-<name>.log
# (our own psql and patronictl calls).
set -euo pipefail

# shellcheck source=scripts/services.sh
source "$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)/services.sh"

MEMBER_COUNT=3
CLUSTER_NAME="${PG_CLUSTER_NAME:-ecommerce}"
PORT_BASE="${PG_CLUSTER_PORT_BASE:-5433}"
REST_PORT_BASE="${PG_CLUSTER_REST_PORT_BASE:-8008}"
ETCD_PORT="${PG_CLUSTER_ETCD_PORT:-2379}"
SYNCHRONOUS="${PG_CLUSTER_SYNCHRONOUS:-true}"

for value in "$PORT_BASE" "$REST_PORT_BASE" "$ETCD_PORT"; do
    [[ $value =~ ^[0-9]+$ ]] || die "pg-cluster: ports must be numbers, got '$value'"
done
[[ $CLUSTER_NAME =~ ^[A-Za-z0-9_-]+$ ]] || die "pg-cluster: PG_CLUSTER_NAME may hold letters, digits, - and _ only"
case ${SYNCHRONOUS,,} in
    true|on|yes|1) SYNCHRONOUS=true ;;
    false|off|no|0) SYNCHRONOUS=false ;;
    *) die "pg-cluster: PG_CLUSTER_SYNCHRONOUS is true or false, not '$SYNCHRONOUS'" ;;
esac
ETCD_PEER_PORT=$((ETCD_PORT + 1))

LABEL="pg-cluster $CLUSTER_NAME"
CLUSTER_DIR="$RUN_DIR/pg-cluster/$CLUSTER_NAME"
CLUSTER_LOG="$LOG_DIR/pg-cluster-$CLUSTER_NAME.log"
ETCD_DIR="$CLUSTER_DIR/etcd"
ETCD_PID="$CLUSTER_DIR/etcd.pid"
ETCD_LOG="$LOG_DIR/pg-cluster-$CLUSTER_NAME-etcd.log"
START_TIMEOUT=180       # a first start makes a database and copies it twice
STOP_TIMEOUT=60
ETCD_START_TIMEOUT=30

# The Debian packages' programs, by their full paths: the environment's PATH as root may lead
# to a Python of root's own, which the postgres user cannot run.
PATRONI=/usr/bin/patroni
PATRONICTL=/usr/bin/patronictl
ETCD=/usr/bin/etcd
ETCDCTL=/usr/bin/etcdctl

SUPERUSER=postgres
REPLICATION_USER=replicator
REST_USER=patroni

MEMBERS=() DIRS=() DATA=() CONFIGS=() PIDS=() LOGS=() PORTS=() REST_PORTS=()
for ((i = 1; i <= MEMBER_COUNT; i++)); do
    MEMBERS[i]="member$i"
    DIRS[i]="$CLUSTER_DIR/member$i"     # also the member's unix socket directory
    DATA[i]="${DIRS[i]}/data"
    CONFIGS[i]="${DIRS[i]}/patroni.yml"
    PIDS[i]="${DIRS[i]}/patroni.pid"
    LOGS[i]="$LOG_DIR/pg-cluster-$CLUSTER_NAME-member$i.log"
    PORTS[i]=$((PORT_BASE + i - 1))
    REST_PORTS[i]=$((REST_PORT_BASE + i - 1))
done

# ---------------------------------------------------------------------------- helpers

live_pid() {  # live_pid PIDFILE WORD: the pid in PIDFILE if that process lives and its command
    # line holds WORD (a config file or data dir of ours: a pid the system gave to another
    # process since does not count)
    local pid
    pid=$(cat "$1" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] && grep -qsF -- "$2" "/proc/$pid/cmdline" && printf '%s\n' "$pid"
}
patroni_pid() { live_pid "${PIDS[$1]}" "${CONFIGS[$1]}"; }
postmaster_pid() { head -n 1 "${DATA[$1]}/postmaster.pid" 2>/dev/null | live_pid /dev/stdin "${DATA[$1]}"; }
etcd_pid() { live_pid "$ETCD_PID" "$ETCD_DIR"; }

launch() {  # launch PIDFILE LOG COMMAND...: in the background, in a session of its own (a Ctrl-C
    # of the caller's terminal does not reach it), as the postgres user when root; the command
    # itself writes its pid, so that the file names it and not runuser
    local pidfile=$1 log=$2; shift 2
    rm -f "$pidfile"
    printf '\n=== %s %s\n' "$(date '+%F %T')" "$*" >>"$log"
    # shellcheck disable=SC2016
    run_as_pg setsid sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$log" 2>&1 </dev/null &
}

await_pid() {  # await_pid WHAT LOG FUNCTION ARG: until FUNCTION ARG finds the launched process
    local deadline=$((SECONDS + 10))
    until [ -n "$("$3" "${4:-}")" ]; do
        [ $SECONDS -lt $deadline ] || { show_log "$2"; die "$LABEL: $1 did not start"; }
        sleep 0.2
    done
}

end_processes() {  # end_processes WHAT PID...: SIGTERM, wait for them, and SIGKILL the stragglers
    local what=$1 pid deadline=$((SECONDS + STOP_TIMEOUT)) left; shift
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    while :; do
        left=()
        for pid in "$@"; do if [ -d "/proc/$pid" ]; then left+=("$pid"); fi; done
        [ ${#left[@]} -gt 0 ] || return 0
        if [ $SECONDS -ge $deadline ]; then
            warn "$LABEL: $what still running after ${STOP_TIMEOUT}s: kill -9 ${left[*]}"
            kill -KILL "${left[@]}" 2>/dev/null || true
            return 0
        fi
        sleep 0.2
    done
}

yaml_quote() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }

pg_bin_setup() {  # PG_BIN: the version the members' data was made with, else the newest
    local i v
    for ((i = 1; i <= MEMBER_COUNT; i++)); do
        [ -s "${DATA[i]}/PG_VERSION" ] || continue
        v=$(cat "${DATA[i]}/PG_VERSION")
        [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ] \
            || die "$LABEL: $(rel "${DATA[i]}") was made by PostgreSQL $v, which is not installed (remove $(rel "$CLUSTER_DIR") to make the cluster again)"
        PG_BIN="/usr/lib/postgresql/$v/bin"
        return 0
    done
    PG_BIN=$(find_pg_bin) || true
}

postmaster_running() {  # a postgres runs in member I's data dir, with or without its Patroni
    [ -n "$PG_BIN" ] && [ -f "${DATA[$1]}/PG_VERSION" ] || return 1
    run_as_pg "$PG_BIN/pg_ctl" -D "${DATA[$1]}" status >/dev/null 2>&1
}

# Patroni's view, from the first member whose REST API answers. `members`: one line per member,
# "name role state port lag streaming"; streaming is yes or no as the leader's
# pg_stat_replication shows it (GET /patroni of the leader), - for the leader. `quick`: the same
# from GET /cluster alone, streaming always -. `config KEY`: a value of the dynamic configuration.
REST_PY='
import json, sys, urllib.request

def get(url):
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.load(answer)

what, ports = sys.argv[1], sys.argv[2:]
if what == "config":
    key, ports = ports[0], ports[1:]
for port in ports:
    try:
        if what == "config":
            value = get(f"http://127.0.0.1:{port}/config").get(key)
            print(json.dumps(value))
            sys.exit(0)
        members = get(f"http://127.0.0.1:{port}/cluster")["members"]
        break
    except (OSError, ValueError, KeyError):
        continue
else:
    sys.exit(1)
streaming = None
leader = next((m for m in members if m["role"] == "leader"), None)
if what == "members" and leader:
    try:
        status = get(leader["api_url"])
        streaming = {r.get("application_name") for r in status.get("replication", [])
                     if r.get("state") == "streaming"}
    except (OSError, ValueError, KeyError):
        streaming = set()
for m in members:
    flag = "-" if streaming is None or m is leader else ("yes" if m["name"] in streaming else "no")
    state = (m.get("state") or "-").replace(" ", "_")
    print(m["name"], m["role"], state, m.get("port", "-"), m.get("lag", "-"), flag)
'
rest() { python3 -c "$REST_PY" "$@" "${REST_PORTS[@]}"; }

LEADER_PORT=""
cluster_ready() {  # cluster_ready SYNC: a running leader, every other member running and
    # streaming from it, and a synchronous standby when SYNC is true, none when false (any:
    # either); sets LEADER_PORT
    local want=$1 lines name role state port lag streaming leaders=0 standbys=0 sync=0
    lines=$(rest members 2>/dev/null) || return 1
    LEADER_PORT=""
    while read -r name role state port lag streaming; do
        # Patroni 3.0.4 and later call a standby that streams "streaming".
        case $state in running|streaming) ;; *) return 1 ;; esac
        case $role in
            leader) leaders=$((leaders + 1)); LEADER_PORT=$port ;;
            sync_standby|replica)
                [ "$streaming" = yes ] || return 1
                standbys=$((standbys + 1))
                if [ "$role" = sync_standby ]; then sync=1; fi ;;
            *) return 1 ;;
        esac
    done <<<"$lines"
    [ $leaders = 1 ] && [ $standbys = $((MEMBER_COUNT - 1)) ] || return 1
    case $want in
        true) [ $sync = 1 ] ;;
        false) [ $sync = 0 ] ;;
    esac
}

superuser_psql() {  # superuser_psql PORT ARGS...: psql on a member as the superuser, over TCP
    PGPASSWORD=$(secret postgres-superuser) PGCONNECT_TIMEOUT=3 \
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U "$SUPERUSER" "${@:2}"
}

leader_writable() {  # the leader takes writes (not in recovery, and its postgres answers)
    [ -n "$LEADER_PORT" ] \
        && [ "$(superuser_psql "$LEADER_PORT" -d postgres -tA -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]
}

mode_holds() {  # mode_holds SYNC: a running leader, and a synchronous standby when SYNC is true,
    # none when false (whatever the other members do)
    local lines
    lines=$(rest quick 2>/dev/null) || return 1
    grep -q '^[^ ]* leader running ' <<<"$lines" || return 1
    if grep -Eq '^[^ ]* sync_standby (running|streaming) ' <<<"$lines"; then [ "$1" = true ]; else [ "$1" = false ]; fi
}

cluster_fail() {
    local i
    show_log "$ETCD_LOG" 10
    for ((i = 1; i <= MEMBER_COUNT; i++)); do show_log "${LOGS[i]}" 15; done
    warn "$LABEL: what Patroni says (name role state port lag streaming):"
    rest members >&2 2>/dev/null || warn "  (no member's REST API answers)"
    die "$LABEL: $1"
}

wait_ready() {  # wait_ready SYNC WHAT: until cluster_ready SYNC and the leader takes writes
    local deadline=$((SECONDS + START_TIMEOUT))
    until cluster_ready "$1" && leader_writable; do
        [ $SECONDS -lt $deadline ] || cluster_fail "no $2 after ${START_TIMEOUT}s"
        sleep 0.5
    done
}

cluster_url() {  # cluster_url USER PASSWORD DATABASE: every member; libpq picks the primary
    local i servers="" sep=""
    for ((i = 1; i <= MEMBER_COUNT; i++)); do servers+="${sep}127.0.0.1:${PORTS[i]}"; sep=","; done
    printf 'postgres://%s:%s@%s/%s?target_session_attrs=read-write&connect_timeout=3\n' "$1" "$2" "$servers" "$3"
}

running_quick() {  # etcd and a Patroni alive, and a running leader in Patroni's view
    local i alive=0
    [ -n "$(etcd_pid)" ] || return 1
    for ((i = 1; i <= MEMBER_COUNT; i++)); do
        if [ -n "$(patroni_pid "$i")" ]; then alive=1; break; fi
    done
    [ $alive = 1 ] && rest quick 2>/dev/null | grep -q '^[^ ]* leader running '
}

# ------------------------------------------------------------------------ start

ensure_cluster_packages() {
    local missing=()
    [ -x "$PATRONI" ] && [ -x "$PATRONICTL" ] || missing+=(patroni)
    [ -x "$ETCD" ] || missing+=(etcd-server)
    [ -x "$ETCDCTL" ] || missing+=(etcd-client)
    [ -n "$(find_pg_bin)" ] || missing+=(postgresql)
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
    if [ ! -x "$PATRONI" ] || [ ! -x "$ETCD" ] || [ ! -x "$ETCDCTL" ]; then
        die "$LABEL: patroni and etcd not found at $PATRONI, $ETCD, $ETCDCTL"
    fi
    [ -n "$(find_pg_bin)" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
}

prepare_dirs() {
    local i sock dir
    mkdir -p "$CLUSTER_DIR" "$LOG_DIR"
    for ((i = 1; i <= MEMBER_COUNT; i++)); do
        sock="${DIRS[i]}/.s.PGSQL.${PORTS[i]}"
        [ ${#sock} -le 100 ] || die "$LABEL: path too long for a PostgreSQL unix socket ($sock is ${#sock} chars, max ~100): clone the project to a shorter path, or choose a shorter PG_CLUSTER_NAME"
        mkdir -p "${DIRS[i]}"
    done
    mkdir -p "$ETCD_DIR"
    # etcd wants its data for its own user alone.
    chmod 700 "$ETCD_DIR"
    touch "$CLUSTER_LOG"
    if is_root; then
        for dir in "$CLUSTER_DIR" "${DIRS[@]}" "$ETCD_DIR"; do chown postgres: "$dir"; done
        chmod 755 "$CLUSTER_DIR" "${DIRS[@]}"
        check_access postgres "$CLUSTER_DIR"
    elif [ ! -O "$CLUSTER_DIR" ]; then
        die "$(rel "$CLUSTER_DIR") belongs to $(stat -c %U "$CLUSTER_DIR"), not $(id -un): run this script as root (or remove it)"
    fi
}

etcd_start() {
    if [ -n "$(etcd_pid)" ]; then return 0; fi
    local port
    for port in "$ETCD_PORT" "$ETCD_PEER_PORT"; do
        if tcp_open 127.0.0.1 "$port"; then
            die "$LABEL: etcd's port $port is already in use (the system's etcd service? another cluster?): choose another with PG_CLUSTER_ETCD_PORT"
        fi
    done
    # Every member writes its key each loop_wait, and etcd keeps each revision until it is
    # compacted: an hour of them is plenty.
    launch "$ETCD_PID" "$ETCD_LOG" "$ETCD" --name "$CLUSTER_NAME" --data-dir "$ETCD_DIR" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "$CLUSTER_NAME=http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster-token "pg-cluster-$CLUSTER_NAME" --initial-cluster-state new \
        --auto-compaction-mode periodic --auto-compaction-retention 1h --logger zap
    await_pid etcd "$ETCD_LOG" etcd_pid
    local deadline=$((SECONDS + ETCD_START_TIMEOUT))
    until ETCDCTL_API=3 "$ETCDCTL" --endpoints "http://127.0.0.1:$ETCD_PORT" --dial-timeout 2s \
            endpoint health >/dev/null 2>&1; do
        [ -n "$(etcd_pid)" ] || { show_log "$ETCD_LOG"; die "$LABEL: etcd died while starting"; }
        [ $SECONDS -lt $deadline ] || { show_log "$ETCD_LOG"; die "$LABEL: etcd not healthy after ${ETCD_START_TIMEOUT}s"; }
        sleep 0.3
    done
    say "$LABEL: etcd started on 127.0.0.1:$ETCD_PORT"
}

member_config() {  # member I's Patroni configuration, written on every start
    local i=$1 locale=C
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
    cat <<YAML
# Written by scripts/pg_cluster.sh on every start: edit the script, not this file.
scope: $(yaml_quote "$CLUSTER_NAME")
name: ${MEMBERS[i]}
restapi:
  listen: 127.0.0.1:${REST_PORTS[i]}
  connect_address: 127.0.0.1:${REST_PORTS[i]}
  # Reading is open; changing the cluster (PATCH /config, restarts, switchovers) takes these.
  authentication:
    username: $REST_USER
    password: $(yaml_quote "$(secret patroni-rest)")
etcd3:
  hosts: 127.0.0.1:$ETCD_PORT
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
    synchronous_mode: $SYNCHRONOUS
    # Strict: with no synchronous standby, commits wait rather than go on unreplicated; and a
    # Patroni started again beside a primary it had lost writes '*' (any standby) rather than
    # nothing before it demotes it, which would release the commits waiting there.
    synchronous_mode_strict: $SYNCHRONOUS
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
        shared_buffers: 128MB
        password_encryption: scram-sha-256
  initdb:
  - encoding: UTF8
  - locale: $locale
  - data-checksums
postgresql:
  listen: 127.0.0.1:${PORTS[i]}
  connect_address: 127.0.0.1:${PORTS[i]}
  data_dir: $(yaml_quote "${DATA[i]}")
  bin_dir: $(yaml_quote "$PG_BIN")
  pgpass: $(yaml_quote "${DIRS[i]}/pgpass")
  authentication:
    superuser:
      username: $SUPERUSER
      password: $(yaml_quote "$(secret postgres-superuser)")
    replication:
      username: $REPLICATION_USER
      password: $(yaml_quote "$(secret postgres-replication)")
  parameters:
    unix_socket_directories: $(yaml_quote "${DIRS[i]}")
  # The data dir's owner through the socket as itself; everyone else over TCP with a password.
  pg_hba:
  - local all all peer
  - host replication $REPLICATION_USER 127.0.0.1/32 scram-sha-256
  - host all all 127.0.0.1/32 scram-sha-256
# No hardware watchdog on a development machine.
watchdog:
  mode: 'off'
YAML
}

write_config() {  # write_config I: true if the file changed (a running Patroni then reloads it)
    local i=$1 file=${CONFIGS[$1]} new="${CONFIGS[$1]}.new"
    (umask 077 && member_config "$i" >"$new")
    if is_root; then chown postgres: "$new"; fi
    if cmp -s "$new" "$file"; then rm -f "$new"; return 1; fi
    mv "$new" "$file"
}

member_start() {  # member I's Patroni, unless it runs; a postgres it left behind is taken over
    local i=$1 port pid changed=0
    if write_config "$i"; then changed=1; fi
    pid=$(patroni_pid "$i" || true)
    if [ -n "$pid" ]; then
        if [ $changed = 1 ]; then kill -HUP "$pid"; fi
        return 0
    fi
    if ! postmaster_running "$i"; then
        if tcp_open 127.0.0.1 "${PORTS[i]}"; then
            die "$LABEL: port ${PORTS[i]} of ${MEMBERS[i]} is already in use: choose other ports with PG_CLUSTER_PORT_BASE"
        fi
    fi
    if tcp_open 127.0.0.1 "${REST_PORTS[i]}"; then
        die "$LABEL: REST port ${REST_PORTS[i]} of ${MEMBERS[i]} is already in use: choose other ports with PG_CLUSTER_REST_PORT_BASE"
    fi
    launch "${PIDS[i]}" "${LOGS[i]}" "$PATRONI" "${CONFIGS[i]}"
    await_pid "Patroni of ${MEMBERS[i]}" "${LOGS[i]}" patroni_pid "$i"
    say "$LABEL: ${MEMBERS[i]} started (postgres 127.0.0.1:${PORTS[i]}, REST http://127.0.0.1:${REST_PORTS[i]})"
}

set_mode() {  # set_mode true|false: Patroni's synchronous_mode (strict), if it is not that already
    local current strict
    current=$(rest config synchronous_mode 2>/dev/null) || cluster_fail "no member's REST API answers"
    strict=$(rest config synchronous_mode_strict 2>/dev/null) || strict=null
    [ "$current" = "$1" ] && [ "$strict" = "$1" ] && return 0
    "$PATRONICTL" -c "${CONFIGS[1]}" edit-config --force --set "synchronous_mode=$1" \
        --set "synchronous_mode_strict=$1" \
        >>"$CLUSTER_LOG" 2>&1 || { show_log "$CLUSTER_LOG"; die "$LABEL: patronictl edit-config failed"; }
}

mode_words() { if [ "$1" = true ]; then echo "synchronous"; else echo "asynchronous"; fi; }

ensure_app_db() {  # idempotent, on the leader: role and database ecommerce
    pg_app_db_sql | superuser_psql "$LEADER_PORT" -d postgres >>"$CLUSTER_LOG" 2>&1 \
        || { show_log "$CLUSTER_LOG"; die "$LABEL: could not create role/database $APP_DB"; }
}

cmd_start() {
    mkdir -p "$LOG_DIR"
    ensure_cluster_packages
    pg_bin_setup
    if is_root; then id postgres >/dev/null 2>&1 || die "OS user 'postgres' missing (is the postgresql package installed?)"; fi
    prepare_dirs
    etcd_start
    local i
    for ((i = 1; i <= MEMBER_COUNT; i++)); do member_start "$i"; done
    wait_ready any "leader with two streaming standbys"
    set_mode "$SYNCHRONOUS"
    wait_ready "$SYNCHRONOUS" "$(mode_words "$SYNCHRONOUS") cluster"
    ensure_app_db
    cmd_status || true
    say "$LABEL: make up uses it while it runs; its DATABASE_URL (scripts/pg_cluster.sh url prints it whole):"
    say "  $(cluster_url "$APP_USER" '<password>' "$APP_DB")"
}

# ------------------------------------------------------------------------ the rest

cmd_stop() {
    if [ ! -d "$CLUSTER_DIR" ]; then
        say "$LABEL: not running (nothing in $(rel "$CLUSTER_DIR"))"
        return 0
    fi
    pg_bin_setup
    local i pid leader="" name role standbys=() leaders=() stopped=0
    # The standbys go first: a leader that went first would hand its place to one of them.
    while read -r name role _; do
        if [ "$role" = leader ]; then leader=$name; fi
    done < <(rest quick 2>/dev/null || true)
    for ((i = 1; i <= MEMBER_COUNT; i++)); do
        pid=$(patroni_pid "$i" || true)
        [ -n "$pid" ] || continue
        if [ "${MEMBERS[i]}" = "$leader" ]; then leaders+=("$pid"); else standbys+=("$pid"); fi
        stopped=1
    done
    end_processes "the standbys' Patroni" "${standbys[@]}"
    end_processes "the leader's Patroni" "${leaders[@]}"
    for ((i = 1; i <= MEMBER_COUNT; i++)); do
        # A postgres whose Patroni was killed runs on alone.
        if postmaster_running "$i"; then
            run_as_pg "$PG_BIN/pg_ctl" -D "${DATA[i]}" -m immediate -w -t "$STOP_TIMEOUT" stop \
                >>"${LOGS[i]}" 2>&1 || { show_log "${LOGS[i]}"; die "$LABEL: could not stop the postgres of ${MEMBERS[i]}"; }
            say "$LABEL: stopped the postgres ${MEMBERS[i]}'s Patroni had left running"
        fi
        rm -f "${PIDS[i]}"
    done
    if [ $stopped = 1 ]; then say "$LABEL: members stopped"; fi
    pid=$(etcd_pid || true)
    if [ -n "$pid" ]; then
        end_processes etcd "$pid"
        say "$LABEL: etcd stopped"
        stopped=1
    fi
    rm -f "$ETCD_PID"
    if [ $stopped = 0 ]; then say "$LABEL: not running"; fi
}

cmd_status() {
    local i rc=0 lines line name role state port lag streaming
    if [ -n "$(etcd_pid)" ]; then
        say "$LABEL: etcd running on 127.0.0.1:$ETCD_PORT"
    else
        say "$LABEL: etcd not running"
        rc=1
    fi
    lines=$(rest members 2>/dev/null || true)
    for ((i = 1; i <= MEMBER_COUNT; i++)); do
        line=$(grep "^${MEMBERS[i]} " <<<"$lines" || true)
        if [ -z "$(patroni_pid "$i")" ] && [ -n "$(postmaster_pid "$i")" ]; then
            say "$LABEL: ${MEMBERS[i]} down: its Patroni is not running, its postgres runs on alone ($0 start takes it back, $0 stop stops it)"
            rc=1
            continue
        elif [ -z "$(patroni_pid "$i")" ] || [ -z "$line" ]; then
            say "$LABEL: ${MEMBERS[i]} not running (postgres 127.0.0.1:${PORTS[i]}, log: $(rel "${LOGS[i]}"))"
            rc=1
            continue
        fi
        read -r name role state port lag streaming <<<"$line"
        case $streaming in yes) streaming=", streaming" ;; no) streaming=", NOT streaming" ;; *) streaming="" ;; esac
        if [ "$role" = leader ]; then lag=""; else lag=", lag $lag bytes"; fi
        say "$LABEL: $name $role, $state$streaming$lag (postgres 127.0.0.1:$port, REST http://127.0.0.1:${REST_PORTS[i]})"
        case $state in running|streaming) ;; *) rc=1 ;; esac
    done
    if [ $rc = 0 ]; then
        say "$LABEL: $(mode_words "$(rest config synchronous_mode 2>/dev/null || echo false)") replication"
    fi
    return $rc
}

cmd_url() {  # cmd_url USER PASSWORD-SECRET DATABASE
    running_quick || exit 1
    local password
    password=$(secret "$2")
    cluster_url "$1" "$password" "$3"
}

cmd_mode() {
    local want
    case ${1:-} in
        synchronous) want=true ;;
        asynchronous) want=false ;;
        *) usage ;;
    esac
    [ -n "$(etcd_pid)" ] || die "$LABEL: not running ($0 start)"
    # A member that was just started, or a busy machine, may keep the leader from answering
    # for a moment.
    local deadline=$((SECONDS + START_TIMEOUT))
    until running_quick; do
        [ $SECONDS -lt $deadline ] || die "$LABEL: no running leader after ${START_TIMEOUT}s ($0 status)"
        sleep 0.3
    done
    set_mode "$want"
    until mode_holds "$want"; do
        [ $SECONDS -lt $deadline ] || cluster_fail "not $1 after ${START_TIMEOUT}s"
        sleep 0.3
    done
    say "$LABEL: $1 replication"
}

cmd_split_databases_cluster() {
    local action=${1:-create}
    pg_bin_setup
    if ! running_quick || ! cluster_ready any; then
        die "$LABEL: not running, or without its leader ($0 start)"
    fi
    PGPASSWORD=$(secret postgres-superuser) split_databases_apply "$LABEL" "$action" \
        "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$LEADER_PORT" -U "$SUPERUSER" -d postgres
}

usage() {
    echo "usage: $0 start|stop|status|url|superuser-url|mode synchronous|asynchronous|split-databases [drop]" >&2
    exit 2
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) cmd_url "$APP_USER" postgres "$APP_DB" ;;
    superuser-url) cmd_url "$SUPERUSER" postgres-superuser postgres ;;
    mode) cmd_mode "${2:-}" ;;
    split-databases) cmd_split_databases_cluster "${2:-create}" ;;
    *) usage ;;
esac
