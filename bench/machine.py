"""The machine and the servers a run measured: figures mean little without them."""

import os
import platform
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from django.db import connection

from bench.environment import BenchEnvironment

POSTGRES_SETTINGS = (
    "server_version", "synchronous_commit", "fsync", "wal_sync_method", "commit_delay",
    "shared_buffers", "max_connections",
)  # fmt: skip


def describe(environment: BenchEnvironment) -> dict[str, Any]:
    """CPU, memory, and the versions and durability settings of PostgreSQL and RabbitMQ."""
    return {
        "cpu_model": proc_value("/proc/cpuinfo", "model name"),
        "cpus": os.cpu_count(),
        "memory_mb": int(proc_value("/proc/meminfo", "MemTotal").split()[0]) // 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres_settings(),
        "rabbitmq": rabbitmq_versions(environment),
    }


def proc_value(path: str, key: str) -> str:
    for line in Path(path).read_text().splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return "unknown"


def postgres_settings() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
            [list(POSTGRES_SETTINGS)],
        )
        return dict(cursor.fetchall())


def rabbitmq_versions(environment: BenchEnvironment) -> dict[str, str]:
    broker = urlsplit(environment.broker_url)
    overview = requests.get(
        f"{environment.management_url}/api/overview",
        auth=(broker.username or "guest", broker.password or "guest"),
        timeout=10,
    ).json()
    return {"version": overview["rabbitmq_version"], "erlang": overview["erlang_version"]}
