"""The three services apart, as `make up-services` runs them.

Each service runs as its own PostgreSQL role on a database of its own (a set made for the test
by `scripts/services.sh split-databases`, named test_ecommerce_products and so on), with its own
web, relay and worker processes started by `scripts/service.sh`, on a RabbitMQ vhost of its own:
the session's relay and worker consume the same queue names on the test vhost. The demo plays
through the three web servers, and a context's role cannot reach another context's database.
"""

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg2
import pytest
import requests
from django.conf import settings
from kombu import Connection

from conftest import Processes, database_url
from harness.ports import free_port
from harness.project import PROJECT_DIR
from outbox.core import topology
from tests import management_api
from tests.event_contract import breaches_of

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SERVICES = {"product": "products", "inventory": "inventory", "order": "orders"}
PROCESSES = ("web", "relay", "worker")
NAME_PREFIX = "test_"
START_TIMEOUT = 120.0
DEMO_USERNAME = "split-demo"
DEMO_PASSWORD = "split-demo-password"


def role(app: str) -> str:
    """The role, and database, of a context in the test's set (scripts/split_layout.sh)."""
    return f"{NAME_PREFIX}ecommerce_{app}"


# A password per role, made for this run: a role's name as its password would be refused.
ROLE_PASSWORDS = {app: secrets.token_urlsafe(16) for app in ("products", "inventory", "orders")}


def password(app: str) -> str:
    return ROLE_PASSWORDS[app]


@dataclass
class SplitDeployment:
    env: dict[str, str]
    urls: dict[str, str]
    processes: Processes


def split_databases(env: dict[str, str], *action: str) -> None:
    """Through the local superuser, as DATABASE_URL is unset: with it, the script only prints."""
    local = {name: value for name, value in env.items() if name != "DATABASE_URL"}
    finished = subprocess.run(
        ["scripts/services.sh", "split-databases", *action],
        cwd=PROJECT_DIR, env=local, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout + finished.stderr


def runs_on_the_local_server(database: dict) -> bool:
    """Whether the database is on the PostgreSQL server that scripts/services.sh runs here,
    whose superuser the split layout's script uses."""
    local_port = int(os.environ.get("PGPORT_LOCAL", "5432"))
    started_here = (PROJECT_DIR / ".run" / "postgres" / "data" / "postmaster.pid").exists()
    return started_here and (database["HOST"], int(database["PORT"])) == ("127.0.0.1", local_port)


@pytest.fixture(scope="module")
def split(django_db_setup: None) -> Iterator[SplitDeployment]:
    """The three services, each on its own database as its own role, until the module ends."""
    identity = settings.DATABASES["default"]
    if not runs_on_the_local_server(identity):
        pytest.skip("makes roles as the local superuser: DATABASE_URL names another server")
    broker = Connection(settings.CELERY_BROKER_URL)
    vhost = f"{broker.virtual_host}_split"
    broker_url = broker.clone(virtual_host=vhost).as_uri(include_password=True)
    urls = {service: f"http://127.0.0.1:{free_port()}" for service in SERVICES}
    env = {
        # The services' database URLs come from scripts/service.sh, never from the caller.
        **{k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")},
        # The identity database's owner, who migrates it.
        "DATABASE_URL": database_url(identity),
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}",
        "SPLIT_PREFIX": NAME_PREFIX,
        "SPLIT_IDENTITY_DATABASE": identity["NAME"],
        "SPLIT_IDENTITY_OWNER": identity["USER"],
        "SPLIT_DATABASE_HOST": identity["HOST"],
        "SPLIT_DATABASE_PORT": str(identity["PORT"]),
        # The test's own administrator declares the split vhost's topology and grants its
        # users; each service connects as its own broker user (scripts/service.sh).
        "CELERY_BROKER_URL": broker_url,
        "BROKER_ADMIN_URL": broker_url,
        "OUTBOX_RELAY_IDLE_SECONDS": "1",
        "WEB_WORKERS": "1",
        # Each role's password is the test's own, as the tests connect with it.
        **{f"SPLIT_{app.upper()}_PASSWORD": password(app) for app in SERVICES.values()},
        **{
            f"{service.upper()}_WEB_BIND": url.removeprefix("http://")
            for service, url in urls.items()
        },
    }
    processes = Processes(env)
    split_databases(env, "drop")  # what a run that was cut short left behind
    split_databases(env)
    management_api.create_vhost(vhost)
    try:
        migrate(env)
        start_services(processes, urls)
        yield SplitDeployment(env, urls, processes)
    finally:
        processes.stop_all()
        management_api.delete_vhost(vhost)
        split_databases(env, "drop")


def migrate(env: dict[str, str]) -> None:
    """As make up-services does: the identity database as its owner, each service's database
    as its role, then the topology, so that every binding exists before the first event."""
    finished = subprocess.run(
        ["scripts/migrate_services.sh"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=START_TIMEOUT,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout + finished.stderr


def start_services(processes: Processes, urls: dict[str, str]) -> None:
    """Web, relay and worker of each service; return once workers consume and webs answer."""
    for service in SERVICES:
        for process in PROCESSES:
            name = f"split-{service}-{process}"
            processes.start(name, ["scripts/service.sh", service, process])
    for service in SERVICES:
        processes.wait_for_consumers(
            f"split-{service}-worker", queues=[topology.receive_queue(service)]
        )
    for service, url in urls.items():
        processes.wait_for_web(f"split-{service}-web", url)


def test_the_demo_through_the_three_services(
    split: SplitDeployment, django_user_model: type
) -> None:
    # Identity is shared: a user of the identity database signs in on any service.
    django_user_model.objects.create_superuser(DEMO_USERNAME, "", DEMO_PASSWORD)
    demo = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=PROJECT_DIR,
        env={
            **split.env,
            "DEMO_PRODUCTS_URL": split.urls["product"],
            "DEMO_INVENTORY_URL": split.urls["inventory"],
            "DEMO_ORDERS_URL": split.urls["order"],
            "DEMO_USERNAME": DEMO_USERNAME,
            "DEMO_PASSWORD": DEMO_PASSWORD,
            "DEMO_TIMEOUT": "60",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Demo complete" in demo.stdout
    # The services' databases are not this process's: their events are read as each role.
    assert [breach for app in SERVICES.values() for breach in saved_event_breaches(app)] == []


def saved_event_breaches(app: str) -> list[str]:
    """The events saved in a context's own database that break their contract."""
    identity = settings.DATABASES["default"]
    connection = psycopg2.connect(
        dbname=role(app),
        user=role(app),
        password=password(app),
        host=identity["HOST"],
        port=identity["PORT"],
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT service, event_type, event_id, payload FROM outbox_outboxevent ORDER BY id"
            )
            rows = cursor.fetchall()
    finally:
        connection.close()
    assert rows, f"no event saved in {role(app)}"
    return breaches_of(rows)


def test_no_service_is_refused_anything_by_the_broker(split: SplitDeployment) -> None:
    """Each service connects as its own broker user: what it needs is granted, and nothing it
    does is refused (a refusal costs a reconnection loop, not an error a request would see)."""
    for service in SERVICES:
        for process in PROCESSES:
            log = split.processes.written_since_start(f"split-{service}-{process}")
            assert "ACCESS_REFUSED" not in log


def test_a_context_role_cannot_connect_to_another_context_database(
    split: SplitDeployment,
) -> None:
    identity = settings.DATABASES["default"]
    server = {"host": identity["HOST"], "port": identity["PORT"]}
    inventory = {"user": role("inventory"), "password": password("inventory")}

    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        psycopg2.connect(dbname=role("orders"), **inventory, **server)

    for own in (role("inventory"), identity["NAME"]):
        psycopg2.connect(dbname=own, **inventory, **server).close()


def test_each_web_process_serves_only_its_own_context(split: SplitDeployment) -> None:
    order, product = split.urls["order"], split.urls["product"]

    assert requests.get(f"{order}/products", timeout=10).status_code == 404
    assert requests.get(f"{order}/inventories", timeout=10).status_code == 404
    assert requests.get(f"{product}/products", timeout=10).status_code == 200
    assert requests.get(f"{product}/orders", timeout=10).status_code == 404


def test_a_context_role_reads_identity_and_writes_only_what_signing_in_writes(
    split: SplitDeployment,
) -> None:
    identity = settings.DATABASES["default"]
    connection = psycopg2.connect(
        dbname=identity["NAME"],
        user=role("orders"),
        password=password("orders"),
        host=identity["HOST"],
        port=identity["PORT"],
    )
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM auth_user, knox_authtoken, auth_permission")
            cursor.execute("UPDATE auth_user SET last_login = now() WHERE false")
            for statement in [
                "UPDATE auth_user SET is_superuser = true WHERE false",
                "DELETE FROM auth_user WHERE false",
                "INSERT INTO auth_user_user_permissions (user_id, permission_id) VALUES (0, 0)",
                "INSERT INTO auth_user_groups (user_id, group_id) VALUES (0, 0)",
                "UPDATE knox_authtoken SET expiry = NULL WHERE false",
                "DELETE FROM django_admin_log WHERE false",
                "SELECT count(*) FROM django_celery_beat_periodictask",
            ]:
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cursor.execute(statement)
    finally:
        connection.close()


def test_signing_in_and_out_and_the_admin_work_as_a_context_role(
    split: SplitDeployment, django_user_model: type
) -> None:
    django_user_model.objects.create_superuser("split-staff", "", DEMO_PASSWORD)
    order, product = split.urls["order"], split.urls["product"]

    wrong = requests.post(
        f"{order}/auth/token", json={"username": "split-staff", "password": "guess"}, timeout=10
    )
    signed_in = requests.post(
        f"{order}/auth/token",
        json={"username": "split-staff", "password": DEMO_PASSWORD},
        timeout=10,
    )
    signed_out = requests.post(
        f"{order}/auth/logout",
        headers={"Authorization": f"Token {signed_in.json()['token']}"},
        timeout=10,
    )
    admin = requests.Session()
    login = f"{product}/admin/login/"
    admin.get(login, timeout=10).raise_for_status()
    admin_signed_in = admin.post(
        login,
        {
            "username": "split-staff",
            "password": DEMO_PASSWORD,
            "csrfmiddlewaretoken": admin.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login},
        timeout=10,
    )

    # A failure counted, a token made and deleted, a session kept: each a write of its role.
    assert wrong.status_code == 400, wrong.text
    assert signed_in.status_code == 200, signed_in.text
    assert signed_out.status_code == 204, signed_out.text
    assert admin_signed_in.url == f"{product}/admin/", admin_signed_in.text[-2000:]
    assert "split-staff" in admin.get(f"{product}/admin/outbox/outboxevent/", timeout=10).text
