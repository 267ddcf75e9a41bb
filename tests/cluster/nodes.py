"""The test cluster: three RabbitMQ nodes of scripts/cluster.sh on ports of their own, and
the ways a test hurts them (kill -9, a graceful stop) and heals them."""

import dataclasses
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import requests

from harness.project import PROJECT_DIR, local_secret
from harness.waiting import wait_until

# The broker's administrator, as scripts/services.sh makes it on every node of this clone.
USER = "admin"
PASSWORD = local_secret("rabbitmq-admin")
VHOST = "ecommerce_test"
# Beside the single node of scripts/services.sh (AMQP 5672, management 15672, distribution
# 25672), which the other tests use and which must keep running.
AMQP_PORT_BASE, MANAGEMENT_PORT_BASE, DIST_PORT_BASE = 5682, 15682, 25682
CLUSTER_NAME = "ecommerce-test"
NODE_COUNT = 3
SCRIPT_ENV = {
    "CLUSTER_NAME": CLUSTER_NAME,
    "CLUSTER_AMQP_PORT_BASE": str(AMQP_PORT_BASE),
    "CLUSTER_MGMT_PORT_BASE": str(MANAGEMENT_PORT_BASE),
    "CLUSTER_DIST_PORT_BASE": str(DIST_PORT_BASE),
}
# Starting three nodes and joining two of them takes about a minute on a small machine.
SCRIPT_TIMEOUT_SECONDS = 300


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    amqp_port: int
    management_port: int

    def url(self) -> str:
        return f"amqp://{USER}:{PASSWORD}@127.0.0.1:{self.amqp_port}/{VHOST}"


class Cluster:
    """The nodes, seen and handled through scripts/cluster.sh and the management API."""

    def __init__(self) -> None:
        names = [CLUSTER_NAME] + [f"{CLUSTER_NAME}-{i}" for i in range(2, NODE_COUNT + 1)]
        self.nodes = [
            Node(f"{name}@localhost", AMQP_PORT_BASE + i, MANAGEMENT_PORT_BASE + i)
            for i, name in enumerate(names)
        ]

    def broker_url(self, first: int = 0) -> str:
        """The failover list of every node, starting with node number `first`."""
        ordered = self.nodes[first:] + self.nodes[:first]
        return ";".join(node.url() for node in ordered)

    def script(self, command: str) -> None:
        """Run scripts/cluster.sh start, stop or status on the test cluster's ports."""
        result = subprocess.run(
            [str(PROJECT_DIR / "scripts" / "cluster.sh"), command],
            env={**os.environ, **SCRIPT_ENV},
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_SECONDS,
        )
        if result.returncode != 0:
            raise AssertionError(f"cluster.sh {command} failed:\n{result.stdout}{result.stderr}")

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A management API request, answered by the first node that is up."""
        for node in self.nodes:
            try:
                return requests.request(
                    method,
                    f"http://127.0.0.1:{node.management_port}/api{path}",
                    auth=(USER, PASSWORD),
                    timeout=10,
                    **kwargs,
                )
            except requests.ConnectionError:
                continue
        raise AssertionError("no node of the test cluster answers on its management port")

    def fresh_vhost(self) -> None:
        """Delete the test vhost with everything in it, and create it again."""
        self.api("DELETE", f"/vhosts/{VHOST}")
        self.api("PUT", f"/vhosts/{VHOST}").raise_for_status()
        every_right = {"configure": ".*", "write": ".*", "read": ".*"}
        self.api("PUT", f"/permissions/{VHOST}/{USER}", json=every_right).raise_for_status()

    def running_nodes(self) -> set[str]:
        return {node["name"] for node in self.api("GET", "/nodes").json() if node["running"]}

    def node_of(self, pid: int) -> Node:
        """The node that a process is connected to (by its connections' ports)."""
        ports = local_tcp_ports(pid)

        def connected_node() -> str | None:
            for connection in self.api("GET", f"/vhosts/{VHOST}/connections").json():
                if connection.get("peer_port") in ports:
                    return connection["node"]
            return None

        name = wait_until(connected_node, timeout=60, what=f"a connection of process {pid}")
        return next(node for node in self.nodes if node.name == name)

    def os_pid(self, node: Node) -> int:
        """The process id of the node's Erlang VM, once the management API has it (a node
        that has just started again is listed a few seconds before its statistics are)."""
        return int(
            wait_until(
                lambda: self.api("GET", f"/nodes/{node.name}").json().get("os_pid"),
                timeout=60,
                what=f"the process id of {node.name}",
            )
        )

    def kill(self, node: Node) -> None:
        """kill -9 the node's Erlang VM (beam.smp): no goodbye to clients or peers."""
        os_pid = self.os_pid(node)
        os.kill(os_pid, signal.SIGKILL)
        wait_until(
            lambda: node.name not in self.running_nodes(), timeout=60, what=f"{node.name} down"
        )

    def stop(self, node: Node) -> None:
        """Stop the node as an operator does before a restart (`rabbitmqctl stop`)."""
        os_pid = self.os_pid(node)
        subprocess.run(
            ["rabbitmqctl", "-n", node.name, "stop"], check=True, capture_output=True, timeout=120
        )
        wait_until(lambda: not Path(f"/proc/{os_pid}").exists(), what=f"{node.name} stopped")

    def heal(self) -> None:
        """Start whatever node is down, and wait until every quorum queue has a replica online
        on every node again: only then may the next node go."""
        self.script("start")
        names = {node.name for node in self.nodes}

        def replicated() -> bool:
            queues = self.api("GET", f"/queues/{VHOST}").json()
            quorum = [queue for queue in queues if queue.get("type") == "quorum"]
            return bool(quorum) and all(set(queue.get("online", [])) == names for queue in quorum)

        wait_until(replicated, timeout=120, interval=0.5, what="every quorum queue on every node")

    def queue_depths(self, suffix: str) -> dict[str, int]:
        """Messages in the test vhost's queues whose names end with `suffix`."""
        return {
            queue["name"]: queue.get("messages", 0)
            for queue in self.api("GET", f"/queues/{VHOST}").json()
            if queue["name"].endswith(suffix)
        }


def local_tcp_ports(pid: int) -> set[int]:
    """The local ports of a process's TCP sockets, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
