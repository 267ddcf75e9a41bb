#!/usr/bin/env bash
# Print one of this clone's local secrets, making it once into .run/secrets/NAME (git-ignored,
# readable by its owner only): the Django secret key, and the passwords of the local
# PostgreSQL role and RabbitMQ users. Nothing ships with a known password; a deployment sets
# its own through the environment (docs/operations.md).
#
#   scripts/secret.sh NAME     e.g. secret_key, postgres, rabbitmq-admin, broker-order
set -euo pipefail

name=${1:?usage: scripts/secret.sh NAME}
[[ $name =~ ^[a-z0-9_-]+$ ]] || { echo "secret.sh: bad name '$name'" >&2; exit 2; }
SECRETS_DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.run/secrets"
file="$SECRETS_DIR/$name"

if [ ! -s "$file" ]; then
    # .run/ itself stays open: the servers under it run as their own users.
    (umask 022 && mkdir -p "$(dirname "$SECRETS_DIR")")
    (umask 077 && mkdir -p "$SECRETS_DIR" \
        && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$file.new.$$" \
        && mv "$file.new.$$" "$file")
fi
cat "$file"
