"""Reservations record the units they hold, so that a cancellation puts back exactly those.

Reservations made before this migration keep `held` null: their cancellation puts back the
items its event carries, what their order was created with (they cannot have changed).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0002_stockreservation'),
    ]

    operations = [
        migrations.AddField(
            model_name='stockreservation',
            name='held',
            field=models.JSONField(help_text='Units taken out of stock for the order now, by product id: what a cancellation puts back. Null for a reservation made before they were recorded.', null=True),
        ),
        migrations.AddField(
            model_name='stockreservation',
            name='order_version',
            field=models.PositiveIntegerField(default=0, help_text='Version of the last order change or cancellation applied.'),
        ),
        migrations.AlterField(
            model_name='stockreservation',
            name='status',
            field=models.CharField(choices=[('RESERVED', 'Reserved'), ('REJECTED', 'Rejected'), ('CANCELLED', 'Cancelled')], max_length=20),
        ),
    ]
