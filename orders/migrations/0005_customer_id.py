"""Orders, points and coupons refer to their customer by id: users may live in another database.

Migrations 0003 and 0004 create no foreign key constraint any more; a database that got one
from their earlier version loses it here.
"""

from django.db import migrations, models

DROP_CONSTRAINTS_TO_USERS = """
DO $$
DECLARE constraint_row record;
BEGIN
    FOR constraint_row IN
        SELECT conname, conrelid::regclass AS table_name
        FROM pg_constraint
        WHERE contype = 'f'
          AND confrelid = to_regclass('auth_user')
          AND conrelid IN (
              to_regclass('orders_order'),
              to_regclass('orders_loyaltypoints'),
              to_regclass('orders_coupon')
          )
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', constraint_row.table_name,
                       constraint_row.conname);
    END LOOP;
END $$;
"""

CUSTOMER_ID_HELP = "The id of the customer's user account."


def customer_id_field() -> models.IntegerField:
    return models.IntegerField(db_index=True, help_text=CUSTOMER_ID_HELP)


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_loyalty")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(DROP_CONSTRAINTS_TO_USERS, migrations.RunSQL.noop)
            ],
            state_operations=[
                operation
                for model in ("order", "loyaltypoints", "coupon")
                for operation in (
                    migrations.RemoveField(model_name=model, name="customer"),
                    migrations.AddField(
                        model_name=model,
                        name="customer_id",
                        field=customer_id_field(),
                        preserve_default=False,
                    ),
                )
            ],
        )
    ]
