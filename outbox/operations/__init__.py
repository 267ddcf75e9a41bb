"""What an operator reads and does.

`overview` reads the state (outbox lag, the last relay batch, dead letters, queue depths) for
`health`, `gauges` (the metrics read at scrape time) and the admin's `admin_page`. `replay`
replays and discards dead letters; `retention` purges what is kept no longer; `queue_migration`
moves queues to another type.
"""
