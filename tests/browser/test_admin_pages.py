"""The admin, its operations page included, works under the strict Content-Security-Policy
(no inline script or style): a real staff member signs in with headless Chromium and opens each
kind of page, and the policy refuses nothing of theirs."""

import pytest
from django.contrib.auth.models import AbstractUser
from playwright.sync_api import expect

from tests.browser.pages import OfflinePage

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

PASSWORD = "admin-pages-staff-password"


@pytest.fixture
def staff(django_user_model: type[AbstractUser]) -> AbstractUser:
    """A superuser in the test database, which the server reads; made before the browser opens."""
    return django_user_model.objects.create_superuser(username="csp-staff", password=PASSWORD)


def test_admin_pages_run_under_the_content_security_policy(
    staff: AbstractUser, offline_page: OfflinePage
) -> None:
    page = offline_page.page

    page.goto("/admin/login/")
    page.fill("#id_username", staff.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(staff.username)
    for path, heading in [
        ("/admin/", "Site administration"),
        ("/admin/operations/", "Operations"),
        ("/admin/outbox/deadletter/", "Select dead letter to view"),
        ("/admin/products/product/", "Select product to view"),
        ("/admin/auth/user/add/", "Add user"),
        (f"/admin/auth/user/{staff.pk}/change/", "Change user"),
    ]:
        page.goto(path)
        expect(page.locator("#content h1")).to_contain_text(heading)
    # The change form's calendar and clock widgets are drawn by the admin's scripts.
    expect(page.locator(".datetimeshortcuts").first).to_be_visible()

    assert offline_page.csp_violations() == []
    assert offline_page.off_host() == []
