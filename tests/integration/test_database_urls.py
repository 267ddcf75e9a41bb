"""A database URL may name several servers: every connection goes to the one that is the
primary now, which is how the processes follow a PostgreSQL failover."""

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from ecommerce.settings import database
from harness.ports import free_port


def test_a_url_of_several_servers_gives_libpq_every_host_and_port() -> None:
    config = database(
        "postgres://shop:secret@10.0.0.1:5433,10.0.0.2:5434,[::1]/shop"
        "?target_session_attrs=read-write"
    )

    assert (config["HOST"], config["PORT"]) == ("10.0.0.1,10.0.0.2,::1", "5433,5434,5432")
    assert (config["USER"], config["PASSWORD"], config["NAME"]) == ("shop", "secret", "shop")
    assert config["OPTIONS"] == {"target_session_attrs": "read-write"}


def test_a_url_of_one_server_is_read_as_before() -> None:
    config = database("postgres://shop:secret@10.0.0.1:5433/shop")

    assert (config["HOST"], config["PORT"]) == ("10.0.0.1", 5433)


@pytest.mark.django_db
def test_a_connection_passes_over_a_server_that_is_down_to_the_primary() -> None:
    server = settings.DATABASES["default"]
    config = database(
        f"postgres://{server['USER']}:{server['PASSWORD']}@127.0.0.1:{free_port()},"
        f"{server['HOST']}:{server['PORT']}/{server['NAME']}?target_session_attrs=read-write"
    )
    wrapper = type(connections["default"])({**server, **config}, alias="several_servers")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT inet_server_port(), pg_is_in_recovery()")
            assert cursor.fetchone() == (int(server["PORT"]), False)
    finally:
        wrapper.close()


def test_several_servers_without_a_session_kind_are_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="target_session_attrs=read-write"):
        database("postgres://shop:secret@10.0.0.1:5433,10.0.0.2:5434/shop")
