"""The latency and consumer figures of a run as PNG plots, so that the knee shows at a glance.

    python -m bench.plots bench/results/2026-12-01T020100+0000.json   # drawn again into docs/

`bench.run` draws them after each run that measured latency or the consumer. matplotlib's
object interface draws without a display (the Agg canvas), and keeps no state between plots.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bench import baseline
from harness.project import PROJECT_DIR

LATENCY_PLOT = "latency-vs-rate.png"
CONSUMER_PLOT = "throughput-vs-workers.png"
# The latency targets at 200 orders/s: p50 <= 20 ms, p99 <= 100 ms.
P50_TARGET_MS, P99_TARGET_MS = 20, 100
PERCENTILES = (("p50", "p50_ms", "tab:blue"), ("p95", "p95_ms", "tab:orange"),
               ("p99", "p99_ms", "tab:red"))  # fmt: skip
DPI = 110


def write(
    results: dict[str, Any], directory: Path, before: dict[str, Any] | None = None
) -> list[Path]:
    """The plots of what the run measured, written into `directory`; `before` (a baseline)
    is drawn faintly behind the latency."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if results.get("latency"):
        written.append(directory / LATENCY_PLOT)
        latency_against_rate(results, written[-1], before)
    if rows := configured_queue_rows(results):
        written.append(directory / CONSUMER_PLOT)
        throughput_against_workers(rows, written[-1], started_at=results.get("started_at"))
    return written


def latency_against_rate(
    results: dict[str, Any], path: Path, before: dict[str, Any] | None
) -> None:
    """p50, p95 and p99 of commit -> handled against the offered rate, on a log scale."""
    phases = sorted(results["latency"], key=lambda phase: phase["rate"])
    rates = [phase["rate"] for phase in phases]
    figure = Figure(figsize=(8, 5), layout="constrained")
    axes = figure.subplots()
    for label, key, colour in PERCENTILES:
        axes.plot(rates, [phase[key] for phase in phases], "o-", color=colour, label=label)
    if before and before.get("latency"):
        old = sorted(before["latency"], key=lambda phase: phase["rate"])
        for label, key, colour in (PERCENTILES[0], PERCENTILES[2]):
            axes.plot(
                [phase["rate"] for phase in old], [phase[key] for phase in old], "x--",
                color=colour, alpha=0.4, label=f"{label} before ({before['commit']})",
            )  # fmt: skip
    axes.axhline(P50_TARGET_MS, color="tab:blue", linestyle=":", label="p50 target, 20 ms")
    axes.axhline(P99_TARGET_MS, color="tab:red", linestyle=":", label="p99 target, 100 ms")
    for phase in phases:
        # The rate the API accepted: below the offered one, the machine is saturated.
        axes.annotate(
            f"{phase['achieved_rate']:.0f}/s\naccepted",
            (phase["rate"], phase["p99_ms"]),
            textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8,
        )  # fmt: skip
    axes.set_yscale("log")
    # Room above the highest point for its label.
    axes.set_ylim(top=4 * max(P99_TARGET_MS, *(phase["p99_ms"] for phase in phases)))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.set_xticks(rates)
    axes.set_xlabel("orders offered per second")
    axes.set_ylabel("order committed -> handled by inventory (ms, log scale)")
    axes.set_title(f"Latency against rate ({started(results)})")
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left")
    figure.savefig(path, dpi=DPI)


def configured_queue_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The consumer rows of the queue type that ran with several worker counts."""
    rows = results.get("consumer") or []
    configured = results.get("queue_type")
    return sorted(
        (row for row in rows if row["queue_type"] == configured), key=lambda row: row["workers"]
    )


def throughput_against_workers(
    rows: Sequence[dict[str, Any]], path: Path, *, started_at: str | None
) -> None:
    """Events/s of N workers beside pgbench's batched rate with N clients, the ceiling."""
    figure = Figure(figsize=(8, 5), layout="constrained")
    axes = figure.subplots()
    positions = range(len(rows))
    width = 0.38
    workers = axes.bar(
        [position - width / 2 for position in positions], [row["eps"] for row in rows], width,
        label="workers (events/s)", color="tab:green",
    )  # fmt: skip
    axes.bar(
        [position + width / 2 for position in positions],
        [row["postgres_eps"] for row in rows], width,
        label="pgbench, batched, one client per worker (ceiling)", color="tab:gray",
    )  # fmt: skip
    axes.bar_label(
        workers,
        labels=[f"{row['eps']:.0f}/s\n{row['ratio']:.2f} of pgbench" for row in rows],
        fontsize=8,
        padding=2,
    )
    axes.set_xticks(list(positions), [str(row["workers"]) for row in rows])
    axes.set_xlabel(f"worker processes ({rows[0]['queue_type']} queue)")
    axes.set_ylabel("events handled per second")
    axes.set_title(
        f"Consumer throughput against workers, backlog {rows[0]['size']:,} ({started_at or 'run'})"
    )
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left")
    figure.savefig(path, dpi=DPI)


def started(results: dict[str, Any]) -> str:
    return results.get("started_at", "run")


def main(argv: list[str]) -> list[Path]:
    parser = argparse.ArgumentParser(prog="python -m bench.plots", description=__doc__)
    parser.add_argument("results", type=Path, help="a results JSON written by bench.run")
    parser.add_argument("--plots-dir", type=Path, default=PROJECT_DIR / "docs")
    parser.add_argument("--baseline", type=Path, default=baseline.BASELINE_FILE)
    arguments = parser.parse_args(argv)
    written = write(
        json.loads(arguments.results.read_text()),
        arguments.plots_dir,
        baseline.load(arguments.baseline),
    )
    for path in written:
        print(f"Plot written to {path}")
    return written


if __name__ == "__main__":
    main(sys.argv[1:])
