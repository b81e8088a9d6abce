"""The media library, uploads, avatars and responsive images over HTTP (local storage, inline jobs)."""
import io
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from blog.extensions import db
from blog.models.media import Media
from blog.services import media
from tests import media_samples as samples
from tests.factories import login, make_post, make_user
from tests.test_query_counts import count_statements


@pytest.fixture(autouse=True)
def empty_media_root(app):
    root = Path(app.config["MEDIA_ROOT"])
    shutil.rmtree(root, ignore_errors=True)
    yield
    shutil.rmtree(root, ignore_errors=True)


def stored(owner, alt="A red fence", width=2000, height=1500, **kwargs) -> Media:
    item = media.upload(actor=owner, stream=io.BytesIO(samples.jpeg(width, height)), filename="fence.jpg",
                        content_type="image/jpeg", alt_text=alt, **kwargs)
    db.session.expire_all()
    return db.session.get(Media, item.id)


def post_files(client, url, files, **fields):
    data = {"files": [(io.BytesIO(content), name, kind) for content, name, kind in files], **fields}
    return client.post(url, data=data, content_type="multipart/form-data")


def image_urls(html: str) -> list[str]:
    urls = re.findall(r'src="([^"]+)"', html)
    for srcset in re.findall(r'srcset="([^"]+)"', html):
        urls += [part.strip().split(" ")[0] for part in srcset.split(",")]
    return [u.replace("&amp;", "&") for u in urls if u.startswith("/media/")]


def test_the_library_lists_uploads_with_their_facts(client):
    author = make_user("author")
    item = stored(author)
    login(client, author)
    html = client.get("/studio/media").get_data(as_text=True)
    assert f'id="media-{item.id}"' in html and "fence.jpg" in html
    assert "2,000 × 1,500 pixels" in html or "2000 × 1500 pixels" in html
    assert re.search(r"\d+(\.\d)? KB", html)
    assert "Ready" in html and 'class="media-thumb"' in html
    assert f'value="![A red fence](media:{item.id})"' in html and "Copy Markdown" in html
    assert f"/studio/media/{item.id}/delete" in html


def test_readers_have_no_library(client):
    login(client, make_user("reader"))
    assert client.get("/studio/media").status_code == 403


def test_editors_can_switch_to_everyones_uploads(client):
    other = stored(make_user("author", display_name="Other Author"))
    editor = make_user("editor")
    login(client, editor)
    assert f"media-{other.id}" not in client.get("/studio/media").get_data(as_text=True)
    html = client.get("/studio/media?scope=all").get_data(as_text=True)
    assert f"media-{other.id}" in html and "Other Author" in html


def test_form_upload_through_the_app(client):
    author = make_user("author")
    login(client, author)
    response = post_files(client, "/studio/media", [(samples.jpeg(900, 600), "one.jpg", "image/jpeg"),
                                                    (samples.png(300, 200), "two.png", "image/png")],
                          alt_text="Two things")
    assert response.status_code == 302
    rows = db.session.scalars(sa.select(Media).order_by(Media.id)).all()
    assert [(m.original_filename, m.status, m.alt_text) for m in rows] == [
        ("one.jpg", "ready", "Two things"), ("two.png", "ready", "Two things")]
    assert "Uploaded 2 images." in client.get("/studio/media").get_data(as_text=True)


@pytest.mark.parametrize(("content", "name", "kind", "message"), [
    (samples.SVG, "logo.svg", "image/svg+xml", "Upload JPEG, PNG, WebP or GIF images."),
    (samples.HTML, "page.jpg", "image/jpeg", "This is a HTML file, not an image."),
    (samples.png(), "photo.jpg", "image/jpeg", "its contents are PNG"),
    (samples.bomb(), "bomb.png", "image/png", "more than 40 megapixels"),
], ids=["svg", "html", "mismatch", "bomb"])
def test_bad_uploads_are_refused_with_a_message(client, content, name, kind, message):
    login(client, make_user("author"))
    post_files(client, "/studio/media", [(content, name, kind)])
    assert message in client.get("/studio/media").get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Media)) == 0


def test_direct_uploads_are_not_offered_by_the_local_backend(client):
    login(client, make_user("author"))
    assert "data-direct-url" not in client.get("/studio/media").get_data(as_text=True)
    response = client.post("/studio/media/direct", json={"filename": "a.jpg", "content_type": "image/jpeg",
                                                         "size": 1000})
    assert response.status_code == 422 and "use the upload form" in response.get_json()["error"]


def test_status_alt_text_and_json(client):
    author = make_user("author")
    item = stored(author, alt="")
    login(client, author)
    status = client.get(f"/studio/media/{item.id}/status").get_json()
    assert status["status"] == "ready" and status["thumbnail"].startswith("/media/")
    assert client.post(f"/studio/media/{item.id}/alt", data={"alt_text": "A quiet street"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Media, item.id).alt_text == "A quiet street"
    login(client, make_user("author"))
    assert client.get(f"/studio/media/{item.id}/status").status_code == 404


def test_delete_lists_where_the_image_is_used_and_refuses_while_published(client):
    author = make_user("author")
    item = stored(author)
    post = make_post(author, title="Fence stories", featured_image_id=item.id)
    login(client, author)
    page = client.get(f"/studio/media/{item.id}/delete").get_data(as_text=True)
    assert "Fence stories" in page and "cannot be deleted" in page
    refused = client.post(f"/studio/media/{item.id}/delete")
    assert refused.status_code == 409 and "“Fence stories”" in refused.get_data(as_text=True)
    post.status = "draft"
    db.session.commit()
    item_id = item.id
    assert client.post(f"/studio/media/{item_id}/delete").status_code == 302
    assert db.session.get(Media, item_id) is None


def test_post_pages_render_responsive_pictures(client):
    author = make_user("author")
    hero, inline, second = stored(author, alt="Hero"), stored(author, alt="Inline"), stored(author, width=800, height=600)
    post = make_post(author, featured_image_id=hero.id,
                     source=f"Text.\n\n![Written alt](media:{inline.id})\n\nMore.\n\n![](media:{second.id})")
    html = client.get(f"/p/{post.slug}").get_data(as_text=True)
    pictures = re.findall(r"<picture.*?</picture>", html, re.S)
    assert len(pictures) == 3
    featured, first, last = pictures
    assert 'fetchpriority="high"' in featured and 'loading="lazy"' not in featured and 'alt="Hero"' in featured
    assert 'alt="Written alt"' in first and 'loading="lazy"' in first
    assert 'width="1600" height="1200"' in first
    assert 'alt="A red fence"' in last and 'width="800" height="600"' in last  # the library's alt text
    webp = re.search(r'<source type="image/webp" srcset="([^"]+)" sizes="([^"]+)"', first)
    assert [part.split(" ")[1] for part in webp.group(1).split(", ")] == ["320w", "640w", "1024w", "1600w"]
    assert "media:" not in html.replace(f"media-", "")


def test_image_urls_stay_identical_between_page_loads_and_serve_images(client):
    author = make_user("author")
    item = stored(author)
    post = make_post(author, source=f"![x](media:{item.id})")
    first = image_urls(client.get(f"/p/{post.slug}").get_data(as_text=True))
    second = image_urls(client.get(f"/p/{post.slug}").get_data(as_text=True))
    assert first and first == second
    for url in set(first):
        response = client.get(url)
        assert response.status_code == 200 and response.headers["Content-Type"] in ("image/webp", "image/jpeg")
        assert response.headers["Content-Disposition"] == "inline"


def test_pending_images_show_a_sized_placeholder_not_a_broken_image(client):
    author = make_user("author")
    waiting = Media(owner_id=author.id, storage_key=f"{author.id}/waiting/original", content_type="image/png",
                    status="uploaded", width=1200, height=900, variants={}, alt_text="Soon")
    db.session.add(waiting)
    db.session.commit()
    post = make_post(author, source=f"![](media:{waiting.id})\n\n![Gone](media:424242)")
    html = client.get(f"/p/{post.slug}").get_data(as_text=True)
    placeholders = re.findall(r'<img class="media-placeholder"[^>]*>', html)
    assert len(placeholders) == 2
    assert 'width="1200" height="900"' in placeholders[0] and 'alt="Soon"' in placeholders[0]
    assert 'src="data:image/gif;base64,' in placeholders[0]
    assert 'alt="Gone"' in placeholders[1] and 'data-media-status="missing"' in placeholders[1]


def test_lists_show_featured_thumbnails_in_one_extra_query(client):
    author = make_user("author", username="counted")
    posts = [make_post(author, featured_image_id=stored(author).id) for _ in range(2)]
    author_id = author.id
    db.session.remove()
    with count_statements() as few:
        html = client.get("/").get_data(as_text=True)
    assert html.count('class="card-image"') == 2
    author = db.session.get(type(author), author_id)
    for _ in range(3):
        make_post(author, featured_image_id=stored(author).id)
    db.session.remove()
    with count_statements() as more:
        client.get("/")
    assert len(more) == len(few) and posts


def test_post_page_statement_count_with_images(client):
    author = make_user("author")
    items = [stored(author) for _ in range(3)]
    post = make_post(author, featured_image_id=items[0].id,
                     source="\n\n".join(f"![x](media:{i.id})" for i in items[1:]))
    plain, slug = make_post(author).slug, post.slug
    db.session.remove()
    with count_statements() as without_images:
        client.get(f"/p/{plain}")
    db.session.remove()
    with count_statements() as with_images:
        client.get(f"/p/{slug}")
    assert len(with_images) == len(without_images) + 1


def test_avatar_upload_from_settings(client):
    user = make_user("reader")
    login(client, user)
    response = client.post("/settings/avatar", data={"avatar": (io.BytesIO(samples.jpeg(600, 900)), "me.jpg",
                                                                "image/jpeg")}, content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.expire_all()
    assert user.avatar is not None and user.avatar.status == "ready"
    html = client.get("/settings/profile").get_data(as_text=True)
    assert 'class="media-thumb avatar"' in html and "Remove avatar" in html
    refused = client.post("/settings/avatar", data={"avatar": (io.BytesIO(samples.PDF), "cv.jpg", "image/jpeg")},
                          content_type="multipart/form-data", follow_redirects=True)
    assert "This is a PDF file, not an image." in refused.get_data(as_text=True)
    client.post("/settings/avatar/remove")
    db.session.expire_all()
    assert user.avatar_id is None


def test_editor_offers_featured_images_and_refuses_publishing_without_alt_text(client):
    author = make_user("author")
    item = stored(author, alt="")
    login(client, author)
    form = client.get("/studio/new/post").get_data(as_text=True)
    assert f'<option value="{item.id}">media:{item.id} · fence.jpg</option>' in form
    response = client.post("/studio/new/post", data={"title": "Hello", "source": "Text", "featured_image": item.id,
                                                     "action": "publish"})
    assert response.status_code == 422
    assert "The featured image needs alt text before publishing" in response.get_data(as_text=True)
    media.set_alt_text(actor=author, media_id=item.id, alt_text="A fence")
    response = client.post("/studio/new/post", data={"title": "Hello", "source": "Text", "featured_image": item.id,
                                                     "action": "publish"})
    assert response.status_code == 302
    preview = client.post("/studio/preview/post", data={"title": "P", "source": f"![a](media:{item.id})",
                                                        "featured_image": str(item.id)}).get_data(as_text=True)
    assert preview.count("<picture") == 2
