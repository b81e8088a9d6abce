"""An administrator: signs in → the dashboard → finds a user and makes them an author → suspends another,
who then cannot sign in → the audit log shows both → an email refused for good shows up as a failed job,
and once the mailbox is fixed, requeueing it delivers the email."""
from __future__ import annotations

import re
import time

import pytest

pytestmark = [pytest.mark.postgres_only]

BOUNCE = "adm_newcomer@example.org"  # the mailbox that refuses, then accepts


@pytest.fixture(scope="module")
def people(seed):
    from tests.factories import make_user

    def content():
        admin = make_user("admin", username="adm_root", email="adm_root@example.org", display_name="Grace Admin")
        reader = make_user("reader", username="adm_reader", email="adm_reader@example.org",
                           display_name="Rita Reader")
        troll = make_user("author", username="adm_troll", email="adm_troll@example.org", display_name="Tom Troll")
        return {"admin": admin.username, "reader": reader.username, "troll": troll.username,
                "reader_id": reader.id, "troll_id": troll.id}

    return seed(content)


def sign_in(journey, page, login: str) -> None:
    from tests.factories import PASSWORD

    page.goto(journey.url("/login"))
    journey.check(page, f"sign in as {login}")
    form = page.locator("main form")
    form.get_by_label("Username or email address").fill(login)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()


def open_user(journey, page, username: str) -> None:
    """From the admin's users page: search for ``username`` and open their page."""
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Users").click()
    page.wait_for_url("**/admin/users")
    journey.check(page, "users")
    page.locator("main").get_by_role("searchbox", name="Search users").fill(username)
    page.locator("main").get_by_role("button", name="Search").click()
    page.wait_for_url(f"**/admin/users?q={username}")
    journey.check(page, f"users matching {username}")
    table = page.locator("main table")
    assert table.locator("caption").inner_text().startswith("1 user matches")
    table.get_by_role("link", name=username, exact=True).click()
    page.wait_for_url(re.compile(r".*/admin/users/\d+$"))
    journey.check(page, f"user {username}")
    assert page.get_by_role("heading", level=1).inner_text() == username


def test_an_admin_manages_users_reads_the_audit_log_and_requeues_a_failed_job(journey, people, stack):
    page = journey.page()
    sign_in(journey, page, people["admin"])
    page.wait_for_url(journey.url("/"))
    journey.check(page, "signed in")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.wait_for_url("**/admin/")
    journey.check(page, "admin", readme="admin")
    users = page.get_by_role("table", name="Users by role")
    assert users.get_by_role("row", name=re.compile(r"^Administrator \d+$")).count() == 1

    # A reader becomes an author.
    open_user(journey, page, people["reader"])
    user_url = page.url
    role = page.locator("main dl.details dt:text-is('Role') + dd")
    assert role.inner_text() == "Reader"
    page.locator("main").get_by_role("combobox", name="Role").select_option(label="Author")
    page.locator("main").get_by_role("button", name="Change role").click()
    page.wait_for_url(user_url)
    journey.check(page, "role changed")
    assert page.get_by_role("status").inner_text() == f"{people['reader']}’s role is now Author."
    assert role.inner_text() == "Author"
    history = page.get_by_role("table", name="Latest administrative changes to this account")
    assert "Role: Reader → Author" in history.inner_text()

    # Another user is suspended...
    open_user(journey, page, people["troll"])
    troll_url = page.url
    page.locator("main").get_by_role("button", name=f"Suspend {people['troll']}").click()
    page.wait_for_url(troll_url)
    journey.check(page, "suspended")
    assert "is suspended and has been signed out everywhere" in page.get_by_role("status").inner_text()
    assert page.locator("main dl.details .status").inner_text() == "Suspended"
    assert page.locator("main").get_by_role("button", name=f"Reinstate {people['troll']}").count() == 1

    # ... and cannot sign in any more: the form says why, with the app's 422.
    elsewhere = journey.page()
    with journey.expecting(422):
        sign_in(journey, elsewhere, people["troll"])
        elsewhere.locator("main .form-errors").wait_for()
    journey.check(elsewhere, "suspended user refused")
    assert elsewhere.get_by_role("alert").inner_text() == \
        "This account is suspended. Contact the site's administrators."
    assert elsewhere.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").count() == 0

    # The audit log, newest first: the suspension, then the role change, both by this admin.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/admin/audit")
    journey.check(page, "audit log")
    rows = page.locator("main table tbody tr")
    suspended = rows.filter(has_text="user.suspended").filter(has_text=f"User #{people['troll_id']}")
    role_changed = rows.filter(has_text="user.role_changed").filter(has_text=f"User #{people['reader_id']}")
    assert suspended.count() == 1 and role_changed.count() == 1
    assert "Status: Active → Suspended" in suspended.inner_text() and people["admin"] in suspended.inner_text()
    assert "Role: Reader → Author" in role_changed.inner_text() and people["admin"] in role_changed.inner_text()
    texts = rows.all_inner_texts()
    assert texts.index(suspended.inner_text()) < texts.index(role_changed.inner_text())

    # A newcomer's confirmation email is refused for good: the job fails at once, without retries.
    stack.mailbox.refuse.add(BOUNCE)
    try:
        newcomer = journey.page()
        newcomer.goto(journey.url("/register"))
        journey.check(newcomer, "register")
        form = newcomer.locator("main form")
        form.get_by_label("Username").fill("adm_newcomer")
        form.get_by_label("Email address").fill(BOUNCE)
        form.get_by_label("Password", exact=True).fill("a long and unusual passphrase")
        form.get_by_label("Repeat the password").fill("a long and unusual passphrase")
        form.get_by_role("button", name="Create account").click()
        newcomer.wait_for_url(journey.url("/"))
        journey.check(newcomer, "registered")
        assert "Welcome, adm_newcomer!" in newcomer.get_by_role("status").inner_text()

        page.get_by_role("navigation", name="Administration").get_by_role("link", name="Jobs").click()
        page.wait_for_url("**/admin/jobs")
        failed = page.get_by_role("table", name="Failed jobs, newest first").locator("tbody tr")
        failed_job = failed.filter(has_text=BOUNCE)
        deadline = time.monotonic() + 30
        while failed_job.count() == 0:  # the worker takes a moment to try
            assert time.monotonic() < deadline, "the refused email never showed up as a failed job"
            time.sleep(0.5)
            page.reload()
        journey.check(page, "a failed job")
        assert failed_job.count() == 1
        assert "blog.jobs.email.send_email" in failed_job.inner_text() and "550" in failed_job.inner_text()
        refused = page.get_by_role("table", name="Refused emails, newest first").locator("tbody tr")
        assert refused.filter(has_text=BOUNCE).filter(has_text="Confirm your email address").count() == 1
        assert not [m for m in stack.mailbox.messages if BOUNCE in str(m["To"])]
    finally:
        stack.mailbox.refuse.discard(BOUNCE)  # the mailbox is fixed

    # Requeued, the job runs again and the email arrives.
    job_id = failed_job.locator(".action-code").inner_text()
    failed_job.get_by_role("button", name="Requeue").click()
    page.wait_for_url("**/admin/jobs")
    journey.check(page, "requeued")
    assert page.get_by_role("status").inner_text() == "The job is back in its queue."
    message = stack.mailbox.wait_for(BOUNCE, "Confirm your email address")
    assert stack.mailbox.link(message, journey.base, "/confirm/")
    # Delivered, the email leaves the refused ones (the worker notes it right after the SMTP answer).
    refused = page.get_by_role("table", name="Refused emails, newest first").locator("tbody tr").filter(
        has_text=BOUNCE)
    deadline = time.monotonic() + 10
    while True:
        page.reload()
        if refused.count() == 0:
            break
        assert time.monotonic() < deadline, "the delivered email is still listed as refused"
        time.sleep(0.3)
    journey.check(page, "delivered")
    assert page.get_by_role("table", name="Failed jobs, newest first").locator("tbody tr").filter(
        has_text=job_id).count() == 0

    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/admin/audit")
    journey.check(page, "audit log after the requeue")
    requeued = page.locator("main table tbody tr").filter(has_text="job.requeued").filter(has_text=job_id)
    assert requeued.count() == 1 and people["admin"] in requeued.inner_text()
