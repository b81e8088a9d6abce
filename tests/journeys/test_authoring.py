"""An author and an editor in the studio.

The author signs in, starts a post with a Markdown table, uploads an image from the editor's link to the
media library (straight to S3 with a presigned POST; the worker makes the variants) and puts its reference
in the text; the preview updates as they type, and so do the word count and reading time. They save a
draft, schedule it (a reader still gets a 404), publish it now, and a reader sees the processed image.
They change the text; leaving with unsaved changes asks first. The history lists the revisions; restoring
the first one puts its text back on the public page.

An editor changes another author's post. Then, in two tabs, they open the same post: the first tab saves,
the second tab's save is refused with a conflict that keeps its text and shows the newer one beside it;
merging and saving again works.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests import media_samples as samples

pytestmark = [pytest.mark.postgres_only]

AUTHOR_TIMEZONE = "Europe/Madrid"
ALT = "Fishing boats moored in the harbour at dusk"
OPENING = "The boats came in late that evening, one after another, their lights low on the water."
CHANGED = "The boats came in early that evening, before the wind turned, their decks already washed."
TABLE = """| Boat | Length (m) | Catch |
|:-----|-----------:|:------|
| Marisol | 14 | Sardines |
| Estrella del Norte | 21 | Hake |"""
PARAGRAPH = (
    "On the quay the buyers waited with their notebooks, reading the waterline of each hull before a single "
    "crate was lifted, because a boat that sits low has had a good night and a boat that rides high has not. "
    "Nobody said much; the prices were settled by nods, by the order in which the crates went up the ramp, "
    "and by who stood closest to the scales when the ice came out. ")  # 73 words


@pytest.fixture(scope="module")
def people(seed):
    from tests.factories import make_post, make_user

    def content():
        author = make_user("author", username="ed_author", display_name="Inés Marín", timezone=AUTHOR_TIMEZONE)
        make_user("editor", username="ed_editor", display_name="Edith Editor")
        other = make_user("author", username="ed_columnist", display_name="Colm Columnist")
        column = make_post(other, title="A column about tides",
                           source="The tide tables are printed every Sunday.\n\nSpring tides come twice a month.")
        return {"author": author.username, "editor": "ed_editor", "column": column.id, "column_slug": column.slug}

    return seed(content)


def sign_in(journey, page, username: str, next_path: str) -> None:
    from tests.factories import PASSWORD

    page.goto(journey.url(f"/login?next={next_path}"))
    journey.check(page, "sign in")
    form = page.locator("main form")
    form.get_by_label("Username or email address").fill(username)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    page.wait_for_url(journey.url(next_path))


def press(page, button: str) -> None:
    """Submit the editor's form with one of its buttons; returns once the answer has loaded (often at the
    same address: the app redirects back to the editor)."""
    with page.expect_navigation():
        page.locator("form.editor").get_by_role("button", name=button, exact=True).click()


def flash(page) -> str:
    return page.locator(".flashes").inner_text()


def test_an_author_writes_illustrates_schedules_publishes_and_restores_a_post(journey, stack, people, tmp_path):
    page = journey.page()
    sign_in(journey, page, people["author"], "/studio/posts")
    journey.check(page, "studio")
    page.locator("main").get_by_role("link", name="New post").first.click()
    page.wait_for_url("**/studio/new/post")
    journey.check(page, "new post")
    source = page.get_by_label("Text (Markdown)")
    counter = page.locator("#word-count")
    assert counter.inner_text() == "0 words · about 1 min to read"

    # The image: uploaded in the media library (the editor's link opens it in a new tab), straight to S3.
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Open the media library").click()
    library = opened.value
    library.wait_for_load_state()
    journey.check(library, "media library")
    image = tmp_path / "harbour.jpg"
    image.write_bytes(samples.jpeg(2400, 1600))
    upload = library.locator("form.media-upload")
    assert upload.get_attribute("data-direct-url")  # S3: the script uploads with a presigned POST
    s3_posts = []
    library.on("request", lambda r: r.method == "POST" and r.url.startswith(stack.s3_endpoint)
               and s3_posts.append(r.url))
    upload.get_by_label("Images").set_input_files(str(image))
    upload.get_by_label("Alt text").fill(ALT)
    with library.expect_navigation():  # the script reloads the page once the app knows of the upload
        upload.get_by_role("button", name="Upload").click()
    assert len(s3_posts) == 1
    item = library.locator(".media-item").first
    status = item.locator("[data-status-label]")
    status.filter(has_text="Ready").wait_for(timeout=60_000)  # the worker made the variants; the page polls
    item.locator("img:not(.media-placeholder)").wait_for()  # its thumbnail replaced the placeholder
    library.reload()
    assert "2400 × 1600 pixels" in item.inner_text()
    journey.check(library, "media library with the processed image")
    markdown = item.get_by_label("Markdown").input_value()
    assert markdown.startswith(f"![{ALT}](media:")
    library.close()

    # Writing, with a table and the image, then the preview; from then on it follows the typing.
    page.get_by_label("Title").fill("Boats, buyers and the quay")
    first_text = f"{OPENING}\n\n{TABLE}\n\n{markdown}\n\nThe quay was quiet again by ten."
    source.fill(first_text)
    words_before = counter.inner_text()
    assert words_before != "0 words · about 1 min to read" and "about 1 min to read" in words_before
    page.locator("form.editor").get_by_role("button", name="Preview", exact=True).click()
    preview = page.locator("#preview")
    preview.locator(".preview-banner").wait_for()
    assert preview.locator("table").count() == 1
    assert preview.locator("h1").inner_text() == "Boats, buyers and the quay"
    preview.locator("picture img").wait_for()
    assert page.url.endswith("/studio/new/post")  # the preview came in place: nothing was submitted
    journey.check(page, "new post with its preview")

    source.fill(f"{first_text}\n\n{PARAGRAPH * 5}")  # a long paste: two minutes of reading
    source.press("Control+End")
    source.press_sequentially("\n\nTyped at the keyboard, key by key.", delay=15)
    preview.get_by_text("Typed at the keyboard, key by key.").wait_for()
    preview.get_by_text("nods, by the order").first.wait_for()
    words_after = counter.inner_text()
    assert words_after != words_before and "about 2 min to read" in words_after, (words_before, words_after)
    typed_text = source.input_value()
    source.evaluate("t => { t.setSelectionRange(0, 0); t.scrollTop = 0; t.blur(); }")  # the README shows the start
    page.evaluate("window.scrollTo(0, 0)")
    journey.check(page, "editor", readme="editor")

    # A draft first.
    press(page, "Save")
    assert re.search(r"/studio/posts/\d+/edit$", page.url)
    journey.check(page, "saved draft")
    assert "Saved “Boats, buyers and the quay”." in flash(page)
    assert page.locator(".editor-meta .status").inner_text() == "Draft"
    assert source.input_value() == typed_text.replace("\r\n", "\n")
    editor_url = page.url
    slug = page.get_by_label("Address").input_value()
    assert slug == "boats-buyers-and-the-quay"
    post_path = f"/p/{slug}"

    # Scheduled a couple of minutes ahead, in the author's time zone: the studio says so, readers get a 404.
    assert AUTHOR_TIMEZONE in page.locator("#publish_at-hint").inner_text()
    when = (datetime.now(ZoneInfo(AUTHOR_TIMEZONE)) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    page.get_by_label("Publish at").fill(when.strftime("%Y-%m-%dT%H:%M"))
    press(page, "Schedule")
    assert page.url == editor_url
    journey.check(page, "scheduled")
    assert "Scheduled “Boats, buyers and the quay” for" in flash(page)
    assert page.locator(".editor-meta .status").inner_text() == "Scheduled"
    assert "Goes live" in page.locator(".editor-meta").inner_text()
    assert page.get_by_label("Publish at").input_value() == when.strftime("%Y-%m-%dT%H:%M")
    page.locator("main").get_by_role("link", name="Posts", exact=True).click()
    page.wait_for_url("**/studio/posts")
    journey.check(page, "studio with the scheduled post")
    row = page.locator("main table tbody tr", has_text="Boats, buyers and the quay")
    assert row.locator(".status").inner_text() == "Scheduled"

    reader = journey.page()
    with journey.expecting(404):
        answer = reader.goto(journey.url(post_path))
        assert answer.status == 404
        journey.check(reader, "scheduled post, not yet public")

    # Published now after all.
    row.get_by_role("link", name="Boats, buyers and the quay").click()
    page.wait_for_url(editor_url)
    journey.check(page, "scheduled post in the editor")
    press(page, "Publish now")
    assert page.url == editor_url
    journey.check(page, "published")
    assert "Published “Boats, buyers and the quay”." in flash(page)
    assert page.locator(".editor-meta .status").inner_text() == "Published"

    # A reader sees it, the processed image loaded in the sizes the worker made.
    reader.goto(journey.url(post_path))
    journey.check(reader, "published post")
    article = reader.locator("article.post")
    assert article.locator("h1").inner_text() == "Boats, buyers and the quay"
    assert OPENING in article.inner_text() and article.locator("table").count() == 1
    assert "2 min read" in article.locator(".byline").inner_text()  # as the editor's estimate said
    picture = article.locator(".prose picture")
    assert picture.count() == 1
    img = picture.locator("img")
    img.scroll_into_view_if_needed()
    reader.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    loaded = img.evaluate("img => ({w: img.naturalWidth, src: img.currentSrc, alt: img.alt, srcset: img.srcset})")
    assert loaded["w"] > 0 and loaded["alt"] == ALT, loaded
    assert loaded["src"].startswith(stack.s3_endpoint + "/"), loaded
    assert re.search(r"\s\d+w\b", loaded["srcset"]), loaded  # every width the worker made
    assert re.search(r"\s\d+w\b", picture.locator("source[type='image/webp']").get_attribute("srcset") or "")

    # The author changes the text; leaving before saving asks first, and staying keeps the change.
    page.get_by_role("link", name="View").wait_for()
    changed_text = source.input_value().replace(OPENING, CHANGED)
    source.fill(changed_text)
    dialogs = []

    def stay(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    page.locator(".editor-meta").get_by_role("link", name="History").click()
    for _ in range(50):
        if dialogs:
            break
        page.wait_for_timeout(100)
    page.remove_listener("dialog", stay)
    assert dialogs == ["beforeunload"]
    assert page.url == editor_url and source.input_value() == changed_text
    press(page, "Save")
    assert page.url == editor_url
    journey.check(page, "changed and saved")
    assert "Saved “Boats, buyers and the quay”." in flash(page)
    reader.reload()
    journey.check(reader, "the changed post")
    assert CHANGED in reader.locator("article.post").inner_text()

    # The history: the first text and the change; restoring the first one.
    page.locator(".editor-meta").get_by_role("link", name="History").click()
    page.wait_for_url("**/revisions")
    journey.check(page, "revisions")
    rows = page.locator("main table tbody tr")
    assert rows.count() == 2
    assert "2 revisions, newest first" in page.locator("main table caption").inner_text()
    assert "Current" in rows.nth(0).inner_text()
    rows.nth(1).get_by_role("link", name="Compare and restore").click()
    page.wait_for_url("**/revisions/*")
    journey.check(page, "an older revision")
    assert CHANGED in page.locator("pre.diff ins").all_inner_texts()
    assert OPENING in page.locator("pre.diff del").all_inner_texts()
    page.get_by_role("button", name="Restore this revision").click()
    page.wait_for_url(editor_url)
    journey.check(page, "restored")
    assert "Restored an earlier version" in flash(page)
    assert OPENING in source.input_value() and CHANGED not in source.input_value()

    reader.reload()
    journey.check(reader, "the restored post")
    text = reader.locator("article.post").inner_text()
    assert OPENING in text and CHANGED not in text

    page.locator(".editor-meta").get_by_role("link", name="History").click()
    page.wait_for_url("**/revisions")
    journey.check(page, "revisions after the restore")
    assert page.locator("main table tbody tr").count() == 3


def test_an_editor_edits_a_post_and_meets_a_conflict_in_another_tab(journey, people):
    column_path = f"/p/{people['column_slug']}"
    editor_path = f"/studio/posts/{people['column']}/edit"

    # Another author's post, from the studio's list of everyone's posts.
    context = journey.context()
    tab_a = context.new_page()
    sign_in(journey, tab_a, people["editor"], "/studio/posts")
    journey.check(tab_a, "studio")
    filters = tab_a.get_by_role("search", name="Filter posts")
    filters.get_by_label("Show").select_option("all")
    filters.get_by_role("button", name="Apply").click()
    tab_a.wait_for_url("**/studio/posts?scope=all*")
    journey.check(tab_a, "everyone's posts")
    row = tab_a.locator("main table tbody tr", has_text="A column about tides")
    assert "Colm Columnist" in row.inner_text()
    row.get_by_role("link", name="A column about tides").click()
    tab_a.wait_for_url(journey.url(editor_path))
    journey.check(tab_a, "another author's post")
    source_a = tab_a.get_by_label("Text (Markdown)")
    source_a.fill(source_a.input_value() + "\n\nNeap tides fall between them. (Edited for clarity.)")
    press(tab_a, "Save")
    journey.check(tab_a, "saved by the editor")
    assert "Saved “A column about tides”." in flash(tab_a)

    reader = journey.page()
    reader.goto(journey.url(column_path))
    journey.check(reader, "the edited column")
    assert "Neap tides fall between them." in reader.locator("article.post").inner_text()

    # Two tabs on the same post: A saves first; B's save is refused and keeps B's text.
    tab_b = context.new_page()
    tab_b.goto(journey.url(editor_path))
    journey.check(tab_b, "the same post in a second tab")
    tab_a.reload()
    journey.check(tab_a, "the post in the first tab")
    source_b = tab_b.get_by_label("Text (Markdown)")
    base = source_a.input_value()
    text_a = base.replace("Spring tides come twice a month.", "Spring tides come twice a month, at new and full moon.")
    text_b = base + "\n\nA table of this week's tides follows on Sunday."
    source_a.fill(text_a)
    press(tab_a, "Save")
    journey.check(tab_a, "first tab saved")
    assert "Saved" in flash(tab_a)

    source_b.fill(text_b)
    with journey.expecting(409):
        with tab_b.expect_response(lambda r: r.request.method == "POST" and r.url == journey.url(editor_path)) as sent:
            press(tab_b, "Save")
        assert sent.value.status == 409
        journey.check(tab_b, "conflict")
    alert = tab_b.get_by_role("alert")
    assert alert.count() == 1 and alert.inner_text().strip()
    assert source_b.input_value() == text_b.replace("\r\n", "\n")  # nothing lost
    conflict = tab_b.get_by_role("region", name="The newer version, saved by someone else")
    assert "at new and full moon" in conflict.locator("pre").inner_text()

    # B merges the newer text into theirs and saves again: it goes through.
    merged = text_a + "\n\nA table of this week's tides follows on Sunday."
    source_b.fill(merged)
    press(tab_b, "Save")
    journey.check(tab_b, "merged and saved")
    assert "Saved" in flash(tab_b)
    assert tab_b.locator("section.conflict").count() == 0
    reader.reload()
    journey.check(reader, "the merged column")
    text = reader.locator("article.post").inner_text()
    assert "at new and full moon" in text and "this week's tides" in text
