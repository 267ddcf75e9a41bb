from outbox.management.commands._resend import ResendCommand
from outbox.models import DeadLetter


class Command(ResendCommand):
    help = (
        "Send dead letters whose handling failed back to their service's receive queue "
        "(through xxx-receive-recover-x). Safe to interrupt and run again."
    )
    kind = DeadLetter.Kind.FAILED
    destination = "the receive queues"
