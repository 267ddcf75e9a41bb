#!/usr/bin/env bash
# Migrations of the split layout (make up-services, docker compose --profile services), in
# order: the identity database as its owner (DATABASE_URL), then each service's database as
# the service's role (scripts/service.sh); then the topology and the demo user.
set -euo pipefail

SCRIPT_DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd -P "$SCRIPT_DIR/.." && pwd)"
cd "$PROJECT_DIR"
if [ -d .venv/bin ]; then PATH="$PROJECT_DIR/.venv/bin:$PATH"; fi

python manage.py migrate_identity
for service in product inventory order; do
    scripts/service.sh "$service" migrate
done
python manage.py declare_topology
python manage.py ensure_demo_user
