"""Starting the project's processes, for the tests, the benchmarks and the scripts.

Start reading at `harness.processes`: web (gunicorn), relay, Celery worker and beat, started
as `make up` runs them with a given environment, waited for until ready, stopped or killed.
Each logs to a file of its own, `.run/log/<run>/<name>.log` (`harness.logs`). Beside them: where
the project is (`harness.project`), a free port (`harness.ports`), waiting with a deadline
(`harness.waiting`) and an OTLP receiver of traces (`harness.otlp_receiver`).

Nothing here imports Django or the project's apps: a benchmark imports the harness before it
sets Django up.
"""
