"""Beat's sweep and retention run once per service now (`sweep-outbox-<service>`, ...), each on
that service's database: the schedule entries of one task for the whole system go."""

from django.apps.registry import Apps
from django.db import migrations, router
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

SYSTEM_WIDE_ENTRIES = ("sweep-outbox", "purge-expired-records")


def delete_system_wide_entries(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    database = schema_editor.connection.alias
    if router.allow_migrate_model(database, periodic_task):
        periodic_task.objects.using(database).filter(name__in=SYSTEM_WIDE_ENTRIES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0004_relay_wakeup_trigger"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(delete_system_wide_entries, migrations.RunPython.noop)]
