"""Reading a Prometheus text exposition back into samples, for tests that scrape."""

import requests
from prometheus_client.parser import text_string_to_metric_families

Labels = dict[str, str]


class Scrape:
    """The samples of one scrape, looked up by name and labels."""

    def __init__(self, text: str) -> None:
        self.samples = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named `name` whose labels include `labels`; 0 if none."""
        return sum(
            sample.value
            for sample in self.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def moved(self, earlier: "Scrape", name: str, **labels: str) -> float:
        """How far `name` (summed over `labels`) went since the `earlier` scrape."""
        return self.value(name, **labels) - earlier.value(name, **labels)

    def has(self, name: str, **labels: str) -> bool:
        return any(
            sample.name == name and labels.items() <= sample.labels.items()
            for sample in self.samples
        )


def scrape(url: str, **options: object) -> Scrape:
    response = requests.get(url, timeout=10, **options)
    response.raise_for_status()
    return Scrape(response.text)
