"""Settings for the ecommerce project.

Every setting that differs between machines comes from an environment variable; the defaults
are safe for a local development machine started with `make up`.
"""

import logging
import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypedDict
from urllib.parse import unquote, urlsplit, urlunsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from outbox.core.failover import broker_tls_options

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    """An environment variable, stripped; `default` when it is unset or blank, so that
    `DATABASE_URL= make migrate` means the same as no DATABASE_URL at all. Every setting below
    is read through this."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean environment variable ("1", "true", "yes" are true)."""
    value = env(name)
    return default if not value else value.lower() in {"1", "true", "yes"}


def env_list(name: str, default: str) -> list[str]:
    """Read a comma-separated environment variable."""
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """Read an environment variable that must be one of a few words."""
    value = env(name, default).lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def env_positive_int(name: str, default: str) -> int:
    """Read an environment variable that must be a whole number of at least 1."""
    value = env(name, default)
    if not value.isdigit() or int(value) < 1:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a whole number of at least 1")
    return int(value)


def env_whole_number(name: str, default: str) -> int:
    """Read an environment variable that must be a whole number of at least 0."""
    value = env(name, default)
    if not value.isdigit():
        raise ImproperlyConfigured(f"{name}={value!r}: expected a whole number of at least 0")
    return int(value)


def env_throttle_rate(name: str, default: str) -> str:
    """Read a rate of requests in DRF's form `<number>/<second|minute|hour|day>`, e.g.
    `30/minute`: a typo stops the process here rather than failing every request."""
    value = env(name, default)
    if not re.fullmatch(r"[1-9][0-9]*/(second|minute|hour|day)", value):
        raise ImproperlyConfigured(f"{name}={value!r}: expected e.g. 30/minute")
    return value


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """Read `Header-Name=value` (e.g. `X-Forwarded-Proto=https`) as Django's
    SECURE_PROXY_SSL_HEADER, or None when unset."""
    value = env(name)
    if not value:
        return None
    header, separator, expected = value.partition("=")
    if not separator or not header.strip() or not expected.strip():
        raise ImproperlyConfigured(f"{name}={value!r}: expected Header-Name=value")
    return "HTTP_" + header.strip().upper().replace("-", "_"), expected.strip()


DEBUG = env_bool("DJANGO_DEBUG", False)
# No built-in key outside DEBUG: a key everyone can read signs nobody's sessions. `make up`
# and its kin make one for the clone (scripts/secret.sh secret_key); the test session sets its
# own.
SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Give every process of a deployment the same secret "
            "key, e.g. one made by: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
            " (make up makes one for this clone: scripts/secret.sh secret_key)."
        )
    SECRET_KEY = "debug-only-not-secret"
# Former keys, still accepted for what they signed while a new key rolls out
# (docs/operations.md, "Rotating passwords").
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", "")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

# HTTPS, on by default outside DEBUG: redirect to https, cookies only over https, and HSTS.
# DJANGO_SECURE_SSL=false turns all of it off for a machine that serves plain http (the local
# `make up`, the tests); each setting can also be set on its own.
SECURE_SSL = env_bool("DJANGO_SECURE_SSL", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", SECURE_SSL)
# A load balancer's probe of /health, and Prometheus's scrape of /metrics, come over plain
# http from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", SECURE_SSL)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", SECURE_SSL)
SECURE_HSTS_SECONDS = int(env("DJANGO_SECURE_HSTS_SECONDS", "31536000" if SECURE_SSL else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_SSL)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", SECURE_SSL)
# Behind a proxy that ends TLS, the header by which it says the request came over https, e.g.
# `X-Forwarded-Proto=https`. Set it only if the proxy always sets or strips that header.
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("DJANGO_SECURE_PROXY_SSL_HEADER")

# The bounded contexts, by their service name on the wire, and the Django app of each.
CONTEXT_APPS = {"product": "products", "inventory": "inventory", "order": "orders"}
# What this process serves (API, admin, receive queue, outbox): every context by default, or
# one service of a split deployment, e.g. ECOMMERCE_SERVICES=inventory.
SERVICES = env_list("ECOMMERCE_SERVICES", ",".join(CONTEXT_APPS))
if unknown := sorted(set(SERVICES) - set(CONTEXT_APPS)):
    raise ImproperlyConfigured(
        f"ECOMMERCE_SERVICES names unknown services {', '.join(unknown)}; "
        f"known: {', '.join(CONTEXT_APPS)}"
    )
SERVED_APPS = [CONTEXT_APPS[service] for service in CONTEXT_APPS if service in SERVICES]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "csp",
    "ecommerce",
    "outbox",
    *SERVED_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header of every answer (CONTENT_SECURITY_POLICY).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Query parameters arrive in camelCase (?productId=...), like the JSON bodies.
    "djangorestframework_camel_case.middleware.CamelCaseMiddleWare",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns an admin sign-in that axes locked out into a 429 page.
    "axes.middleware.AxesMiddleware",
]

# Failed sign-ins (the API's /auth/token and the admin's) are counted per username and client
# address in the `default` database; after the limit, that pair is refused until the cool-off
# has passed without another try. After a higher limit of failures from one address, whatever
# the usernames, the address is refused too (ecommerce/sign_in.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_positive_int("SIGN_IN_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = timedelta(minutes=env_positive_int("SIGN_IN_COOL_OFF_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "ecommerce.sign_in.SignInFailureHandler"
SIGN_IN_ADDRESS_FAILURE_LIMIT = env_positive_int("SIGN_IN_ADDRESS_FAILURE_LIMIT", "30")
# No row per successful sign-in: only failures are kept, and only until their cool-off ends.
AXES_DISABLE_ACCESS_LOG = True
# The client's address is the connection's, unless SIGN_IN_TRUSTED_PROXIES proxies in front
# set X-Forwarded-For: a client could write any address there itself.
AXES_IPWARE_PROXY_COUNT = int(env("SIGN_IN_TRUSTED_PROXIES", "0")) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if AXES_IPWARE_PROXY_COUNT else ("REMOTE_ADDR",)
)

# What a page may load and run: only this server's own scripts, styles, images and fonts, and
# no inline script. The admin needs nothing more; ReDoc's page adds what its styles need
# (ecommerce.urls). data: images are the icons inside Swagger UI's and the admin's stylesheets.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Django's four checks on every password set through it: not like the user's name or email,
# long enough, not a common password, not all digits.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_positive_int("PASSWORD_MIN_LENGTH", "12")},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

ROOT_URLCONF = "ecommerce.urls"
WSGI_APPLICATION = "ecommerce.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database(url: str) -> dj_database_url.DBConfig:
    """A database of the project from its URL, on the backend that knows transaction phases.

    The URL may name several servers, as libpq does: with
    `postgres://user:password@host1:5433,host2:5434/name?target_session_attrs=read-write` each
    new connection goes to whichever of them is the primary, so that after a failover the
    processes reconnect to the new one (docs/architecture.md, "PostgreSQL failover").
    """
    parts = urlsplit(url)
    credentials, at, servers = parts.netloc.rpartition("@")
    first, *others = servers.split(",")
    # dj-database-url reads one server: it is given the first, and libpq gets them all.
    one_server = urlunsplit(parts._replace(netloc=f"{credentials}{at}{first}"))
    config = dj_database_url.parse(one_server, conn_max_age=int(env("DATABASE_CONN_MAX_AGE", "60")))
    if others:
        if config.get("OPTIONS", {}).get("target_session_attrs") not in ("read-write", "primary"):
            raise ImproperlyConfigured(
                f"The database URL names the servers {servers} without "
                "?target_session_attrs=read-write: a connection could go to a standby."
            )
        addresses = [urlsplit(f"//{server}") for server in (first, *others)]
        config["HOST"] = ",".join(unquote(address.hostname or "") for address in addresses)
        config["PORT"] = ",".join(str(address.port or 5432) for address in addresses)
    # Django's PostgreSQL backend plus before-commit and after-rollback hooks, which the
    # in-process listeners of outbox.inprocess.listeners bind their transaction phases to.
    config["ENGINE"] = "outbox.postgresql"
    return config


# Passwords that this project's local servers or the servers' own images once came with: a URL
# that carries one of them, or none, would let in anyone who has read this repository.
KNOWN_PASSWORDS = frozenset({"", "ecommerce", "guest", "postgres", "password", "demo"})


def credentialed_url(variable: str, debug_default: str) -> str:
    """The URL in `variable`. Outside DEBUG it must be set, and each of its hosts must be given
    a password of its own: not empty, not a known one, not the user's name."""
    url = env(variable)
    if DEBUG:
        return url or debug_default
    if not url:
        raise ImproperlyConfigured(
            f"{variable} is not set. Outside DJANGO_DEBUG every database and broker URL is "
            "given, with a password of its own (make up gives this clone's: scripts/secret.sh)."
        )
    for node in url.split(";"):
        parts = urlsplit(node)
        password = unquote(parts.password or "")
        if password in KNOWN_PASSWORDS or password == unquote(parts.username or ""):
            said = "no password" if not password else "a default password"
            raise ImproperlyConfigured(
                f"{variable} gives {said} for {parts.username or 'its user'}@{parts.hostname}. "
                "Outside DJANGO_DEBUG every database and broker URL needs a password of its "
                'own (docs/operations.md, "Credentials").'
            )
    return url


# `default` holds identity (users, tokens, sessions, the admin's log) and beat's schedule, and
# every context that has no database of its own. A context whose <APP>_DATABASE_URL names
# another database gets it, with its outbox, inbox, dead letters and audit trail; its tables
# live there only (ecommerce.routers).
DATABASE_URL = credentialed_url("DATABASE_URL", "postgres://ecommerce@127.0.0.1:5432/ecommerce")
DATABASES = {"default": database(DATABASE_URL)}
if env("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME")}


def own_database_url(app: str) -> str | None:
    """The URL of a context's own database, when <APP>_DATABASE_URL names one apart from
    `default`."""
    variable = f"{app.upper()}_DATABASE_URL"
    if not env(variable):
        return None
    url = credentialed_url(variable, "")
    return url if url != DATABASE_URL else None


# The database alias of each served context: its own (named like the app) or `default`.
CONTEXT_DATABASES = {app: app if own_database_url(app) else "default" for app in SERVED_APPS}
DATABASES.update({app: database(url) for app in SERVED_APPS if (url := own_database_url(app))})
# Where each database alias comes from, for the error a process gives when one is unreachable
# at start (outbox.core.databases).
DATABASE_URL_VARIABLES = {
    alias: "DATABASE_URL" if alias == "default" else f"{alias.upper()}_DATABASE_URL"
    for alias in DATABASES
}
DATABASE_ROUTERS = ["ecommerce.routers.ContextRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Admin, Swagger UI and ReDoc assets are served by whitenoise straight from the apps, also with
# DEBUG off: no collectstatic step.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["djangorestframework_camel_case.render.CamelCaseJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["ecommerce.parsers.StrictCamelCaseJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "ecommerce.pagination.CheckedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "ecommerce.schema.ContextAutoSchema",
    "EXCEPTION_HANDLER": "ecommerce.api_errors.exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ecommerce.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Products and inventory: anyone reads; a write needs the model permission its view names
    # (`write_permission`), not just staff. Orders ask for a customer.
    "DEFAULT_PERMISSION_CLASSES": ["ecommerce.permissions.ModelPermissionOrReadOnly"],
    # Requests per client: per address when anonymous, per user when signed in, and a stricter
    # rate for creating orders (orders.api). Each process counts on its own (CACHES `default`):
    # docs/operations.md, "Limits on every door".
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_throttle_rate("API_THROTTLE_ANON", "120/minute"),
        "user": env_throttle_rate("API_THROTTLE_USER", "1200/minute"),
        "order-create": env_throttle_rate("API_THROTTLE_ORDER_CREATE", "30/minute"),
    },
    # The client's address is the connection's, unless that many proxies in front set
    # X-Forwarded-For (the same proxies as sign-in's): a client could write any address there.
    "NUM_PROXIES": int(env("SIGN_IN_TRUSTED_PROXIES", "0")),
}
# The most items a page of a list holds (`?limit=`); PAGE_SIZE when not asked.
API_MAX_PAGE_SIZE = env_positive_int("API_MAX_PAGE_SIZE", "100")
# Seconds a web process remembers an API token it has verified, with its user, instead of
# reading the token table on every request; also how long a token revoked on another process
# (signed out, a password changed) or a deactivated user may still be served by a process that
# remembers it. 0: read the table every time.
API_TOKEN_CACHE_SECONDS = float(env("API_TOKEN_CACHE_SECONDS", "30"))
# API tokens (django-rest-knox): stored as digests, one per sign-in, each working for
# API_TOKEN_TTL_HOURS, sent as `Authorization: Token <token>` (ecommerce/tokens.py).
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env_positive_int("API_TOKEN_TTL_HOURS", "10")),
    "AUTH_HEADER_PREFIX": "Token",
}
CACHES = {
    # In each process's memory: the throttles' counts and the anonymous health answer are
    # each process's own, which needs no cache server (docs/operations.md).
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # In each process's memory on purpose: a shared cache would cost the round trip it saves.
    "api-tokens": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "api-tokens",
        "TIMEOUT": API_TOKEN_CACHE_SECONDS,
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ecommerce",
    "DESCRIPTION": "Products, inventory and orders that talk through domain events.",
    "VERSION": "1.0.0",
    "CAMELIZE_NAMES": True,
    # A request body refuses fields it does not declare, a response does not: apart.
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    "PATH_CONVERTER_OVERRIDES": {"hex_uuid": {"type": "string", "format": "uuid"}},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "drf_spectacular.contrib.djangorestframework_camel_case.camelize_serializer_fields",
        "ecommerce.schema.link_created_resources",
    ],
    # Swagger UI and ReDoc from the pinned drf-spectacular-sidecar's static files, not a CDN:
    # the API's pages then render offline and do not change under it.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: the broker carries both Celery's own tasks and the domain events.
CELERY_BROKER_URL = credentialed_url(
    "CELERY_BROKER_URL", "amqp://ecommerce@127.0.0.1:5672/ecommerce"
)
# The broker's administrator: declares the topology and grants each service's broker user its
# permissions (manage.py declare_topology), and migrates queues. Only those commands connect
# with it.
BROKER_ADMIN_URL = (
    credentialed_url("BROKER_ADMIN_URL", "") if env("BROKER_ADMIN_URL") else CELERY_BROKER_URL
)
# RabbitMQ's management HTTP API, through which declare_topology grants the permissions.
BROKER_MANAGEMENT_URL = env(
    "BROKER_MANAGEMENT_URL",
    f"http://{urlsplit(BROKER_ADMIN_URL.split(';')[0]).hostname or '127.0.0.1'}:15672",
).rstrip("/")


def broker_users() -> dict[str, str]:
    """BROKER_USERS, `service=user,...`: the broker user a service publishes as, where it is
    not the default (outbox.core.senders: this process's own user for a service it serves, and the
    user named after the service for any other)."""
    users = {}
    for item in env_list("BROKER_USERS", ""):
        service, separator, user = item.partition("=")
        if not separator or not service.strip() or not user.strip():
            raise ImproperlyConfigured(
                f"BROKER_USERS={env('BROKER_USERS')!r}: expected service=user,..."
            )
        users[service.strip()] = user.strip()
    return users


# TLS to the broker: `amqps://` URLs (port 5671) select it, for every node of a list. The
# broker's certificate must be signed by the CA of BROKER_TLS_CA_FILE (without it, one the
# system trusts) and name the URL's host; a client certificate is optional. Without TLS the
# broker password travels in clear, so the TLS files with an `amqp://` URL are refused.
BROKER_TLS = {
    "CA_FILE": env("BROKER_TLS_CA_FILE") or None,
    "CERT_FILE": env("BROKER_TLS_CERT_FILE") or None,
    "KEY_FILE": env("BROKER_TLS_KEY_FILE") or None,
}
# The same options as every connection the outbox opens itself (outbox.core.failover).
CELERY_BROKER_USE_SSL = broker_tls_options(CELERY_BROKER_URL, BROKER_TLS)

# The project's tasks go to their service's transient task queue (outbox.tasks says why); a
# task without a service would go to this default queue, transient for the same reason. It has
# a name of its own because RabbitMQ refuses to declare Celery's durable `celery` queue again
# as transient.
CELERY_TASK_DEFAULT_QUEUE = "outbox-tasks"
CELERY_TASK_QUEUES = [Queue(CELERY_TASK_DEFAULT_QUEUE, durable=False)]
# While its node stops, that queue answers a declaration with 404 until the cluster has
# dropped it: a worker then connects again and retries, instead of exiting.
CELERY_BROKER_CHANNEL_ERROR_RETRY = True
# No remote control: its broadcast queue would let any broker user that can write to it shut
# every worker down, and nothing here uses it.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# A task with a `service` argument goes to that service's task queue (xxx-tasks), consumed
# only by the workers of that service, which reach its database.
CELERY_TASK_ROUTES = ["outbox.core.task_queues.route_to_service"]
# One beat serves a whole deployment: it schedules the upkeep of every served service.
CELERY_BEAT_SCHEDULE = {
    f"{name}-{service}": {
        "task": f"outbox.tasks.{task}",
        "schedule": float(env(variable, default_seconds)),
        "kwargs": {"service": service},
    }
    for service in SERVICES
    for name, task, variable, default_seconds in [
        ("sweep-outbox", "sweep_outbox", "OUTBOX_SWEEP_SECONDS", "10"),
        ("purge-expired-records", "purge_expired_records", "OUTBOX_PURGE_SECONDS", "3600"),
    ]
}
# Orders left unpaid longer than ORDERS["UNPAID_EXPIRY_MINUTES"] are cancelled; the task runs
# on the order service's task queue, like the outbox's upkeep.
if "order" in SERVICES:
    CELERY_BEAT_SCHEDULE["expire-unpaid-orders"] = {
        "task": "orders.tasks.expire_unpaid_orders",
        "schedule": float(env("ORDER_EXPIRY_SWEEP_SECONDS", "60")),
        "kwargs": {"service": "order"},
    }


class OutboxSettings(TypedDict):
    """The type of each of OUTBOX's values: mypy would see a plain dict of them as
    dict[str, object] at every `settings.OUTBOX[...]`."""

    RELAY_BATCH_SIZE: int
    RELAY_IDLE_SECONDS: float
    CONFIRM_TIMEOUT_SECONDS: float
    CONSUMER_PREFETCH: int
    CONSUMER_BATCH_SIZE: int
    RETRY_DELAYS_SECONDS: list[float]
    RETENTION_DAYS: float
    AUDIT_RETENTION_DAYS: float
    DEAD_LETTER_RETENTION_DAYS: float
    QUEUE_TYPE: str
    DELIVERY_LIMIT: int
    BROKER_USERS: dict[str, str]
    BROKER_SCHEDULER_USER: str
    AUDIT_TRAIL: bool
    HEALTH_CACHE_SECONDS: float
    WAIT_FOR_STANDBY: bool


# The outbox: how the relay publishes and how consumers receive. See docs/architecture.md.
OUTBOX: OutboxSettings = {
    # Events claimed, published and confirmed as one batch by the relay.
    "RELAY_BATCH_SIZE": int(env("OUTBOX_RELAY_BATCH_SIZE", "1000")),
    # Seconds the relay waits for a wake-up before it looks at the table anyway.
    "RELAY_IDLE_SECONDS": float(env("OUTBOX_RELAY_IDLE_SECONDS", "5")),
    # Seconds to wait for the broker to confirm a batch.
    "CONFIRM_TIMEOUT_SECONDS": float(env("OUTBOX_CONFIRM_TIMEOUT_SECONDS", "30")),
    # Messages a consumer may hold unacknowledged.
    "CONSUMER_PREFETCH": int(env("OUTBOX_CONSUMER_PREFETCH", "100")),
    # Received messages handled in one transaction at most; 1 makes a transaction each.
    # Kept below the prefetch, so that the next messages arrive while a batch commits.
    "CONSUMER_BATCH_SIZE": int(env("OUTBOX_CONSUMER_BATCH_SIZE", "50")),
    # Seconds a failed message waits before each retry; one more attempt than delays, then
    # the message is dead-lettered. The default makes 5 attempts over about a minute.
    "RETRY_DELAYS_SECONDS": [
        float(delay) for delay in env_list("OUTBOX_RETRY_DELAYS_SECONDS", "2,5,15,40")
    ],
    # Published outbox rows and processed-event records older than this are deleted. A
    # redelivery is recognised as a duplicate as long as it comes within this window.
    "RETENTION_DAYS": float(env("OUTBOX_RETENTION_DAYS", "7")),
    # Audit records older than this are deleted.
    "AUDIT_RETENTION_DAYS": float(env("OUTBOX_AUDIT_RETENTION_DAYS", "30")),
    # Dead letters replayed or discarded longer ago than this are deleted; pending ones never.
    "DEAD_LETTER_RETENTION_DAYS": float(env("OUTBOX_DEAD_LETTER_RETENTION_DAYS", "30")),
    # Receive, retry and dead-letter queues: quorum (replicated on a cluster) or classic. A
    # queue's type cannot change in place: `manage.py migrate_queues` moves existing queues.
    "QUEUE_TYPE": env_choice("OUTBOX_QUEUE_TYPE", "quorum", ("quorum", "classic")),
    # A quorum receive queue dead-letters a message given back unacknowledged more than this
    # many times: the backstop against a message whose handling kills its worker. Every
    # message a dying worker held is given back once, and so is every message a worker hands
    # back after an outage: keep it well above 1.
    "DELIVERY_LIMIT": env_positive_int("OUTBOX_DELIVERY_LIMIT", "10"),
    # The broker user each service publishes as: a consumer refuses an event that another
    # user sent in its source's name (outbox.core.senders).
    "BROKER_USERS": broker_users(),
    # The broker user Celery beat connects as, when it is none of the services' users (the
    # split layout): declare_topology lets it send every service's tasks.
    "BROKER_SCHEDULER_USER": env("BROKER_SCHEDULER_USER"),
    # Record every domain event in the audit trail after its commit (and alert on rollbacks).
    "AUDIT_TRAIL": env_bool("OUTBOX_AUDIT_TRAIL", True),
    # Seconds a web process answers anyone but staff from its last look at /health's databases
    # and broker, instead of connecting to them on every request. 0: look every time.
    "HEALTH_CACHE_SECONDS": float(env("HEALTH_CACHE_SECONDS", "5")),
    # Publish a batch, and acknowledge a handled one, only once a PostgreSQL standby has
    # flushed its WAL (outbox.core.replication): what keeps asynchronous replication from
    # inventing events or losing effects at a failover. Off: synchronous replication, or none.
    "WAIT_FOR_STANDBY": env_bool("OUTBOX_WAIT_FOR_STANDBY", False),
}


class MetricsSettings(TypedDict):
    """The type of each of METRICS's values, like OutboxSettings."""

    ENABLED: bool
    RELAY_PORT: int
    WORKER_PORT: int
    ADDRESS: str
    TOKEN: str


# Prometheus metrics (docs/architecture.md, "Metrics"). Off, nothing is timed or counted.
METRICS: MetricsSettings = {
    "ENABLED": env_bool("METRICS_ENABLED", True),
    # The relay's and the worker's own metrics servers; unset or 0: none.
    "RELAY_PORT": int(env("RELAY_METRICS_PORT") or 0),
    "WORKER_PORT": int(env("WORKER_METRICS_PORT") or 0),
    # Where those two listen: this machine only, unless a scraper elsewhere needs them.
    "ADDRESS": env("METRICS_ADDRESS", "127.0.0.1"),
    # The web's /metrics asks for `Authorization: Bearer <token>` when set, and otherwise
    # answers requests from this machine only.
    "TOKEN": env("METRICS_TOKEN"),
}

# Rewards for paid orders (orders.services.loyalty_reward_paid_order): a point per whole unit
# of the total, and a coupon of COUPON_AMOUNT for an order whose total reaches COUPON_THRESHOLD.
LOYALTY = {
    "COUPON_THRESHOLD": Decimal(env("LOYALTY_COUPON_THRESHOLD", "100")),
    "COUPON_AMOUNT": Decimal(env("LOYALTY_COUPON_AMOUNT", "10")),
}

# The order context's limits (docs/operations.md, "Limits on every door").
ORDERS = {
    # Lines (items) one order may have.
    "MAX_LINES": env_positive_int("ORDER_MAX_LINES", "100"),
    # Orders a customer may have created and not yet paid, cancelled or had rejected; 0: any.
    "MAX_UNPAID_PER_CUSTOMER": env_whole_number("ORDER_MAX_UNPAID_PER_CUSTOMER", "10"),
    # Minutes after which an unpaid order is cancelled, putting its stock back.
    "UNPAID_EXPIRY_MINUTES": env_positive_int("ORDER_UNPAID_EXPIRY_MINUTES", "30"),
}

# LOG_FORMAT=json writes one JSON object per record, with the event id and type, the consumer
# and the trace and span ids when known (outbox.core.log_context), so that logs and traces join.
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
if LOG_FORMAT == "json":
    # Python's warnings become records too, instead of plain lines among the JSON ones.
    logging.captureWarnings(True)
LOG_LEVEL = env("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
    },
    "filters": {"event": {"()": "outbox.core.log_context.EventLogFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["event"] if LOG_FORMAT == "json" else [],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Axes tells of every sign-in at INFO; a lockout is a WARNING.
        "axes": {"level": "WARNING"},
        # Celery tells of every task it schedules, receives and finishes at INFO: for beat's
        # upkeep, nine lines every ten seconds that the requests and events scroll away in.
        # The tasks log what they did when they did something (outbox.tasks); Celery's own
        # lines show with LOG_LEVEL=DEBUG.
        **{
            name: {"level": LOG_LEVEL if LOG_LEVEL == "DEBUG" else "WARNING"}
            for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace")
        },
    },
}
