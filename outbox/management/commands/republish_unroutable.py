from outbox.management.commands._resend import ResendCommand
from outbox.models import DeadLetter


class Command(ResendCommand):
    help = (
        "Publish unroutable events again to the exchange they missed, once a queue is bound "
        "for them. Safe to interrupt and run again."
    )
    kind = DeadLetter.Kind.UNROUTABLE
    destination = "the publish exchanges"
