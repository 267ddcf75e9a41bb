import signal
import threading
from types import FrameType

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from outbox.core import metrics, registry, tracing
from outbox.core.broker import relay_from_settings
from outbox.core.databases import DatabaseUnreachable, require_databases
from outbox.core.relay_process import RelayProcess


def exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


class Command(BaseCommand):
    help = (
        "Publish outbox events as soon as they are committed, until stopped: the outbox of "
        "every database of the services this process serves (ECOMMERCE_SERVICES), one thread "
        "and one broker connection each."
    )

    def handle(self, *args: object, **options: object) -> None:
        try:
            require_databases(registry.outbox_databases())
        except DatabaseUnreachable as error:
            raise CommandError(f"relay not started: {error}") from None
        signal.signal(signal.SIGTERM, exit_on_sigterm)
        tracing.configure("relay")
        metrics.serve(settings.METRICS["RELAY_PORT"], "relay")
        stopping = threading.Event()
        processes = [
            RelayProcess(
                relay_from_settings(database, stopping.is_set),
                idle_seconds=settings.OUTBOX["RELAY_IDLE_SECONDS"],
                stopping=stopping,
            )
            for database in registry.outbox_databases()
        ]
        threads = [
            threading.Thread(target=run_closing_connections, args=(process,), daemon=True)
            for process in processes
        ]
        for thread in threads:
            thread.start()
        names = ", ".join(process.relay.database for process in processes)
        self.stdout.write(f"Relay running for databases {names}; Ctrl-C stops it.")
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=1)
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            stopping.set()
            for process in processes:
                process.relay.publisher.close()


def run_closing_connections(process: RelayProcess) -> None:
    try:
        process.run()
    finally:
        connections.close_all()
