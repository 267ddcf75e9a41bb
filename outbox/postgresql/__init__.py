"""PostgreSQL with the transaction phases of `outbox.postgresql.transaction_phases`.

Use it as the database ENGINE: `"ENGINE": "outbox.postgresql"`.
"""
