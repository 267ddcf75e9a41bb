#!/usr/bin/env bash
# Init script of docker-compose.yml's postgres-services, run by the image once, when its volume
# is new: scripts/split_databases.sql with the split roles' passwords from the environment, so
# that none keeps the file's default (the role's own name). The service's command refuses to
# start while one is empty. The image sources this file when it is not executable: no `set`,
# no `exit`.
psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v identity_db="$POSTGRES_DB" -v identity_owner="$POSTGRES_USER" \
    -v products_password="$SPLIT_PRODUCTS_PASSWORD" \
    -v inventory_password="$SPLIT_INVENTORY_PASSWORD" \
    -v orders_password="$SPLIT_ORDERS_PASSWORD" \
    -f /opt/ecommerce/split_databases.sql
