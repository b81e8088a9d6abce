"""A real browser (Debian's Chromium through Playwright) uploads an image in the studio, publishes a post
that shows it, and sees it load, on both storage backends:

- ``local``: the form posts the file through the app; images come back through signed /media/ URLs;
- ``s3``: the page's script uploads straight to moto's S3 server with a presigned POST (CORS and all),
  and the post's images load from that server through presigned GETs.

The app runs in a real HTTP server (werkzeug, in a thread, on a free loopback port) with CSRF on.
"""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from blog.extensions import db
from tests import media_samples as samples
from tests.factories import PASSWORD, make_user
from tests.support import REGION, create_bucket, delete_bucket, s3_client


@pytest.fixture(scope="module")
def s3_settings(aws_env, moto_server):
    """A bucket on moto's S3 server, with fake credentials; all undone afterwards."""
    client = s3_client(moto_server)
    bucket = create_bucket(client, "blog-browser")
    yield {"STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": moto_server, "S3_REGION": REGION}
    delete_bucket(client, bucket)


@pytest.fixture(params=["local", "s3"])
def live_server(request, app, make_app):
    """The blog served over HTTP on a free loopback port; jobs inline; stopped after the test."""
    settings = request.getfixturevalue("s3_settings") if request.param == "s3" else {}
    served = make_app(WTF_CSRF_ENABLED=True, **settings)
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_port}", "backend": request.param, **settings}
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_upload_publish_and_see_the_image_load(live_server, page, tmp_path):
    author = make_user("author", username="photographer")
    db.session.commit()
    image = tmp_path / "harbour.jpg"
    image.write_bytes(samples.jpeg(2400, 1600, orientation=6, gps=True))
    base = live_server["url"]
    page.set_default_timeout(20_000)

    page.goto(f"{base}/login")
    page.fill("input[name=login]", author.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")  # not the header's search form
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/studio/media")
    direct = page.locator("form.media-upload").get_attribute("data-direct-url")
    assert bool(direct) == (live_server["backend"] == "s3")
    posts = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    page.set_input_files("input[name=files]", str(image))
    page.fill("input[name=alt_text]", "Boats in the harbour at dusk")
    with page.expect_navigation():
        page.click("form.media-upload button[type=submit]")
    if live_server["backend"] == "s3":  # the script posted the file to S3 itself, then told the app
        assert [u for u in posts if u.startswith(live_server["S3_ENDPOINT_URL"])] == [
            live_server["S3_ENDPOINT_URL"] + "/" + live_server["S3_BUCKET"]]
        assert f"{base}/studio/media" not in posts and any(u.endswith("/complete") for u in posts)
    else:
        assert posts == [f"{base}/studio/media"]
    item = page.locator(".media-item").first
    assert item.locator("[data-status-label]").inner_text() == "Ready"
    assert "1600 × 2400 pixels" in item.inner_text()  # EXIF orientation applied
    markdown = item.locator(".media-markdown input").input_value()
    assert markdown.startswith("![Boats in the harbour at dusk](media:")
    media_id = markdown.rsplit(":", 1)[1].rstrip(")")

    page.goto(f"{base}/studio/new/post")
    page.fill("input[name=title]", "An evening at the harbour")
    page.fill("textarea[name=source]", f"The boats came in late.\n\n{markdown}\n\nThen it was dark.")
    page.select_option("select[name=featured_image]", media_id)
    with page.expect_navigation():
        page.click("button[name=action][value=publish]")
    assert "Published" in page.locator(".flashes").inner_text()

    page.goto(f"{base}/p/an-evening-at-the-harbour")
    pictures = page.locator("article picture img")
    assert pictures.count() == 2
    for index in range(2):
        img = pictures.nth(index)
        img.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        loaded = img.evaluate("img => ({w: img.naturalWidth, src: img.currentSrc, alt: img.alt})")
        assert loaded["w"] > 0 and loaded["alt"] == "Boats in the harbour at dusk"
        assert ".webp" in loaded["src"]  # Chromium picks the WebP source
        expected = live_server.get("S3_ENDPOINT_URL") or base
        assert loaded["src"].startswith(expected + "/")
    assert page.locator(".media-placeholder").count() == 0
