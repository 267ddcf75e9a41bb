from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from outbox.contracts.asyncapi import asyncapi_document, render


class Command(BaseCommand):
    help = "Write the AsyncAPI 3.0 document of the registered services' events (YAML or JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output", help="the file to write; YAML unless it ends in .json (default: stdout)"
        )
        parser.add_argument("--format", choices=("yaml", "json"), help="overrides the suffix")

    def handle(
        self, *args: object, output: str | None, format: str | None, **options: object
    ) -> None:
        kind = format or ("json" if output and output.endswith(".json") else "yaml")
        text = render(asyncapi_document(), kind)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(text, ending="")
