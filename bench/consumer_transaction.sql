-- One event handled by the inventory consumer, statement for statement as the worker sends it
-- (outbox.consumer.handle_message -> inventory.handlers.create_inventory): run by pgbench.
BEGIN;
INSERT INTO outbox_processedevent (consumer, event_id, event_type, processed_at)
VALUES ('inventory', replace(gen_random_uuid()::text, '-', ''), 'ProductCreatedEvent', now())
ON CONFLICT (consumer, event_id) DO NOTHING
RETURNING id;
SELECT version, id, product_id, product_name, product_version, remaining, updated_at
FROM inventory_inventory WHERE product_id = gen_random_uuid() ORDER BY product_name ASC LIMIT 1;
SAVEPOINT handler;
INSERT INTO inventory_inventory (version, id, product_id, product_name, product_version, remaining, updated_at)
VALUES (1, gen_random_uuid(), gen_random_uuid(), 'Product 1', 1, 0, now());
INSERT INTO outbox_outboxevent (event_id, event_type, service, aggregate_type, aggregate_id, aggregate_version, payload, created_at, published_at, attempts, last_error)
VALUES (gen_random_uuid(), 'InventoryCreatedEvent', 'inventory', 'Inventory', replace(gen_random_uuid()::text, '-', ''), 1, '{"specversion": "1.0", "id": "af091ba5c7394ff49182de6c9b7099e0", "type": "InventoryCreatedEvent", "source": "/inventory", "time": "2026-11-23T13:05:30.982763+00:00", "subject": "dff5d8e90a8b492cbe00573c7441fde3", "datacontenttype": "application/json", "aggregatetype": "Inventory", "aggregateversion": 1, "data": {"productId": "0c65cf3cbdec40c19fdd1475a054bcd6", "productName": "Product 1", "remaining": 0}}'::jsonb, now(), NULL, 0, '')
RETURNING id;
RELEASE SAVEPOINT handler;
COMMIT;
NOTIFY outbox_relay_wakeup;
