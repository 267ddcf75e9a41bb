"""The statements a worker sends to handle a batch of events, as a pgbench script.

This is the consumer benchmark's ceiling: PostgreSQL's own rate for the worker's statements.
They were captured from a worker handling ProductCreatedEvents for the inventory consumer
(`outbox.core.consumer.handle_batch` -> `inventory.handlers.create_inventory`, then the audit
trail's after-commit records): per batch, one transaction holding the inbox records of the
whole batch in one statement, then the handling of every event in one savepoint; then one
transaction holding the batch's audit records in one statement. A batch of one is what a
consumer that commits each event alone would send. The ids the worker reads from the messages
are drawn first, outside the transactions.
"""

# "{n}" stands for the event's number in the batch.
IDS = (
    "SELECT replace(gen_random_uuid()::text, '-', '') AS event_id_{n},"
    " gen_random_uuid() AS product_id_{n}, gen_random_uuid() AS inventory_id_{n},"
    " gen_random_uuid() AS outbox_event_id_{n} \\gset"
)
EVENT_DATA = (
    '{"productId": "0c65cf3cbdec40c19fdd1475a054bcd6", "productName": "Product 1", "remaining": 0}'
)
RECORD_BATCH = """INSERT INTO outbox_processedevent (consumer, event_id, event_type, processed_at)
VALUES {rows}
ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id;"""
RECORD_ROW = "('inventory', ':event_id_{n}', 'ProductCreatedEvent', now())"
HANDLE_EVENT = f"""INSERT INTO inventory_inventory
(id, version, product_id, product_name, product_version, remaining, updated_at)
VALUES (':inventory_id_{{n}}'::uuid, 1, ':product_id_{{n}}'::uuid, 'Product 1', 1, 0, now())
ON CONFLICT DO NOTHING RETURNING id;
INSERT INTO outbox_outboxevent (event_id, event_type, service, aggregate_type, aggregate_id,
aggregate_version, payload, created_at, published_at, attempts, last_error)
VALUES (':outbox_event_id_{{n}}'::uuid, 'InventoryCreatedEvent', 'inventory', 'Inventory',
replace(':inventory_id_{{n}}', '-', ''), 1, '{{"specversion": "1.0",
"id": "af091ba5c7394ff49182de6c9b7099e0", "type": "InventoryCreatedEvent",
"source": "/inventory", "time": "2026-11-23T13:05:30.982763+00:00",
"subject": "dff5d8e90a8b492cbe00573c7441fde3", "datacontenttype": "application/json",
"aggregatetype": "Inventory", "aggregateversion": 1, "data": {EVENT_DATA}}}'::jsonb,
now(), NULL, 0, '');"""
AUDIT_BATCH = """INSERT INTO outbox_auditrecord (event_id, event_type, aggregate_type, aggregate_id,
aggregate_version, data, outcome, occurred_at, recorded_at)
VALUES {rows};"""
AUDIT_ROW = f"""(':outbox_event_id_{{n}}'::uuid, 'InventoryCreatedEvent', 'Inventory',
replace(':inventory_id_{{n}}', '-', ''), 1, '{EVENT_DATA}'::jsonb, 'committed', now(), now())"""


def pgbench_script(batch_size: int) -> str:
    """One pgbench transaction = one batch of `batch_size` events, as the worker handles it."""
    events = range(batch_size)
    return "\n".join(
        [
            *(for_event(IDS, n) for n in events),
            "BEGIN;",
            RECORD_BATCH.replace("{rows}", ",\n".join(for_event(RECORD_ROW, n) for n in events)),
            "SAVEPOINT batch;",
            *(for_event(HANDLE_EVENT, n) for n in events),
            "RELEASE SAVEPOINT batch;",
            "COMMIT;",
            "BEGIN;",
            AUDIT_BATCH.replace("{rows}", ",\n".join(for_event(AUDIT_ROW, n) for n in events)),
            "COMMIT;",
            "",
        ]
    )


def for_event(statements: str, n: int) -> str:
    """The statements with the variables of the batch's event number `n`."""
    return statements.replace("{n}", str(n))
