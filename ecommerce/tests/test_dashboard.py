"""The Grafana dashboard asks only for metrics, and labels, that the processes expose."""

import json
import re
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

from outbox.core import metrics
from outbox.operations import gauges

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "ecommerce-dashboard.json"
METRIC_NAME = re.compile(r"\boutbox_[a-z_]+\b")
GROUPING = re.compile(r"\bby \(([^)]*)\)")
MATCHER = re.compile(r"([a-z_]+)\s*(?:=~|!~|!=|=)\s*\"")


def exposed() -> dict[str, set[str]]:
    """Every sample name the processes can expose, with the labels it carries."""
    names: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        # prometheus-client keeps a metric's label names only in this attribute.
        if isinstance(value, Counter):
            names[f"{value._name}_total"] = set(value._labelnames)
        elif isinstance(value, Gauge):
            names[value._name] = set(value._labelnames)
        elif isinstance(value, Histogram):
            for suffix in ("_bucket", "_sum", "_count"):
                names[f"{value._name}{suffix}"] = set(value._labelnames) | {"le"}
    for gauge in gauges.STATE_GAUGES:
        names[gauge.name] = set(gauge.labels)
    return names


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_the_dashboard_queries_only_exposed_metrics_and_their_labels() -> None:
    known = exposed()
    queries = expressions()
    assert len(queries) >= 15

    for query in queries:
        names = METRIC_NAME.findall(query)
        assert names, query
        assert set(names) <= set(known), f"{query}: no such metric {set(names) - set(known)}"
        labels = set().union(*(known[name] for name in names))
        used = {
            label.strip() for grouping in GROUPING.findall(query) for label in grouping.split(",")
        } | set(MATCHER.findall(query))
        assert used <= labels, f"{query}: no such label {used - labels}"


def test_every_metric_is_on_the_dashboard() -> None:
    queried = {name for query in expressions() for name in METRIC_NAME.findall(query)}
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in queried}

    unshown = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in exposed()} - families

    assert not unshown, unshown
