#!/usr/bin/env bash
# Migrations of the split layout (make up-services, docker compose --profile services), in
# order: the identity database as its owner (DATABASE_URL), then each service's database as
# the service's role (scripts/service.sh); then the topology and the demo user.
set -euo pipefail

SCRIPT_DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd -P "$SCRIPT_DIR/.." && pwd)"
cd "$PROJECT_DIR"
if [ -d .venv/bin ]; then PATH="$PROJECT_DIR/.venv/bin:$PATH"; fi

# shellcheck source=split_layout.sh
. "$SCRIPT_DIR/split_layout.sh"
# The identity database, migrated by its owner, who grants each service's role what it needs
# there and no more.
python manage.py migrate_identity --grant-to "$(split_role products)" "$(split_role inventory)" \
    "$(split_role orders)"
for service in product inventory order; do
    scripts/service.sh "$service" migrate
done
# Each service publishes as the broker user named after it, and beat sends their tasks as
# its own: declare_topology grants each what it needs, as the administrator (BROKER_ADMIN_URL).
BROKER_USERS=product=product,inventory=inventory,order=order \
    BROKER_SCHEDULER_USER="${BROKER_SCHEDULER_USER:-beat}" python manage.py declare_topology
