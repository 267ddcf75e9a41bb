#!/usr/bin/env bash
# The command of every RabbitMQ container of docker-compose.yml: starts the server, then makes
# its users match the environment, on every start, so that a password changed in .env takes
# effect at the next start (the image sets its default user only on a new volume).
#
# The image creates the administrator RABBITMQ_DEFAULT_USER on a new volume, and with a
# default user set it creates no `guest`. Here the administrator gets its password, the tag
# administrator and every permission on the vhost again; each application user gets its
# password and no tag. Their permissions come from `manage.py declare_topology`, which the
# migrate services run once this container is healthy.
#
# Environment:
#   RABBITMQ_DEFAULT_USER, RABBITMQ_DEFAULT_PASS, RABBITMQ_DEFAULT_VHOST
#                      the administrator and the vhost
#   BROKER_APP_USERS   the application users, as `user=VARIABLE ...`: each one's password is in
#                      the environment variable VARIABLE, which must not be empty
#   ERLANG_COOKIE      set on a cluster node only, where it must not be empty: the cookie the
#                      nodes share, written to the cookie file with mode 600 (RabbitMQ 3.13
#                      deprecates its RABBITMQ_ERLANG_COOKIE, which also shows on the command line)
# The container's health check waits for READY_FILE, made once the users are set.
set -euo pipefail

READY_FILE=/tmp/broker-users-ready
COOKIE_FILE=/var/lib/rabbitmq/.erlang.cookie
rm -f "$READY_FILE"

# Refuse before the server starts, naming what is missing: the profile's secrets cannot be
# required by docker compose itself, which reads every service of the file whatever the profile.
refuse() {
    echo "rabbitmq: $1 is empty: set it in .env (see .env.example)" >&2
    exit 1
}
[ -n "${RABBITMQ_DEFAULT_PASS:-}" ] || refuse RABBITMQ_ADMIN_PASSWORD
for pair in ${BROKER_APP_USERS:-}; do
    variable=${pair#*=}
    [ -n "${!variable:-}" ] || refuse "$variable"
done
if [ -v ERLANG_COOKIE ]; then
    [ -n "$ERLANG_COOKIE" ] || refuse RABBITMQ_ERLANG_COOKIE
    (umask 077 && printf '%s' "$ERLANG_COOKIE" >"$COOKIE_FILE")
    chmod 600 "$COOKIE_FILE"
    chown rabbitmq:rabbitmq "$COOKIE_FILE"
fi

# As the server's user: a CLI call run as root before the server has made the cookie would
# make it root's, through the image's /root/.erlang.cookie link, and lock the server out.
ctl() { gosu rabbitmq rabbitmqctl --quiet "$@"; }

set_user() {  # set_user NAME PASSWORD [TAG...]: the password on standard input, not in `ps`
    local name=$1 password=$2
    shift 2
    printf '%s\n' "$password" | ctl add_user "$name" >/dev/null 2>&1 \
        || printf '%s\n' "$password" | ctl change_password "$name" >/dev/null
    ctl set_user_tags "$name" "$@" >/dev/null
}

docker-entrypoint.sh rabbitmq-server &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true' TERM INT

until ctl await_startup --timeout 30 >/dev/null 2>&1; do
    kill -0 "$server" 2>/dev/null || exit 1
    sleep 1
done
set_user "$RABBITMQ_DEFAULT_USER" "$RABBITMQ_DEFAULT_PASS" administrator
ctl set_permissions -p "$RABBITMQ_DEFAULT_VHOST" "$RABBITMQ_DEFAULT_USER" '.*' '.*' '.*' >/dev/null
users="$RABBITMQ_DEFAULT_USER (administrator)"
for pair in ${BROKER_APP_USERS:-}; do
    variable=${pair#*=}
    set_user "${pair%%=*}" "${!variable}"
    users+=" ${pair%%=*}"
done
touch "$READY_FILE"
echo "rabbitmq: users set: $users"

# Until the server ends; a signal passed on to it interrupts `wait`, so wait again.
status=0
wait "$server" || status=$?
while kill -0 "$server" 2>/dev/null; do
    status=0
    wait "$server" || status=$?
done
exit "$status"
