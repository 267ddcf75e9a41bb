"""CPU time spent by each part of the running system, read from /proc (Linux).

What bounds the latency at a high order rate is the machine's CPU, shared by every part: the
web server, the relay, the workers, PostgreSQL, RabbitMQ and the load generator itself. These
counters say how many milliseconds of CPU each part spends per order.
"""

import os
from pathlib import Path
from typing import NamedTuple

from harness.processes import Processes

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Server processes, by the program name in /proc/<pid>/stat. PostgreSQL's count includes
# other databases' sessions on the same server, if any are busy.
SERVERS = {"postgres": "postgresql", "beam.smp": "rabbitmq"}


class Process(NamedTuple):
    program: str
    parent: int
    cpu_seconds: float


def cpu_seconds(children: Processes) -> dict[str, float]:
    """CPU seconds (user + system) spent so far by each part, children with their descendants.

    A process counts with its children that have ended (the kernel adds their time to it when
    it reaps them), so that a PostgreSQL backend or autovacuum worker that ends between two
    readings is not lost from its part.
    """
    processes = list_processes()
    parts: dict[str, float] = {}
    roots = {process.pid: name for name, process in children.running.items()}
    roots[os.getpid()] = "load generator"
    for pid, process in processes.items():
        part = SERVERS.get(process.program) or owner(pid, roots, processes)
        if part:
            parts[part] = parts.get(part, 0.0) + process.cpu_seconds
    return parts


def owner(pid: int, roots: dict[int, str], processes: dict[int, Process]) -> str:
    """The name of the root process that `pid` is or descends from, or ''."""
    while pid in processes:
        if pid in roots:
            return roots[pid]
        pid = processes[pid].parent
    return ""


def list_processes() -> dict[int, Process]:
    """Every process, by pid."""
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        program = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        parent = int(fields[1])
        # utime, stime, then cutime, cstime: the ended children's, once reaped.
        ticks = sum(int(field) for field in fields[11:15])
        processes[int(entry.name)] = Process(program, parent, ticks / CLOCK_TICKS)
    return processes


def spent_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each part spent between two readings."""
    return {part: after[part] - before.get(part, 0.0) for part in after if part in before}
