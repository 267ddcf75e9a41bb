"""In-process listeners: at most once, in a chosen phase of the publishing transaction.

Start with `listeners` (in the same transaction, before commit, after commit, after rollback,
after completion, or asynchronously in a worker). The core's store hands them every saved event
through the `outbox.core.signals.event_saved` signal; the phases come from the database ENGINE
(`outbox.postgresql.transaction_phases`). `audit` is one use: the audit trail of every event.
"""
