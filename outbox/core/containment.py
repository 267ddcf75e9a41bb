"""Handlers and listeners run contained: whatever one raises is a failure of its event, never
the end of the process that runs it.

A worker runs every service's handlers in one process. An `Exception` from a handler already
takes the failure path (retry, then dead letter), but a `BaseException` that is no `Exception`
passes every `except Exception` on its way up and stops the worker: `sys.exit()` raises
`SystemExit`, and `KeyboardInterrupt` or `GeneratorExit` can be raised by hand as well.
`contained` turns those into `HandlerAborted`, an ordinary failure of the one event.

Celery's own shutdown raises nothing inside a running handler: a warm shutdown (SIGTERM, the
first SIGINT) only sets a flag that the worker's loop reads between messages and tasks, and
with `--pool=solo` it waits for the handler to return. Only the hard shutdown (the last SIGINT
or SIGQUIT an operator sends to a stuck worker) raises `WorkerTerminate` from its signal
handler, wherever the worker is; that one, and `WorkerShutdown`, are Celery's and pass
through, so that an operator can still stop a worker whose handler hangs. A plain
`SystemExit` or `KeyboardInterrupt` inside a handler can therefore only come from the handler.
"""

from collections.abc import Callable

from celery.exceptions import WorkerShutdown, WorkerTerminate

WORKER_SHUTDOWN = (WorkerShutdown, WorkerTerminate)


class HandlerAborted(Exception):
    """A handler or listener raised a `BaseException` that is no `Exception`; it is recorded
    as that event's failure, and the cause is chained."""


def contained(function: Callable[..., None], *arguments: object) -> None:
    """Call `function(*arguments)`, raising `HandlerAborted` in place of any `BaseException`
    that is neither an `Exception` nor Celery's own shutdown of the worker."""
    try:
        function(*arguments)
    except (Exception, *WORKER_SHUTDOWN):
        raise
    except BaseException as error:
        raise HandlerAborted(
            f"{describe(function)} raised {error!r}, which would have stopped the process"
        ) from error


def describe(function: Callable[..., object]) -> str:
    """The function's `module:name`, as logs and dead letters name a handler or listener."""
    name = getattr(function, "__qualname__", None)
    if name is None:
        return repr(function)
    return f"{function.__module__}:{name}"
