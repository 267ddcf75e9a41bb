"""PostgreSQL with the transaction phases of `outbox.transaction_phases`.

Use it as the database ENGINE: `"ENGINE": "outbox.postgresql"`.
"""
