#!/usr/bin/env bash
# Print this clone's local Django secret key, making it once into .run/secret_key (git-ignored).
# The Makefile exports it for `make up`, `make up-services` and their kin when the environment
# gives no DJANGO_SECRET_KEY; a deployment sets its own.
set -euo pipefail

PROJECT_DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEY_FILE="$PROJECT_DIR/.run/secret_key"

if [ ! -s "$KEY_FILE" ]; then
    mkdir -p "$(dirname "$KEY_FILE")"
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(50))' > "$KEY_FILE.new")
    mv "$KEY_FILE.new" "$KEY_FILE"
fi
cat "$KEY_FILE"
