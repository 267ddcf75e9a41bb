"""`manage.py migrate_identity` leaves the contexts out of the identity database entirely."""

import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg2
import pytest
from django.conf import settings
from psycopg2 import sql

from conftest import database_url
from harness.project import PROJECT_DIR
from harness.waiting import wait_until

IDENTITY_APPS = {
    "admin",
    "auth",
    "axes",
    "contenttypes",
    "django_celery_beat",
    "knox",
    "sessions",
}


@pytest.fixture
def empty_database(django_db_setup: None) -> Iterator[dict]:
    """A new, empty database next to the test database, dropped afterwards."""
    server = settings.DATABASES["default"]
    database = {**server, "NAME": f"{server['NAME']}_identity"}
    admin = psycopg2.connect(
        dbname="postgres",
        user=server["USER"],
        password=server["PASSWORD"],
        host=server["HOST"],
        port=server["PORT"],
    )
    admin.autocommit = True
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(database["NAME"])
    )

    def dropped() -> bool:
        try:
            with admin.cursor() as cursor:
                cursor.execute(drop)
        except psycopg2.errors.InsufficientPrivilege:
            # An autovacuum worker, which runs as the superuser, is still in it: FORCE may not
            # end it, and it leaves on its own.
            return False
        return True

    wait_until(dropped, what=f"{database['NAME']} dropped")
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database["NAME"])))
    try:
        yield database
    finally:
        wait_until(dropped, what=f"{database['NAME']} dropped")
        admin.close()


def test_only_the_identity_apps_are_migrated_and_recorded(empty_database: dict) -> None:
    finished = subprocess.run(
        [sys.executable, "manage.py", "migrate_identity", "--verbosity", "0"],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": database_url(empty_database)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr

    connection = psycopg2.connect(database_url(empty_database))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT DISTINCT app FROM django_migrations")
            recorded = {app for (app,) in cursor.fetchall()}
            cursor.execute("SELECT to_regclass('products_product'), to_regclass('auth_user')")
            products_table, users_table = cursor.fetchone()
    finally:
        connection.close()
    # A later single-database `migrate` on it would otherwise skip the contexts' tables.
    assert recorded == IDENTITY_APPS
    assert products_table is None
    assert users_table == "auth_user"
