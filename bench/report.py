"""The results of a run as plain-text tables."""
from collections.abc import Sequence
from typing import Any


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A titled table with right-aligned columns."""
    cells = [list(headers)] + [[format_cell(value) for value in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = [title, "-" * len(title)]
    for index, row in enumerate(cells):
        lines.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths)))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(results: dict[str, Any]) -> str:
    """Every table of a run's results, in the order they were measured."""
    sections = []
    if results.get("relay"):
        sections.append(
            table(
                "Relay: pending outbox rows -> confirmed and marked (events/s)",
                ["pending", "raw ceiling", "1 relay", "2 relays", "1 relay/ceil", "2 relays/ceil",
                 "us/event (1 relay)"],
                [
                    [r["size"], r["raw_eps"], r["relay_1_eps"], r["relay_2_eps"], r["ratio_1"],
                     r["ratio_2"], 1e6 / r["relay_1_eps"]]
                    for r in results["relay"]
                ],
            )  # fmt: skip
        )
    if results.get("consumer"):
        sections.append(
            table(
                "Consumer: receive-queue backlog -> handled (events/s)",
                ["backlog", "1 worker", "2 workers", "pgbench 1 client", "pgbench 2 clients",
                 "1 worker/pg", "2 workers/pg", "us/event (1 worker)"],
                [
                    [r["size"], r["workers_1_eps"], r["workers_2_eps"], r["postgres_1_tps"],
                     r["postgres_2_tps"], r["ratio_1"], r["ratio_2"], 1e6 / r["workers_1_eps"]]
                    for r in results["consumer"]
                ],
            )  # fmt: skip
        )
    if results.get("claim_plan"):
        plan = results["claim_plan"]
        sections.append(
            table(
                "Relay claim query (EXPLAIN ANALYZE)",
                ["published rows", "pending rows", "pages touched", "table pages", "seq scans",
                 "ms", "indexes"],
                [[plan["published_rows"], plan["pending_rows"], plan["pages_touched"],
                  plan["table_pages"], plan["sequential_scans"], plan["execution_ms"],
                  ", ".join(plan["indexes"])]],
            )  # fmt: skip
        )
    if results.get("latency"):
        sections.append(
            table(
                "Latency: order committed -> inventory handler (ms, from database timestamps)",
                ["orders/s", "achieved", "orders", "p50", "p95", "p99", "max", "claimed p50",
                 "claimed p99", "API p50", "errors"],
                [
                    [r["rate"], r["achieved_rate"], r["orders"], r["p50_ms"], r["p95_ms"],
                     r["p99_ms"], r["max_ms"], r["claimed_p50_ms"], r["claimed_p99_ms"],
                     r["api_p50_ms"], r["errors"] + r["not_sent"]]
                    for r in results["latency"]
                ],
            )  # fmt: skip
        )
    return "\n\n".join(sections)
