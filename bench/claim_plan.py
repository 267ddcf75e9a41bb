"""The relay's claim query with many published rows present: it must read only pending ones.

Published rows are added server-side (one realistic payload, repeated) until the table holds
the wanted number, then a batch of pending rows; `EXPLAIN (ANALYZE, BUFFERS)` of the claim
shows which indexes it used and how many pages it touched, against the size of the table.
"""

import json
from typing import Any

from django.db import connection, transaction

from bench import backlog
from outbox.core.relay import CLAIM_BATCH_SQL
from outbox.core.store import outbox_row

ADD_PUBLISHED_SQL = """
INSERT INTO outbox_outboxevent (event_id, event_type, service, aggregate_type, aggregate_id,
                                aggregate_version, payload, created_at, published_at, attempts,
                                last_error)
SELECT gen_random_uuid(), 'ProductCreatedEvent', 'product', 'Product', md5(n::text), 1,
       %s::jsonb, now(), now(), 0, ''
FROM generate_series(1, %s) AS n
"""


def check_claim_plan(*, published: int, pending: int, batch_size: int) -> dict[str, Any]:
    """Plan of one claim among `published` published and `pending` pending rows."""
    backlog.truncate_tables()
    sample = json.dumps(outbox_row(next(backlog.product_events(1))).payload)
    with connection.cursor() as cursor:
        cursor.execute(ADD_PUBLISHED_SQL, [sample, published])
    backlog.insert_pending(pending)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE outbox_outboxevent")
        cursor.execute("SELECT relpages FROM pg_class WHERE relname = 'outbox_outboxevent'")
        table_pages = cursor.fetchone()[0]
    from_the_start = [0, batch_size]  # a drain's first claim: after id 0, one batch
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + CLAIM_BATCH_SQL, from_the_start)
        [[plan]] = cursor.fetchall()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + CLAIM_BATCH_SQL, from_the_start)
        text = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    nodes = list(plan_nodes(plan[0]["Plan"]))
    top = plan[0]["Plan"]
    return {
        "published_rows": published,
        "pending_rows": pending,
        "table_pages": table_pages,
        "pages_touched": top["Shared Hit Blocks"] + top["Shared Read Blocks"],
        "execution_ms": plan[0]["Execution Time"],
        "indexes": sorted({node["Index Name"] for node in nodes if "Index Name" in node}),
        "sequential_scans": sum(node["Node Type"] == "Seq Scan" for node in nodes),
        "plan": text,
    }


def plan_nodes(node: dict[str, Any]) -> Any:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)
