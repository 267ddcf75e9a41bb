"""The relay is woken after the commit, no longer from inside it.

The trigger of migration 0004 sent the wake-up inside the writing transaction, which makes
every such commit take a database-wide lock through its WAL flush: concurrent writers of
outbox rows committed one at a time. `outbox.core.store.save` now sends the wake-up once the
transaction has committed (`outbox.core.relay_wakeup`); rows written by other means are published
by the relay's sweep.
"""

from django.db import migrations

DROP = """
DROP TRIGGER outbox_wake_relay ON outbox_outboxevent;
DROP FUNCTION outbox_wake_relay();
"""

# Migration 0004's trigger, as it was.
CREATE = """
CREATE FUNCTION outbox_wake_relay() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox_relay_wakeup', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_wake_relay AFTER INSERT ON outbox_outboxevent
FOR EACH STATEMENT EXECUTE FUNCTION outbox_wake_relay();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0006_audit_recorded_at_index"),
    ]

    operations = [migrations.RunSQL(DROP, CREATE)]
