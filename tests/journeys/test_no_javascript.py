"""With JavaScript turned off in the browser, the core of the site still works: reading, signing in and
posting a comment (plain links and form posts, nothing that needs a script)."""
from __future__ import annotations

import pytest

from tests.factories import PASSWORD

pytestmark = [pytest.mark.postgres_only]


@pytest.fixture(scope="module")
def post(seed):
    from tests.factories import make_post, make_user

    def content():
        author = make_user("author", username="nojs_author", display_name="Grace Hopper")
        make_user("reader", username="nojs_reader", display_name="Plain Reader")
        post = make_post(author, title="Pages that work without scripts", tags=["progressive"],
                         source="A page should not need a script to be read.\n\n> Progressive enhancement.")
        return post.slug

    return seed(content)


def test_reading_signing_in_and_commenting_without_javascript(journey, post):
    page = journey.page(javascript=False)
    page.goto(journey.url("/"))
    journey.check(page, "home")
    page.locator(".post-list").get_by_role("link", name="Pages that work without scripts").click()
    page.wait_for_url(f"**/p/{post}")
    journey.check(page, "post")
    assert "Progressive enhancement." in page.locator("article.post").inner_text()
    page.get_by_role("link", name="#progressive").click()
    page.wait_for_url("**/tag/progressive")
    journey.check(page, "tag")
    page.go_back()
    page.wait_for_url(f"**/p/{post}")

    # Sign in from the post, and come back to it.
    page.get_by_role("link", name="Sign in to comment").click()
    page.wait_for_url(lambda url: "/login?next=" in url)
    journey.check(page, "sign-in")
    form = page.locator("main form")
    form.get_by_label("Username or email").fill("nojs_reader")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/p/{post}")
    journey.check(page, "post, signed in")

    # A comment refused (empty), then posted: it waits for moderation, shown only to its author.
    comment_form = page.locator("#comment-form")
    with journey.expecting(422):
        comment_form.get_by_role("button", name="Post comment").click()
        page.wait_for_load_state("load")
    journey.check(page, "empty comment refused")
    body = page.locator("#comment-form").get_by_label("Comment")
    assert body.get_attribute("aria-invalid") == "true"
    assert page.locator("#comment-form p.error").is_visible()
    page.locator("#comment-form").get_by_label("Comment").fill("Read and written **without** a single script.")
    page.locator("#comment-form").get_by_role("button", name="Post comment").click()
    page.wait_for_url(f"**/p/{post}*")
    journey.check(page, "comment pending")
    pending = page.locator("article.comment-pending")
    assert pending.count() == 1 and "without" in pending.inner_text()
    assert "Waiting for moderation" in pending.inner_text()
    # Sign out is a form post, which works without a script too.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(journey.url("/"))
    journey.check(page, "signed out")
    assert page.get_by_role("link", name="Sign in").count() == 1
