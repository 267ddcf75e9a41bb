from django.core.management.base import BaseCommand, CommandError

from outbox.core import registry, replication
from outbox.core.broker import relay_from_settings
from outbox.core.publisher import PublishFailed


class Command(BaseCommand):
    help = (
        "Publish every pending outbox event now, from every database of the services this "
        "process serves, and print how many were published."
    )

    def handle(self, *args: object, **options: object) -> None:
        for database in registry.outbox_databases():
            relay = relay_from_settings(database)
            try:
                published = relay.publish_pending()
            except PublishFailed as error:
                raise CommandError(f"Broker did not take the events: {error}") from error
            except replication.StandbyWaitAbandoned as error:
                raise CommandError(f"Not published, the relay will: {error}") from error
            finally:
                relay.publisher.close()
            self.stdout.write(self.style.SUCCESS(f"Published {published} events of {database}."))
