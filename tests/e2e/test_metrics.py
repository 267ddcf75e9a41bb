"""The metrics of the real processes, scraped from their endpoints: a web server (gunicorn, two
workers) on /metrics, a relay and a Celery worker each on a port of its own.

The session's relay and worker are replaced by ones that serve metrics, so that every event of
these tests is counted by the processes scraped here.
"""

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import AbstractUser
from knox.models import AuthToken

from conftest import TEST_RETRY_DELAYS, Processes
from harness.ports import free_port
from harness.waiting import wait_until
from outbox.models import DeadLetter, OutboxEvent, ProcessedEvent
from tests import probe
from tests.e2e.messages import cloudevent, lines, publish_event, publish_probe
from tests.e2e.shop import ADDRESS
from tests.metrics_text import Scrape, scrape

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_ATTEMPTS = len(TEST_RETRY_DELAYS) + 1
PASSWORD = "metrics-staff-password"
METRICS_TOKEN = "metrics-token-of-these-tests"


class Watched:
    """A worker and a web server serving metrics, and a relay to start when a test says."""

    def __init__(self, processes: Processes) -> None:
        relay_port, worker_port, self.web_port = free_port(), free_port(), free_port()
        self.relay_url = f"http://127.0.0.1:{relay_port}/metrics"
        self.worker_url = f"http://127.0.0.1:{worker_port}/metrics"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.processes = Processes(
            {
                **processes.env,
                "RELAY_METRICS_PORT": str(relay_port),
                "WORKER_METRICS_PORT": str(worker_port),
                "METRICS_TOKEN": METRICS_TOKEN,
            }
        )

    def start(self) -> None:
        self.processes.start_worker("metrics-worker")
        self.processes.start_web("metrics-web", "--workers", "2", port=self.web_port)

    def start_relay(self) -> None:
        """Start the relay unless it runs; once it is ready, it serves its metrics (it starts
        serving them before it says it runs)."""
        if "metrics-relay" not in self.processes.running:
            self.processes.start_relay("metrics-relay")

    def relay(self) -> Scrape:
        return scrape(self.relay_url)

    def worker(self) -> Scrape:
        return scrape(self.worker_url)

    def web(self) -> Scrape:
        return scrape(
            f"{self.web_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )


@pytest.fixture(scope="module")
def watched(shared_processes: Processes, django_db_blocker: object) -> Iterator[Watched]:
    """The processes whose metrics the tests read, in place of the session's relay and worker
    (which the next test that asks for them starts again), once those are done with what
    earlier tests left."""
    if shared_processes.running:
        with django_db_blocker.unblock():
            wait_until(
                lambda: not OutboxEvent.objects.filter(published_at__isnull=True).exists(),
                what="the session's relay done with earlier tests' events",
            )
        shared_processes.stop_all()
    watching = Watched(shared_processes)
    try:
        watching.start()
        yield watching
    finally:
        watching.processes.stop_all()


class Staff:
    """A staff member using the real web server: the API with a token, the admin signed in."""

    def __init__(self, web_url: str, user: AbstractUser) -> None:
        self.url = web_url
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Token {AuthToken.objects.create(user=user)[1]}"
        self.admin = requests.Session()
        login = f"{web_url}/admin/login/"
        self.admin.get(login, timeout=30).raise_for_status()
        signed_in = self.admin.post(
            login,
            {
                "username": user.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.admin.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": login},
            timeout=30,
        )
        assert signed_in.url == f"{web_url}/admin/", signed_in.text[-2000:]

    def post(self, path: str, body: dict) -> requests.Response:
        return self.api.post(f"{self.url}{path}", json=body, timeout=30)

    def get(self, path: str, **params: str) -> dict:
        return self.api.get(f"{self.url}{path}", params=params, timeout=30).json()

    def publish_now(self, *ids: int) -> str:
        """The admin's action on the outbox rows `ids`; the page's text."""
        changelist = f"{self.url}/admin/outbox/outboxevent/"
        response = self.admin.post(
            changelist,
            {
                "action": "publish_now",
                "_selected_action": [str(pk) for pk in ids],
                "csrfmiddlewaretoken": self.admin.cookies["csrftoken"],
            },
            headers={"Referer": changelist},
            timeout=30,
        )
        response.raise_for_status()
        return response.text


@pytest.fixture
def staff(watched: Watched, django_user_model: type[AbstractUser]) -> Staff:
    user = django_user_model.objects.create_user(
        username="metrics-staff", password=PASSWORD, is_staff=True, is_superuser=True
    )
    return Staff(watched.web_url, user)


def test_web_relay_and_worker_count_what_an_order_set_in_motion(
    watched: Watched, staff: Staff
) -> None:
    started = datetime.now(UTC)
    worker_before = watched.worker()
    product_ids = [
        staff.post("/products", {"name": f"Pear {n}", "description": "", "price": 10}).json()["id"]
        for n in range(3)
    ]

    # No relay yet: the web's gauges show the backlog, whichever of its workers answers.
    for _ in range(4):
        web = watched.web()
        assert web.value("outbox_pending_events", database="default") == 3
        assert web.value("outbox_oldest_pending_event_age_seconds", database="default") > 0
    pending = list(OutboxEvent.objects.order_by("id").values_list("id", flat=True))
    assert "Published 1 of 1" in staff.publish_now(pending[0])
    assert "Published 2 of 2" in staff.publish_now(*pending[1:])
    # The web's workers count in files of one directory: every scrape shows both requests'.
    for _ in range(6):
        web = watched.web()
        assert web.value("outbox_events_published_total", service="product") == 3
        assert web.value("outbox_publish_batch_duration_seconds_count", database="default") == 2

    watched.start_relay()
    inventory = wait_until(
        lambda: staff.get("/inventories", productId=product_ids[0])["results"],
        what="the first product's inventory",
    )[0]
    staff.post(f"/inventories/{inventory['id']}/increase", {"increaseNumber": 5})
    order = {
        "items": [{"productId": product_ids[0], "count": 2, "itemPrice": 10}],
        "address": ADDRESS,
    }
    created = wait_until(
        lambda: (r := staff.post("/orders", order)).status_code == 201 and r,
        what="the order accepted once the order context knows the product",
    )
    wait_until(
        lambda: staff.get(f"/orders/{created.json()['id']}")["status"] == "CONFIRMED",
        what="the order confirmed",
    )
    wait_until(
        lambda: (
            not OutboxEvent.objects.filter(published_at__isnull=True).exists()
            and watched.web().value("outbox_queue_messages", role="receive") == 0
        ),
        what="every event published and every receive queue empty",
    )

    # The relay counted every row it published, by service: all but the admin's three.
    def relay_published() -> tuple[Scrape, Counter] | None:
        scraped = watched.relay()
        rows = Counter(
            OutboxEvent.objects.exclude(pk__in=pending).values_list("service", flat=True)
        )
        matches = scraped.value("outbox_events_published_total") == sum(rows.values())
        return matches and (scraped, rows)

    relay, published = wait_until(relay_published, what="the relay's count of its rows")
    assert {"inventory", "order"} <= set(published)
    for service, count in published.items():
        assert relay.value("outbox_events_published_total", service=service) == count
    assert relay.value("outbox_events_publish_failed_total") == 0

    # The worker counted each handling that committed, by consumer and event type.
    def worker_handled() -> tuple[Scrape, Counter] | None:
        scraped = watched.worker()
        rows = Counter(ProcessedEvent.objects.values_list("consumer", "event_type"))
        total = scraped.moved(worker_before, "outbox_events_handled_total", outcome="handled")
        return total == sum(rows.values()) and (scraped, rows)

    worker, handled = wait_until(worker_handled, what="the worker's count of its handlings")
    assert handled[("inventory", "OrderCreatedEvent")] == 1
    assert handled[("order", "ProductCreatedEvent")] == 3
    for (consumer, event_type), count in handled.items():
        labels = {"consumer": consumer, "event_type": event_type}
        assert worker.moved(worker_before, "outbox_events_handled_total", **labels) == count
        assert (
            worker.moved(worker_before, "outbox_handler_duration_seconds_count", **labels) == count
        )
    assert worker.moved(worker_before, "outbox_events_handled_total", outcome="failed") == 0
    web = watched.web()
    assert web.value("outbox_last_publish_batch_timestamp_seconds", database="default") >= (
        started.timestamp() - 1
    )
    assert web.value("outbox_last_publish_batch_events", database="default") >= 1
    assert web.value("outbox_queue_consumers", queue="inventory-receive-q") == 1
    assert web.value("outbox_dead_letters_pending") == 0
    assert web.value("outbox_broker_up") == 1


def test_a_redelivered_event_is_counted_as_a_duplicate(watched: Watched, probe_dir: Path) -> None:
    before = watched.worker()
    document = cloudevent(probe.EVENT_TYPE, source=probe.SERVICE, data={"label": "twice"})

    publish_event(document)
    wait_until(lambda: lines(probe_dir, document["id"], "handled"), what="handled once")
    publish_event(document)

    labels = {"consumer": probe.SERVICE, "event_type": probe.EVENT_TYPE}
    after = wait_until(
        lambda: (
            (scraped := watched.worker()).moved(
                before, "outbox_events_handled_total", **labels, outcome="duplicate"
            )
            and scraped
        ),
        what="the copy counted as a duplicate",
    )
    assert after.moved(before, "outbox_events_handled_total", **labels, outcome="duplicate") == 1
    assert after.moved(before, "outbox_events_handled_total", **labels, outcome="handled") == 1
    assert lines(probe_dir, document["id"], "handled") == 1


def test_a_failing_handler_is_counted_as_failed_retried_then_dead_lettered(
    watched: Watched, probe_dir: Path
) -> None:
    before = watched.worker()
    recovers = publish_probe(probe_dir, failures=2, label="recovers")
    never = publish_probe(probe_dir, failures=1000, label="never")

    wait_until(lambda: lines(probe_dir, recovers, "handled"), what="handled after two retries")
    wait_until(lambda: DeadLetter.objects.filter(event_id=never).exists(), what="dead letter")

    labels = {"consumer": probe.SERVICE, "event_type": probe.EVENT_TYPE}

    def counted() -> Scrape | None:
        scraped = watched.worker()
        recorded = scraped.moved(
            before, "outbox_dead_letters_recorded_total", service=probe.SERVICE, kind="failed"
        )
        handled = scraped.moved(before, "outbox_events_handled_total", **labels, outcome="handled")
        return recorded == handled == 1 and scraped

    after = wait_until(counted, what="the dead letter's record and the recovery counted")

    def moved(name: str, **more: str) -> float:
        return after.moved(before, name, **labels, **more)

    assert lines(probe_dir, never, "attempt") == MAX_ATTEMPTS
    assert moved("outbox_events_handled_total", outcome="failed") == 2 + MAX_ATTEMPTS
    assert moved("outbox_events_retried_total") == 2 + (MAX_ATTEMPTS - 1)
    assert moved("outbox_events_dead_lettered_total") == 1
    assert moved("outbox_events_handled_total", outcome="handled") == 1
