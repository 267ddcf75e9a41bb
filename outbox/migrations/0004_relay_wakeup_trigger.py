"""A committed outbox row wakes the relay, whoever wrote it.

The trigger sends the notification inside the writing transaction; PostgreSQL delivers it
only if that transaction commits, and once however many rows or statements it wrote. The
channel is `outbox.core.relay_wakeup.RELAY_WAKEUP_CHANNEL`.
"""

from django.db import migrations

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

DROP = """
DROP TRIGGER outbox_wake_relay ON outbox_outboxevent;
DROP FUNCTION outbox_wake_relay();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0003_audit_trail"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
