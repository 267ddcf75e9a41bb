"""The results of a run as plain-text tables."""

from collections.abc import Callable, Sequence
from typing import Any

Row = dict[str, Any]
# A column: its header, and the result key it shows or how to compute it from the result.
Column = tuple[str, str | Callable[[Row], Any]]

RELAY = (
    "Relay: pending outbox rows -> confirmed by the broker and marked (events/s)",
    [
        ("pending", "size"),
        ("queue", "queue_type"),
        ("raw ceiling", "raw_eps"),
        ("1 relay", "relay_1_eps"),
        ("2 relays", "relay_2_eps"),
        ("1 relay/ceiling", "ratio_1"),
        ("2 relays/ceiling", "ratio_2"),
        ("us/event (1 relay)", lambda r: 1e6 / r["relay_1_eps"]),
    ],
)
CONSUMER = (
    "Consumer: receive-queue backlog -> handled (events/s; pgbench in batches as the worker,"
    " one client per worker)",
    [
        ("backlog", "size"),
        ("queue", "queue_type"),
        ("workers", "workers"),
        ("events/s", "eps"),
        ("events/txn", "events_per_transaction"),
        ("pgbench", "postgres_eps"),
        ("workers/pg", "ratio"),
        ("pgbench unbatched", "postgres_eps_unbatched"),
        ("us/event/worker", lambda r: 1e6 * r["workers"] / r["eps"]),
    ],
)
CLAIM_PLAN = (
    "Relay claim query among published rows (EXPLAIN ANALYZE)",
    [
        ("published rows", "published_rows"),
        ("pending rows", "pending_rows"),
        ("table pages", "table_pages"),
        ("pages touched", "pages_touched"),
        ("seq scans", "sequential_scans"),
        ("ms", "execution_ms"),
        ("indexes", lambda r: ", ".join(r["indexes"])),
    ],
)
LATENCY = (
    "Latency: order committed -> handled by inventory (ms, from database timestamps)",
    [
        ("orders/s", "rate"),
        ("achieved", "achieved_rate"),
        ("orders", "orders"),
        ("p50", "p50_ms"),
        ("p95", "p95_ms"),
        ("p99", "p99_ms"),
        ("max", "max_ms"),
        ("claimed p50", "claimed_p50_ms"),
        ("claimed p99", "claimed_p99_ms"),
        ("orders/batch", "orders_per_relay_batch"),
        ("API p50", "api_p50_ms"),
        ("failed", lambda r: r["errors"] + r["not_sent"]),
    ],
)


def cpu_of(part: str) -> Callable[[Row], Any]:
    return lambda row: row["cpu_ms_per_order"].get(part)


CPU_PARTS = (
    ("web", "web"),
    ("relay", "relay"),
    ("inventory worker", "latency-inventory"),
    ("order+product worker", "latency-orders-products"),
    ("postgresql", "postgresql"),
    ("rabbitmq", "rabbitmq"),
    ("load generator", "load generator"),
)
LATENCY_CPU = (
    "CPU per order while the latency was measured (ms of one core, from /proc)",
    [
        ("orders/s", "rate"),
        *((header, cpu_of(part)) for header, part in CPU_PARTS),
        ("total", lambda r: sum(r["cpu_ms_per_order"].values())),
    ],
)


TELEMETRY = (
    "Telemetry: the same workloads with metrics and tracing on and off (ratio: median per"
    " repeat, to `off`; `off again` is the noise floor)",
    [
        ("setting", "setting"),
        ("relay events/s", "relay_eps"),
        ("relay ratio", "relay_ratio"),
        ("relay cpu us/event", "relay_cpu_us_per_event"),
        ("cpu ratio", "relay_cpu_ratio"),
        ("worker events/s", "consumer_eps"),
        ("worker ratio", "consumer_ratio"),
        ("worker cpu us/event", "consumer_cpu_us_per_event"),
        ("cpu ratio", "consumer_cpu_ratio"),
        ("spans", lambda r: r["relay_spans"] + r["consumer_spans"]),
        ("scrapes", lambda r: r["relay_scrapes"] + r["consumer_scrapes"]),
    ],
)


def render(results: dict[str, Any]) -> str:
    """Every table of a run's results, in the order they were measured."""
    sections = [
        table(title, columns, rows)
        for (title, columns), rows in (
            (RELAY, results.get("relay")),
            (CONSUMER, results.get("consumer")),
            (CLAIM_PLAN, [results["claim_plan"]] if "claim_plan" in results else None),
            (LATENCY, results.get("latency")),
            (LATENCY_CPU, results.get("latency")),
            (TELEMETRY, results.get("telemetry")),
        )
        if rows
    ]
    return "\n\n".join(sections)


def table(title: str, columns: Sequence[Column], rows: Sequence[Row]) -> str:
    """A titled table with right-aligned columns."""
    cells = [[header for header, _ in columns]]
    for row in rows:
        cells.append(
            [cell(row[value] if isinstance(value, str) else value(row)) for _, value in columns]
        )
    widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]
    lines = [title, "-" * len(title)]
    for index, line in enumerate(cells):
        lines.append("  ".join(text.rjust(width) for text, width in zip(line, widths, strict=True)))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
