# The names of the split layout, sourced by scripts/services.sh (split-databases) and
# scripts/service.sh: each context's database and the role that owns it share one name,
# ${SPLIT_PREFIX}ecommerce_<app>${SPLIT_SUFFIX}; the identity database is shared by all.
#
#   SPLIT_PREFIX, SPLIT_SUFFIX   around every context name (tests make test_ecommerce_products...)
#   SPLIT_<APP>_PASSWORD         a context role's password (default: this clone's own, made
#                                once by scripts/secret.sh); APP is PRODUCTS, INVENTORY or ORDERS
#   SPLIT_IDENTITY_DATABASE      the shared identity database (default ecommerce)
#   SPLIT_IDENTITY_OWNER         the role that owns and migrates it (default ecommerce)

SPLIT_APPS=(products inventory orders)
SPLIT_IDENTITY_DATABASE=${SPLIT_IDENTITY_DATABASE:-ecommerce}
SPLIT_IDENTITY_OWNER=${SPLIT_IDENTITY_OWNER:-ecommerce}

split_role() {  # split_role APP: the role and database of a context app
    printf '%s' "${SPLIT_PREFIX:-}ecommerce_$1${SPLIT_SUFFIX:-}"
}

split_password() {  # split_password APP
    local variable="SPLIT_${1^^}_PASSWORD"
    printf '%s' "${!variable:-$("$(dirname "${BASH_SOURCE[0]}")/secret.sh" "$(split_role "$1")")}"
}

split_broker_url() {  # split_broker_url SERVICE: <SERVICE>_BROKER_URL, or CELERY_BROKER_URL with
    # the service's own broker user (named after it) and this clone's password for it
    local variable="${1^^}_BROKER_URL" password
    if [ -n "${!variable:-}" ]; then printf '%s' "${!variable}"; return; fi
    password=$("$(dirname "${BASH_SOURCE[0]}")/secret.sh" "broker-$1")
    printf '%s' "$CELERY_BROKER_URL" | sed -E "s#://[^/@;]*@#://$1:$password@#g"
}
