"""Draw docs/metrics-dashboard.png: the Grafana dashboard's panels over a real run.

Grafana itself does not run here, so this script stands in for it, from the dashboard's own
JSON: each panel's title, place, unit and PromQL queries come from
docs/grafana/ecommerce-dashboard.json, and the queries are answered by a real Prometheus
(`prometheus` on the PATH; Debian: `apt-get install prometheus`) that this script starts, on a
free port and a temporary directory, to scrape the running system's web, relay and worker
every second. While it scrapes, the script puts load on the system through its API (products,
stock, orders that are confirmed, rejected and paid) and, with --poison, drops a few
unreadable messages on a receive queue, which the worker dead-letters.

    .venv/bin/python -m scripts.dashboard_picture --web http://127.0.0.1:8000 \\
        --relay http://127.0.0.1:9101 --worker http://127.0.0.1:9102 --seconds 120 --poison

It signs in like the demo (DEMO_USERNAME, DEMO_PASSWORD: a staff user) and stops Prometheus
when done; Prometheus logs to .run/log/dashboard-main/prometheus.log. Run it as a module (-m)
from the project's directory: it imports the project's `harness`.
"""

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
import requests  # noqa: E402

from harness.ports import free_port  # noqa: E402
from harness.processes import Processes, answers  # noqa: E402
from harness.project import PROJECT_DIR  # noqa: E402

DASHBOARD = PROJECT_DIR / "docs" / "grafana" / "ecommerce-dashboard.json"
OUTPUT = PROJECT_DIR / "docs" / "metrics-dashboard.png"
SCRAPE_SECONDS = 1
STEP_SECONDS = 2
# What Grafana would put for $__rate_interval at this scrape interval (four scrapes), rounded up.
RATE_INTERVAL = "10s"
ADDRESS = {"province": "四川", "city": "成都", "detail": "天府软件园1号"}
UNIT_LABELS = {"s": "seconds", "ops": "per second", "short": ""}


class Prometheus:
    """A Prometheus of our own, scraping the given targets every second."""

    def __init__(self, targets: dict[str, str], metrics_token: str) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="dashboard-prometheus-"))
        self.url = f"http://127.0.0.1:{free_port()}"
        jobs = []
        for job, url in targets.items():
            parts = urlsplit(url)
            job_config: dict[str, Any] = {
                "job_name": job,
                "metrics_path": parts.path or "/metrics",
                "static_configs": [{"targets": [parts.netloc]}],
            }
            if job == "web" and metrics_token:
                job_config["authorization"] = {"credentials": metrics_token}
            jobs.append(job_config)
        config = {
            "global": {"scrape_interval": f"{SCRAPE_SECONDS}s"},
            "scrape_configs": jobs,
        }
        # JSON is YAML: Prometheus reads it as its configuration.
        (self.directory / "prometheus.yml").write_text(json.dumps(config))
        self.processes = Processes(os.environ, purpose="dashboard")

    def start(self) -> None:
        self.processes.start(
            "prometheus",
            [
                shutil.which("prometheus") or sys.exit("prometheus is not on the PATH"),
                f"--config.file={self.directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
            ],
        )
        self.processes.wait_for(
            "prometheus", lambda: answers(f"{self.url}/-/ready"), what="prometheus ready"
        )

    def wait_for_targets(self, count: int) -> None:
        """Return once Prometheus has scraped each target; exit naming any that fails."""
        deadline = time.monotonic() + 30
        while True:
            answer = requests.get(f"{self.url}/api/v1/targets", timeout=10).json()
            health = {
                target["labels"]["job"]: (target["health"], target["lastError"])
                for target in answer["data"]["activeTargets"]
            }
            if len(health) == count and all(up == "up" for up, _ in health.values()):
                return
            if time.monotonic() > deadline:
                sys.exit(f"not every target answers Prometheus: {health}")
            time.sleep(0.5)

    def query_range(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        answer = requests.get(
            f"{self.url}/api/v1/query_range",
            params={"query": expr, "start": start, "end": end, "step": STEP_SECONDS},
            timeout=30,
        ).json()
        if answer["status"] != "success":
            sys.exit(f"prometheus refused {expr}: {answer}")
        return answer["data"]["result"]

    def stop(self) -> None:
        self.processes.stop_all()
        shutil.rmtree(self.directory, ignore_errors=True)


class Shop:
    """Load through the real API: products, stock, orders."""

    def __init__(self, web: str) -> None:
        self.web = web
        self.session = requests.Session()
        credentials = {
            "username": os.environ.get("DEMO_USERNAME", "demo"),
            "password": os.environ["DEMO_PASSWORD"],
        }
        answer = self.session.post(f"{web}/auth/token", json=credentials, timeout=10)
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Token {answer.json()['token']}"
        self.products: list[str] = []
        self.orders: list[tuple[str, int]] = []

    def call(self, method: str, path: str, body: dict | None = None) -> requests.Response:
        return self.session.request(method, f"{self.web}{path}", json=body, timeout=30)

    def step(self, number: int) -> None:
        """One round of shopping: a new product now and then, stock, orders, payments."""
        if number % 5 == 0 or not self.products:
            created = self.call(
                "POST", "/products", {"name": f"苹果 {number}", "description": "", "price": 10}
            )
            if created.status_code == 201:
                self.products.append(created.json()["id"])
        product = random.choice(self.products)
        inventories = self.call("GET", f"/inventories?productId={product}").json()
        for inventory in inventories.get("results", []):
            self.call("POST", f"/inventories/{inventory['id']}/increase", {"increaseNumber": 3})
        count = random.choice([1, 2, 2, 3, 50])  # 50: more than there is, rejected
        order = {
            "items": [{"productId": product, "count": count, "itemPrice": 10}],
            "address": ADDRESS,
        }
        created = self.call("POST", "/orders", order)
        if created.status_code == 201:
            self.orders.append((created.json()["id"], count * 10))
        if len(self.orders) > 2:
            order_id, total = self.orders.pop(0)
            if self.call("GET", f"/orders/{order_id}").json().get("status") == "CONFIRMED":
                self.call("POST", f"/orders/{order_id}/pay", {"paidPrice": total})


def poison(count: int) -> None:
    """Unreadable messages on the inventory's receive queue: dead-lettered by the worker."""
    from kombu import Connection

    # The broker of `make up`, as the administrator: it writes to a queue by its name.
    with Connection(os.environ["BROKER_ADMIN_URL"]) as broker:
        producer = broker.Producer()
        for number in range(count):
            producer.publish(
                b"{not json " + str(number).encode(),
                exchange="",
                routing_key="inventory-receive-q",
                content_type="application/cloudevents+json",
                serializer=None,
            )


def legend(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)


def draw(prometheus: Prometheus, start: float, end: float, output: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    rows = [panel for panel in dashboard["panels"] if panel["type"] == "row"]
    height = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    plt.style.use("dark_background")
    figure = plt.figure(figsize=(24, height * 0.62), facecolor="#111217")
    grid = figure.add_gridspec(
        height, 24, left=0.03, right=0.99, top=0.95, bottom=0.04, hspace=0.3, wspace=1.2
    )
    figure.suptitle(
        f"{dashboard['title']}: the panels of docs/grafana/ecommerce-dashboard.json, drawn by "
        "scripts/dashboard_picture.py\nfrom a real web, relay and worker scraped by Prometheus, "
        f"{datetime.fromtimestamp(start, UTC):%Y-%m-%d %H:%M}–"
        f"{datetime.fromtimestamp(end, UTC):%H:%M} UTC",
        fontsize=15,
    )
    for row in rows:
        heading = figure.add_subplot(grid[row["gridPos"]["y"], :])
        heading.axis("off")
        heading.text(0, 0.2, row["title"], fontsize=16, weight="bold", color="#ccccdc")
    for panel in panels:
        place = panel["gridPos"]
        axes = figure.add_subplot(
            grid[place["y"] + 1 : place["y"] + place["h"], place["x"] : place["x"] + place["w"]]
        )
        axes.set_facecolor("#181b1f")
        axes.set_title(panel["title"], fontsize=13, loc="left", color="#ccccdc")
        plotted = 0
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", RATE_INTERVAL)
            for series in prometheus.query_range(expr, start, end):
                times = [float(t) - start for t, _ in series["values"]]
                values = [float(v) for _, v in series["values"]]
                axes.plot(
                    times, values, linewidth=1.4,
                    label=legend(target.get("legendFormat", ""), series["metric"]),
                )  # fmt: skip
                plotted += 1
        axes.set_ylabel(UNIT_LABELS.get(panel["fieldConfig"]["defaults"]["unit"], ""), fontsize=8)
        axes.set_xlim(0, end - start)
        axes.tick_params(labelsize=7)
        axes.grid(color="#2c3235", linewidth=0.6)
        if plotted:
            axes.legend(fontsize=8, loc="upper left", ncol=2, framealpha=0.4)
        else:
            axes.text(0.5, 0.5, "no data", ha="center", transform=axes.transAxes, color="gray")
    figure.supxlabel("seconds into the run", fontsize=9)
    figure.savefig(output, dpi=60, facecolor=figure.get_facecolor())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--web", default="http://127.0.0.1:8000")
    parser.add_argument("--relay", default="http://127.0.0.1:9101/metrics")
    parser.add_argument("--worker", default="http://127.0.0.1:9102/metrics")
    parser.add_argument("--seconds", type=float, default=120, help="how long to put load on")
    parser.add_argument("--poison", action="store_true", help="dead-letter a few messages")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    options = parser.parse_args()
    web = options.web.rstrip("/")
    prometheus = Prometheus(
        {
            "web": f"{web}/metrics",
            "relay": options.relay if "/metrics" in options.relay else f"{options.relay}/metrics",
            "worker": (
                options.worker if "/metrics" in options.worker else f"{options.worker}/metrics"
            ),
        },
        os.environ.get("METRICS_TOKEN", ""),
    )
    prometheus.start()
    try:
        start = time.time()
        prometheus.wait_for_targets(3)
        shop, number = Shop(web), 0
        random.seed(0)
        while time.time() - start < options.seconds:
            shop.step(number)
            number += 1
            if options.poison and number % 40 == 0:
                poison(3)
        time.sleep(15)  # the last events settle, the rates come down
        end = time.time()
        draw(prometheus, start, end, options.output)
        print(f"{options.output}: {number} rounds of shopping over {end - start:.0f} s")
    finally:
        prometheus.stop()


if __name__ == "__main__":
    main()
