-- One event handled by the inventory consumer, statement for statement as the worker sends it
-- (outbox.consumer.handle_message -> inventory.handlers.create_inventory, then the relay's
-- wake-up and the audit trail's after-commit record); run by pgbench as the ceiling.
-- The ids the worker reads from the message are drawn first, outside the transaction.
SELECT replace(gen_random_uuid()::text, '-', '') AS event_id, gen_random_uuid() AS product_id,
       gen_random_uuid() AS inventory_id, gen_random_uuid() AS outbox_event_id \gset
BEGIN;
INSERT INTO outbox_processedevent (consumer, event_id, event_type, processed_at)
VALUES ('inventory', ':event_id', 'ProductCreatedEvent', now())
ON CONFLICT (consumer, event_id) DO NOTHING
RETURNING id;
SELECT version, id, product_id, product_name, product_version, remaining, updated_at
FROM inventory_inventory WHERE product_id = ':product_id'::uuid ORDER BY product_name ASC LIMIT 1;
SAVEPOINT handler;
INSERT INTO inventory_inventory (version, id, product_id, product_name, product_version, remaining, updated_at)
VALUES (1, ':inventory_id'::uuid, ':product_id'::uuid, 'Product 1', 1, 0, now());
INSERT INTO outbox_outboxevent (event_id, event_type, service, aggregate_type, aggregate_id, aggregate_version, payload, created_at, published_at, attempts, last_error)
VALUES (':outbox_event_id'::uuid, 'InventoryCreatedEvent', 'inventory', 'Inventory', replace(':inventory_id', '-', ''), 1, '{"specversion": "1.0", "id": "af091ba5c7394ff49182de6c9b7099e0", "type": "InventoryCreatedEvent", "source": "/inventory", "time": "2026-11-23T13:05:30.982763+00:00", "subject": "dff5d8e90a8b492cbe00573c7441fde3", "datacontenttype": "application/json", "aggregatetype": "Inventory", "aggregateversion": 1, "data": {"productId": "0c65cf3cbdec40c19fdd1475a054bcd6", "productName": "Product 1", "remaining": 0}}'::jsonb, now(), NULL, 0, '')
RETURNING id;
RELEASE SAVEPOINT handler;
COMMIT;
NOTIFY outbox_relay_wakeup;
BEGIN;
INSERT INTO outbox_auditrecord (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, data, outcome, occurred_at, recorded_at)
VALUES (':outbox_event_id'::uuid, 'InventoryCreatedEvent', 'Inventory', replace(':inventory_id', '-', ''), 1, '{"productId": "0c65cf3cbdec40c19fdd1475a054bcd6", "productName": "Product 1", "remaining": 0}'::jsonb, 'committed', now(), now())
RETURNING id;
COMMIT;
