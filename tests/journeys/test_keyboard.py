"""Keyboard only, never the mouse: the skip link, the main navigation, signing in, writing a draft in the
studio, approving a comment. Every element the journey focuses and relies on shows where the focus is."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.postgres_only]

# What the focused element is, and whether it shows a focus indicator (an outline or a box shadow).
FOCUSED = """() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  const box = e.getBoundingClientRect();
  return {
    tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute("name"), type: e.getAttribute("type"),
    value: e.getAttribute("value"), href: e.getAttribute("href"),
    text: (e.innerText || e.value || "").trim().replace(/\\s+/g, " "),
    label: (e.labels && e.labels.length ? e.labels[0].innerText : "").trim(),
    nav: e.closest("nav") ? e.closest("nav").getAttribute("aria-label") : null,
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0
             && !/^(transparent|rgba\\(.*,\\s*0\\))$/.test(style.outlineColor),
    shadow: style.boxShadow !== "none",
    inViewport: box.top >= 0 && box.left >= 0 && box.bottom <= innerHeight && box.right <= innerWidth
                && box.width > 0 && box.height > 0,
  };
}"""


def focused(page) -> dict:
    return page.evaluate(FOCUSED)


def assert_visible_focus(page) -> dict:
    state = focused(page)
    assert state["outline"] or state["shadow"], f"no visible focus indicator on {state}"
    assert state["inViewport"], f"the focused element is not on screen: {state}"
    return state


def tab_to(page, matches, *, key: str = "Tab", limit: int = 60) -> dict:
    """Press ``key`` until the focused element satisfies ``matches``; it must show its focus."""
    seen = []
    for _ in range(limit):
        page.keyboard.press(key)
        state = focused(page)
        seen.append((state["tag"], state["id"] or state["text"][:40]))
        if matches(state):
            return assert_visible_focus(page)
    raise AssertionError(f"{key} never reached the element; the stops were: {seen}")


def by_id(element_id: str):
    return lambda state: state["id"] == element_id


def by_text(text: str, tag: str | None = None):
    return lambda state: state["text"] == text and (tag is None or state["tag"] == tag)


@pytest.fixture(scope="module")
def cast(seed):
    from tests.factories import make_comment, make_post, make_user

    def content():
        reader = make_user("reader", username="kb_reader", email="kb_reader@example.org", display_name="Kim Reader")
        author = make_user("author", username="kb_author", email="kb_author@example.org", display_name="Kai Author")
        editor = make_user("editor", username="kb_editor", email="kb_editor@example.org", display_name="Kit Editor")
        commenter = make_user("reader", username="kb_commenter", email="kb_commenter@example.org",
                              display_name="Kes Commenter")
        # Archived, not published: the reader's journey counts every published post of the shared database.
        post = make_post(author, title="Typing without a mouse", source="Every control can be reached by Tab.",
                         status="archived")
        comment = make_comment(post, commenter, status="pending", source="Tab, Tab, Enter: and it works.")
        return {"reader": reader.username, "author": author.username, "editor": editor.username,
                "commenter": commenter.display_name, "post": post.title, "comment": comment.id}

    return seed(content)


def sign_in(journey, page, username: str) -> None:
    """From the sign-in page: Tab into the fields, type, Enter submits."""
    from tests.factories import PASSWORD

    journey.check(page, "sign in")
    tab_to(page, by_id("login"))
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    assert assert_visible_focus(page)["id"] == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(journey.url("/"))
    journey.check(page, f"signed in as {username}")
    assert page.get_by_role("status").inner_text() == "You are signed in."
    assert page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").count() == 1


def test_the_skip_link_and_the_main_navigation(journey, cast):
    page = journey.page()
    page.goto(journey.url("/"))
    journey.check(page, "home")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.bounding_box()["y"] + skip.bounding_box()["height"] <= 0, "hidden until it has the focus"

    # The first Tab stop is the skip link, which comes into view; Enter moves the focus to the content.
    page.keyboard.press("Tab")
    state = assert_visible_focus(page)
    assert (state["tag"], state["text"], state["href"]) == ("a", "Skip to content", "#main")
    journey.screenshot(page, "the skip link has the focus")
    page.keyboard.press("Enter")
    page.wait_for_url(journey.url("/#main"))
    journey.check(page, "skipped to the content")
    assert page.evaluate("document.activeElement.id") == "main"
    assert skip.bounding_box()["y"] + skip.bounding_box()["height"] <= 0, "hidden again without the focus"

    # The main navigation, in order, each link showing its focus; then Enter follows one.
    page.goto(journey.url("/"))
    journey.check(page, "home again")
    stops = []
    for _ in range(15):
        page.keyboard.press("Tab")
        state = focused(page)
        if state["nav"] == "Main":
            assert_visible_focus(page)
            stops.append(state["text"])
        elif stops:
            break  # past the navigation
    assert stops[0] == "Home" and stops[-2:] == ["Sign in", "Create account"], stops
    assert focused(page)["id"] == "site-search-q"  # the header's search comes next
    state = tab_to(page, by_text("Sign in", "a"), key="Shift+Tab")
    assert state["nav"] == "Main"
    page.keyboard.press("Enter")
    page.wait_for_url("**/login")
    journey.check(page, "followed to the sign-in page")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"


def test_signing_in_with_the_keyboard(journey, cast):
    from tests.factories import PASSWORD

    page = journey.page()
    page.goto(journey.url("/login"))
    journey.check(page, "sign in")
    state = tab_to(page, by_id("login"))
    assert state["label"] == "Username or email address"
    page.keyboard.type(cast["reader"])
    page.keyboard.press("Tab")
    state = assert_visible_focus(page)
    assert (state["id"], state["label"]) == ("password", "Password")
    page.keyboard.type(PASSWORD)
    # Every control of the form is on the way: the checkbox (Space ticks it) and the button.
    page.keyboard.press("Tab")
    state = assert_visible_focus(page)
    assert (state["type"], state["label"]) == ("checkbox", "Keep me signed in on this device")
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.checked") is True
    page.keyboard.press("Tab")
    state = assert_visible_focus(page)
    assert (state["tag"], state["text"]) == ("button", "Sign in")
    # Back in the password field, Enter submits the form.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert assert_visible_focus(page)["id"] == "password"
    page.keyboard.press("Enter")
    page.wait_for_url(journey.url("/"))
    journey.check(page, "signed in")
    assert page.get_by_role("status").inner_text() == "You are signed in."
    assert page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").count() == 1
    assert any(cookie["name"] == "remember_token" for cookie in page.context.cookies())


def open_in_studio(journey, page, link: str, url: str, label: str) -> None:
    """The main nav's Studio, then one of the studio's own links, by Tab and Enter."""
    tab_to(page, lambda s: s["nav"] == "Main" and s["text"] == "Studio")
    page.keyboard.press("Enter")
    page.wait_for_url("**/studio/posts")
    journey.check(page, "studio")
    tab_to(page, lambda s: s["nav"] == "Studio" and s["text"] == link)
    page.keyboard.press("Enter")
    page.wait_for_url(url)
    journey.check(page, label)


def test_an_author_saves_a_draft_with_the_keyboard(journey, cast):
    page = journey.page()
    page.goto(journey.url("/login"))
    sign_in(journey, page, cast["author"])

    # Studio, then "New post", by Tab and Enter.
    open_in_studio(journey, page, "New post", "**/studio/new/post", "new post")

    # The title, then the text, then on to the buttons.
    tab_to(page, by_id("title"))
    page.keyboard.type("Written with the keyboard")
    page.keyboard.press("Tab")
    assert assert_visible_focus(page)["id"] == "source"
    page.keyboard.type("Tab moves between the fields; Enter on a button submits the form.")
    expect(page.locator("#word-count")).to_contain_text("12 words")  # the editor's script counts live
    save = tab_to(page, lambda s: s["tag"] == "button" and s["value"] == "save")
    assert save["text"] == "Save"
    journey.screenshot(page, "save has the focus")
    page.keyboard.press("Tab")
    assert assert_visible_focus(page)["value"] == "preview"
    page.keyboard.press("Tab")
    state = assert_visible_focus(page)
    assert (state["value"], state["text"]) == ("publish", "Publish now")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert assert_visible_focus(page)["value"] == "save"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/studio/posts/\d+/edit$"))
    journey.check(page, "draft saved")
    assert page.get_by_role("status").inner_text() == "Saved “Written with the keyboard”."
    assert page.locator("main .editor-meta").inner_text().startswith("Draft")
    assert page.locator("main #title").input_value() == "Written with the keyboard"


def test_an_editor_approves_a_comment_with_the_keyboard(journey, cast, seed):
    page = journey.page()
    page.goto(journey.url("/login"))
    sign_in(journey, page, cast["editor"])

    open_in_studio(journey, page, "Comments", "**/studio/comments/", "comments waiting")

    who = f"comment by {cast['commenter']} on “{cast['post']}”"
    row = page.locator(f"#comment-{cast['comment']}")
    assert "Tab, Tab, Enter" in row.inner_text()
    state = tab_to(page, lambda s: s["tag"] == "button" and s["text"] == f"Approve {who}")
    assert state["value"] == "approve"
    journey.screenshot(page, "approve has the focus")
    page.keyboard.press("Space")
    page.wait_for_url("**/studio/comments/?status=pending")
    journey.check(page, "comment approved")
    assert page.get_by_role("status").inner_text() == "1 comment approved."
    assert page.locator(f"#comment-{cast['comment']}").count() == 0

    def status():
        from blog.extensions import db
        from blog.models.comment import Comment
        return db.session.get(Comment, cast["comment"]).status

    assert seed(status) == "approved"
    # The "Approved" tab lists it now, reached by the keyboard as well.
    tab_to(page, lambda s: s["nav"] == "Comments by status" and s["text"] == "Approved")
    page.keyboard.press("Enter")
    page.wait_for_url("**/studio/comments/?status=approved")
    journey.check(page, "approved comments")
    assert page.locator(f"#comment-{cast['comment']}").count() == 1
