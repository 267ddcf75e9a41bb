import signal
from types import FrameType

from django.conf import settings
from django.core.management.base import BaseCommand

from outbox.broker import relay_from_settings
from outbox.relay_process import RelayProcess


def exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


class Command(BaseCommand):
    help = "Publish outbox events as soon as they are committed, until stopped."

    def handle(self, *args: object, **options: object) -> None:
        signal.signal(signal.SIGTERM, exit_on_sigterm)
        process = RelayProcess(
            relay_from_settings(), idle_seconds=settings.OUTBOX["RELAY_IDLE_SECONDS"]
        )
        self.stdout.write("Relay running; Ctrl-C stops it.")
        try:
            process.run()
        except KeyboardInterrupt:
            pass
        finally:
            process.relay.publisher.close()
