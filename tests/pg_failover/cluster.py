"""The test's PostgreSQL cluster: three Patroni members of scripts/pg_cluster.sh on ports of
their own, and the ways a test hurts them (kill -9 of a primary's postgres or of its Patroni,
its WAL held back from the standbys) and heals them."""

import dataclasses
import os
import signal
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg2
import requests

from harness.project import PROJECT_DIR, local_secret
from harness.waiting import wait_until

# Beside `make pg-cluster`'s cluster (5433-5435, REST 8008-8010, etcd 2379), which a developer
# may be running.
NAME = "failover-test"
PORT_BASE, REST_PORT_BASE, ETCD_PORT = 5443, 8018, 2389
MEMBER_COUNT = 3
SCRIPT_ENV = {
    "PG_CLUSTER_NAME": NAME,
    "PG_CLUSTER_PORT_BASE": str(PORT_BASE),
    "PG_CLUSTER_REST_PORT_BASE": str(REST_PORT_BASE),
    "PG_CLUSTER_ETCD_PORT": str(ETCD_PORT),
    # Every start sets the mode it is given; each test sets its own.
    "PG_CLUSTER_SYNCHRONOUS": "true",
}
SCRIPT_TIMEOUT_SECONDS = 300
CLUSTER_DIR = PROJECT_DIR / ".run" / "pg-cluster" / NAME
# The cluster's own role and password, as scripts/pg_cluster.sh makes them.
APP_USER, APP_PASSWORD = "ecommerce", local_secret("postgres")
SUPERUSER, SUPERUSER_PASSWORD = "postgres", local_secret("postgres-superuser")
# A failover after a crash takes a few seconds, after a lost Patroni its leader key's TTL.
FAILOVER_DEADLINE_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class Member:
    name: str
    port: int
    rest_port: int

    @property
    def directory(self) -> Path:
        return CLUSTER_DIR / self.name

    def postmaster_pid(self) -> int:
        return int((self.directory / "data" / "postmaster.pid").read_text().split()[0])

    def patroni_pid(self) -> int:
        return int((self.directory / "patroni.pid").read_text().strip())


class PgCluster:
    """The members, seen and handled through scripts/pg_cluster.sh and Patroni's REST API."""

    def __init__(self) -> None:
        self.members = [
            Member(f"member{i + 1}", PORT_BASE + i, REST_PORT_BASE + i) for i in range(MEMBER_COUNT)
        ]

    def script(self, *arguments: str) -> str:
        finished = subprocess.run(
            ["scripts/pg_cluster.sh", *arguments],
            cwd=PROJECT_DIR,
            env={**os.environ, **SCRIPT_ENV},
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_SECONDS,
        )
        assert finished.returncode == 0, finished.stdout + finished.stderr
        return finished.stdout

    def url(self, database: str, *, user: str = APP_USER, password: str = APP_PASSWORD) -> str:
        """A multi-host URL of `database` that connects to the primary, wherever it is."""
        servers = ",".join(f"127.0.0.1:{member.port}" for member in self.members)
        return (
            f"postgres://{user}:{quote(password)}@{servers}/{database}"
            "?target_session_attrs=read-write&connect_timeout=3"
        )

    def connect(self, database: str, **credentials: str) -> Any:
        """A psycopg2 connection to the primary, autocommitting."""
        connection = psycopg2.connect(self.url(database, **credentials))
        connection.autocommit = True
        return connection

    def superuser(self) -> Any:
        return self.connect("postgres", user=SUPERUSER, password=SUPERUSER_PASSWORD)

    def state(self) -> list[dict[str, Any]]:
        """Patroni's view of the members (GET /cluster), asked of any member that answers."""
        for member in self.members:
            try:
                answer = requests.get(f"http://127.0.0.1:{member.rest_port}/cluster", timeout=2)
            except requests.RequestException:
                continue
            if answer.ok:
                return answer.json()["members"]
        return []

    def leader(self) -> Member | None:
        names = [each["name"] for each in self.state() if each["role"] == "leader"]
        return next((member for member in self.members if member.name in names), None)

    def healthy(self, *, synchronous: bool) -> bool:
        """A running leader and two streaming standbys; one synchronous in synchronous mode."""
        members = self.state()
        roles = sorted(
            each["role"] for each in members if each["state"] in ("running", "streaming")
        )
        standby = "sync_standby" if synchronous else "replica"
        return roles == sorted(["leader", standby, "replica" if synchronous else standby])

    def wait_until_healthy(self, *, synchronous: bool) -> Member:
        wait_until(
            lambda: self.healthy(synchronous=synchronous),
            timeout=FAILOVER_DEADLINE_SECONDS * 2,
            interval=0.5,
            what=f"a leader and two standbys of {NAME}",
        )
        leader = self.leader()
        assert leader is not None
        return leader

    def wait_for_new_leader(self, old: Member) -> Member:
        def new_leader() -> Member | None:
            leader = self.leader()
            return leader if leader is not None and leader != old else None

        return wait_until(
            new_leader, timeout=FAILOVER_DEADLINE_SECONDS, interval=0.2, what="a new leader"
        )

    def set_mode(self, *, synchronous: bool) -> None:
        self.script("mode", "synchronous" if synchronous else "asynchronous")

    def configure(self, **settings: object) -> None:
        """Change the cluster's dynamic configuration (PATCH /config), as patronictl
        edit-config does."""
        leader = self.leader()
        assert leader is not None, "a leader to ask"
        answer = requests.patch(
            f"http://127.0.0.1:{leader.rest_port}/config",
            json=settings,
            auth=("patroni", local_secret("patroni-rest")),
            timeout=10,
        )
        assert answer.ok, answer.text

    def kill_postgres(self, member: Member) -> None:
        """kill -9 the member's postmaster alone, as a crash of it would."""
        os.kill(member.postmaster_pid(), signal.SIGKILL)

    def kill_patroni(self, member: Member) -> None:
        """kill -9 the member's Patroni: its postgres runs on, unwatched."""
        os.kill(member.patroni_pid(), signal.SIGKILL)

    def hold_wal(self, member: Member) -> list[int]:
        """Stop the member's WAL senders (SIGSTOP): its commits go on, and no standby gets
        them. The pids, for `crash_holding_wal`."""
        member_server = psycopg2.connect(
            host="127.0.0.1",
            port=member.port,
            user=SUPERUSER,
            password=SUPERUSER_PASSWORD,
            dbname="postgres",
        )
        with closing(member_server) as server, server.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_replication")
            senders = [pid for (pid,) in cursor.fetchall()]
        assert senders, "the primary has standbys"
        for pid in senders:
            os.kill(pid, signal.SIGSTOP)
        return senders

    def crash_holding_wal(self, member: Member, senders: list[int]) -> None:
        """kill -9 the member's postgres and its held WAL senders together: what they held
        never leaves, as when the machine goes."""
        os.kill(member.postmaster_pid(), signal.SIGKILL)
        for pid in senders:
            os.kill(pid, signal.SIGKILL)

    def heal(self) -> None:
        """Start what is not running: a killed Patroni takes its member back as a standby."""
        self.script("start")
