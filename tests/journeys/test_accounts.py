"""Accounts, end to end: a newcomer registers, confirms the address from the email, signs in and comments,
and an editor approves the comment for every reader to see; a forgotten password reset from the email's
link; the sign-in limit refusing a guessed password with a 429 that keeps what was typed."""
from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.postgres_only]

NEW_PASSWORD = "a brand new passphrase, 2 of them"
COMMENT = "The paragraph about margins changed how I set my own pages."


@pytest.fixture(scope="module")
def people(seed):
    from tests.factories import make_post, make_user

    def content():
        editor = make_user("editor", username="acc_editor", email="acc_editor@example.com",
                           display_name="Edith Editor")
        author = make_user("author", username="acc_author", email="acc_author@example.com",
                           display_name="Arthur Author")
        post = make_post(author, title="Margins and the white page",
                         source="Generous margins give the text room to breathe.")
        forgetful = make_user("reader", username="acc_forgetful", email="acc_forgetful@example.com")
        target = make_user("reader", username="acc_target", email="acc_target@example.com")
        return {"editor": editor.username, "post": post.slug, "forgetful": forgetful.email,
                "target": target.username}

    return seed(content)


def sign_in(page, login: str, password: str):
    """From the sign-in page: type the login and password, submit; the answer of the page it leads to."""
    form = page.locator("main form")
    form.get_by_label("Username or email address").fill(login)
    form.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation() as navigation:
        form.get_by_role("button", name="Sign in").click()
    return navigation.value


def test_a_newcomer_registers_confirms_comments_and_an_editor_approves(journey, stack, people):
    from tests.factories import PASSWORD

    post_url = journey.url(f"/p/{people['post']}")
    newcomer = journey.page()
    newcomer.goto(journey.url("/"))
    journey.check(newcomer, "home")

    # Register through the form: signed in at once, the confirmation link on its way.
    newcomer.get_by_role("link", name="Create account").click()
    newcomer.wait_for_url("**/register")
    journey.check(newcomer, "register")
    form = newcomer.locator("main form")
    form.get_by_label("Username").fill("acc_newcomer")
    form.get_by_label("Email address").fill("acc_newcomer@example.com")
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Repeat the password").fill(PASSWORD)
    form.get_by_role("button", name="Create account").click()
    newcomer.wait_for_url(journey.url("/"))
    journey.check(newcomer, "registered")
    assert "Welcome, acc_newcomer!" in newcomer.locator(".flashes").inner_text()
    assert "Please confirm your email address" in newcomer.locator(".confirm-notice").inner_text()

    # The email's link shows a button (mail scanners fetch links); pressing it confirms the address.
    mail = stack.mailbox.wait_for("acc_newcomer@example.com", "Confirm your email address")
    newcomer.goto(stack.mailbox.link(mail, stack.base, "/confirm/"))
    journey.check(newcomer, "confirm")
    newcomer.locator("main").get_by_role("button", name="Confirm my address").click()
    newcomer.wait_for_url(journey.url("/"))
    journey.check(newcomer, "confirmed")
    assert "your email address is confirmed" in newcomer.locator(".flashes").inner_text()
    assert newcomer.locator(".confirm-notice").count() == 0

    # Sign out, then back in through the sign-in form.
    newcomer.get_by_role("button", name="Sign out").click()
    newcomer.wait_for_url(journey.url("/"))
    journey.check(newcomer, "signed out")
    newcomer.get_by_role("link", name="Sign in").click()
    newcomer.wait_for_url("**/login")
    journey.check(newcomer, "sign in")
    sign_in(newcomer, "acc_newcomer", PASSWORD)
    newcomer.wait_for_url(journey.url("/"))
    journey.check(newcomer, "signed in")
    assert "You are signed in." in newcomer.locator(".flashes").inner_text()

    # A first comment waits for moderation: its author sees it marked so.
    newcomer.goto(post_url)
    journey.check(newcomer, "post before commenting")
    comment_form = newcomer.locator("main form.comment-form")
    comment_form.get_by_label("Your comment").fill(COMMENT)
    comment_form.get_by_role("button", name="Post comment").click()
    newcomer.wait_for_url(re.compile(r".*/p/[^/]+#comment-\d+$"))
    journey.check(newcomer, "comment pending")
    assert "will appear once a moderator approves it" in newcomer.locator(".flashes").inner_text()
    pending = newcomer.locator("article.comment", has_text=COMMENT)
    assert pending.count() == 1
    assert "Waiting for moderation" in pending.inner_text()

    # An anonymous reader does not see it, even once the page is in the page cache.
    reader = journey.page()
    first = reader.goto(post_url)
    journey.check(reader, "post for a reader")
    assert COMMENT not in reader.locator("main").inner_text()
    assert reader.locator("#comments-title").inner_text() == "0 comments"
    second = reader.reload()
    assert first.headers.get("x-page-cache") == "miss" and second.headers.get("x-page-cache") == "hit"
    assert COMMENT not in reader.locator("main").inner_text()

    # An editor signs in and approves it from the moderation queue.
    editor = journey.page()
    editor.goto(journey.url("/login"))
    journey.check(editor, "editor signs in")
    sign_in(editor, people["editor"], PASSWORD)
    editor.wait_for_url(journey.url("/"))
    journey.check(editor, "editor signed in")
    editor.get_by_role("navigation", name="Main").get_by_role("link", name="Studio").click()
    editor.wait_for_url("**/studio/**")
    journey.check(editor, "studio")
    editor.get_by_role("navigation", name="Studio").get_by_role("link", name="Comments").click()
    editor.wait_for_url("**/studio/comments/")
    journey.check(editor, "moderation queue")
    row = editor.locator("main tbody tr", has_text=COMMENT)
    assert row.count() == 1 and "acc_newcomer" in row.inner_text()
    row.get_by_role("button", name=re.compile(r"^Approve ")).click()
    editor.wait_for_url("**/studio/comments/?status=pending")
    journey.check(editor, "comment approved")
    assert "1 comment approved." in editor.locator(".flashes").inner_text()
    assert editor.locator("main tbody tr", has_text=COMMENT).count() == 0

    # The reader sees it at once: approving it started a new version of the cached pages.
    shown = reader.reload()
    journey.check(reader, "post with the comment")
    assert shown.headers.get("x-page-cache") == "miss"
    approved = reader.locator("article.comment", has_text=COMMENT)
    assert approved.count() == 1 and "Waiting for moderation" not in approved.inner_text()
    assert reader.locator("#comments-title").inner_text() == "1 comment"
    assert stack.mailbox.wait_for("acc_newcomer@example.com", "Your comment is published")


def test_a_forgotten_password_is_reset_from_the_emailed_link(journey, stack, people):
    from tests.factories import PASSWORD

    email = people["forgetful"]
    page = journey.page()
    page.goto(journey.url("/login"))
    journey.check(page, "sign in")
    page.locator("main").get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url("**/reset")
    journey.check(page, "reset request")
    form = page.locator("main form")
    form.get_by_label("Email address").fill(email)
    form.get_by_role("button", name="Send the link").click()
    page.wait_for_url("**/login")
    journey.check(page, "reset requested")
    assert f"If an account uses {email}, we sent it a link" in page.locator(".flashes").inner_text()

    mail = stack.mailbox.wait_for(email, "Reset your password")
    page.goto(stack.mailbox.link(mail, stack.base, "/reset/"))
    journey.check(page, "choose a new password")
    form = page.locator("main form")
    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    form.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Save the new password").click()
    page.wait_for_url(journey.url("/"))
    journey.check(page, "password changed")
    assert "Your password is changed, and you are signed in." in page.locator(".flashes").inner_text()

    # Elsewhere: the old password no longer works, the new one does.
    elsewhere = journey.page()
    elsewhere.goto(journey.url("/login"))
    journey.check(elsewhere, "sign in elsewhere")
    with journey.expecting(422):
        assert sign_in(elsewhere, email, PASSWORD).status == 422
        journey.check(elsewhere, "old password refused")
    assert "That username or email and password do not match." in elsewhere.locator("main [role=alert]").inner_text()
    sign_in(elsewhere, email, NEW_PASSWORD)
    elsewhere.wait_for_url(journey.url("/"))
    journey.check(elsewhere, "signed in with the new password")
    assert "You are signed in." in elsewhere.locator(".flashes").inner_text()


def test_guessing_a_password_is_stopped_by_the_sign_in_limit(journey, people):
    login = people["target"]
    page = journey.page()
    page.goto(journey.url("/login"))
    journey.check(page, "sign in")

    statuses = []
    with journey.expecting(422, 429):
        for attempt in range(1, 7):
            answer = sign_in(page, login, f"not the password {attempt}")
            statuses.append(answer.status)
            journey.check(page, f"wrong password {attempt}")
            if answer.status == 429:
                assert answer.headers.get("retry-after", "").isdigit()
                break
    # Five failures per login name in 15 minutes; the sixth attempt is not even tried.
    assert statuses == [422] * 5 + [429]

    alert = page.locator("main [role=alert]").inner_text()
    assert re.fullmatch(r"Too many attempts\. Try again in \d+ minutes\.", alert.strip()), alert
    form = page.locator("main form")
    assert form.get_by_label("Username or email address").input_value() == login
    assert form.get_by_label("Password", exact=True).input_value() == ""
