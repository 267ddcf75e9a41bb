"""The path of an event, through the outbox, at least once. Read it in this order:

1. `events`, `aggregates`: a domain event, and the aggregate that raises it.
2. `store`: the aggregate's rows and its events' outbox rows, in one transaction.
3. `relay`, `publisher`: committed rows to RabbitMQ, with publisher confirms
   (`relay_wakeup` wakes it after a commit, `relay_process` runs it).
4. `topology`, `registry`: the exchanges and queues, and which service handles what.
5. `worker`, `consumer`, `inbox`: a Celery worker's consumer hands a batch to the handlers,
   once per event (the processed-event table), in one transaction.
6. `failures`, `dead_letters`: a failed message is retried, then dead-lettered and recorded.

Beside the path: `cloudevents` (the wire format), `versions` (former versions of an event),
`senders` (who may publish what), `broker` and `failover` (connections), `replication`
(publishing and acknowledging only what a PostgreSQL standby has), `containment` (a handler
cannot stop its process), `signals` (what the in-process listeners hear), `sql`, `databases`,
`task_queues`; and its instruments: `metrics`, `tracing`, `log_context` and
`faults` (crash points for the crash tests).
"""
