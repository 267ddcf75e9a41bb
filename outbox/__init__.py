"""Messaging machinery that knows no business: events, outbox, relay, consumers, topology.

Four parts, each a sub-package that says where to start reading it:

- `outbox.core`: the path of an event, from an aggregate's commit to a consumer's handler,
  through the outbox (at least once). Start here.
- `outbox.inprocess`: listeners in the publishing process, bound to a phase of its transaction
  (at most once).
- `outbox.contracts`: the published contract of the events (AsyncAPI, locked schemas).
- `outbox.operations`: what an operator reads and does: health, gauges, the admin's operations
  page, replaying dead letters, retention, queue migration.

`outbox.postgresql` is the database ENGINE that gives transactions their phases. The modules
Django and Celery look for by name stay here: `models`, `admin`, `views`, `tasks`, `apps`,
`management`. Import contracts in `pyproject.toml` keep the core free of the other three.
"""
