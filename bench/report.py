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
CONSUMER_TARGET = 0.7
CONSUMER = (
    "Consumer: receive-queue backlog -> handled (events/s). pgbench sends the worker's batched"
    " statements with one client per worker;\nworker/client = events/s per worker / pgbench"
    f" events/s per client (target >= {CONSUMER_TARGET})",
    [
        ("backlog", "size"),
        ("queue", "queue_type"),
        ("workers", "workers"),
        ("events/s", "eps"),
        ("per worker", lambda r: r["eps"] / r["workers"]),
        ("events/txn", "events_per_transaction"),
        ("pgbench", "postgres_eps"),
        ("per client", lambda r: r["postgres_eps"] / r["workers"]),
        ("worker/client", "ratio"),
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


def render(results: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """Every table of a run's results, in the order they were measured, then the comparisons
    with the baseline (the figures of the code before a change), where both measured."""
    sections = [
        table(title, columns, rows)
        for (title, columns), rows in (
            (RELAY, results.get("relay")),
            (CONSUMER, results.get("consumer")),
            (CLAIM_PLAN, [results["claim_plan"]] if "claim_plan" in results else None),
            (LATENCY, results.get("latency")),
            (LATENCY_CPU, results.get("latency")),
        )
        if rows
    ]
    if baseline:
        sections += [
            section
            for section in (
                cpu_before_and_after(baseline, results.get("latency") or []),
                consumer_before_and_after(baseline, results.get("consumer") or []),
            )
            if section
        ]
    return "\n\n".join(sections)


def render_telemetry(rows: Sequence[Row]) -> str:
    return table(*TELEMETRY, rows)


def before_and_after_title(what: str, baseline: dict[str, Any]) -> str:
    return (
        f"Before and after: {what}\nbefore = commit {baseline['commit']}, run"
        f" {baseline.get('started_at', '?')}, load average {baseline['load_average']}"
    )


def cpu_before_and_after(baseline: dict[str, Any], latency: Sequence[Row]) -> str:
    """CPU per order by part before and now, and now/before, at each rate both measured."""
    before = {row["rate"]: row["cpu_ms_per_order"] for row in baseline.get("latency", [])}
    now = {row["rate"]: row["cpu_ms_per_order"] for row in latency}
    rates = [rate for rate in now if rate in before]
    if not rates:
        return ""
    measured = {part for rate in rates for part in (*before[rate], *now[rate])}
    # The usual parts in their usual order, then any part that only one side has.
    parts = [(header, part) for header, part in CPU_PARTS if part in measured]
    parts += [(part, part) for part in sorted(measured - {part for _, part in CPU_PARTS})]
    rows = []
    for rate in rates:
        for side, figures in (("before", before[rate]), ("now", now[rate])):
            rows.append({"rate": rate, "side": side, **figures, "total": sum(figures.values())})
        rows.append(
            {
                "rate": rate,
                "side": "now/before",
                **{
                    part: now[rate][part] / before[rate][part]
                    for _, part in parts
                    if part in now[rate] and before[rate].get(part)
                },
                "total": sum(now[rate].values()) / sum(before[rate].values()),
            }
        )
    columns: list[Column] = [
        ("orders/s", "rate"),
        ("", "side"),
        *((header, figure(part)) for header, part in (*parts, ("total", "total"))),
    ]
    return table(
        before_and_after_title("CPU per order by part (ms of one core)", baseline),
        columns,
        rows,
    )


def consumer_before_and_after(baseline: dict[str, Any], consumer: Sequence[Row]) -> str:
    """Consumer rates before and now, for each backlog, queue type and worker count both ran."""

    def key(row: Row) -> tuple[int, str, int]:
        return row["size"], row["queue_type"], row["workers"]

    before = {key(row): row for row in baseline.get("consumer", [])}
    rows = [{"before": before[key(row)], "now": row} for row in consumer if key(row) in before]
    if not rows:
        return ""
    columns: list[Column] = [
        ("backlog", lambda r: r["now"]["size"]),
        ("queue", lambda r: r["now"]["queue_type"]),
        ("workers", lambda r: r["now"]["workers"]),
        ("events/s before", lambda r: r["before"]["eps"]),
        ("events/s now", lambda r: r["now"]["eps"]),
        ("now/before", lambda r: r["now"]["eps"] / r["before"]["eps"]),
        ("worker/client before", lambda r: r["before"]["ratio"]),
        ("worker/client now", lambda r: r["now"]["ratio"]),
    ]
    return table(
        before_and_after_title("consumer (events/s; worker/client as above)", baseline),
        columns,
        rows,
    )


def figure(key: str) -> Callable[[Row], Any]:
    return lambda row: row.get(key)


def table(title: str, columns: Sequence[Column], rows: Sequence[Row]) -> str:
    """A titled table with right-aligned columns."""
    cells = [[header for header, _ in columns]]
    for row in rows:
        cells.append(
            [cell(row[value] if isinstance(value, str) else value(row)) for _, value in columns]
        )
    widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]
    lines = [title, "-" * max(len(line) for line in title.splitlines())]
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
