"""Media services and the image job on the embedded default (local storage, inline jobs)."""
import io
import os
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from blog.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from blog.extensions import db
from blog.jobs import images
from blog.models.media import Media
from blog.permissions import OPERATOR
from blog.services import authoring, media, media_display, media_maintenance
from blog.storage import get_storage
from tests import media_samples as samples
from tests.factories import make_post, make_user

ALL_VARIANTS = {f"w{w}.{ext}" for w in (320, 640, 1024, 1600) for ext in ("webp", "jpg")} | {"square.webp",
                                                                                               "square.jpg"}


@pytest.fixture(autouse=True)
def empty_media_root(app):
    """The shared app keeps one media folder: each test starts (and leaves it) empty."""
    root = Path(app.config["MEDIA_ROOT"])
    shutil.rmtree(root, ignore_errors=True)
    yield
    shutil.rmtree(root, ignore_errors=True)


def upload(actor, data=None, content_type="image/jpeg", filename="photo.jpg", **kwargs):
    return media.upload(actor=actor, stream=io.BytesIO(samples.jpeg() if data is None else data),
                        filename=filename, content_type=content_type, **kwargs)


def stored_names(item: Media) -> set[str]:
    return {o.key.rsplit("/", 1)[1] for o in get_storage().iter_objects(item.key_prefix + "/")}


def reload(item: Media) -> Media:
    db.session.expire_all()
    return db.session.get(Media, item.id)


def test_upload_stores_the_original_and_processing_makes_every_variant(app):
    author = make_user("author")
    item = reload(upload(author, alt_text="  A red   fence "))
    assert item.status == "ready" and item.failure_reason is None
    assert (item.width, item.height, item.content_type, item.alt_text) == (2000, 1500, "image/jpeg", "A red fence")
    assert item.storage_key.startswith(f"{author.id}/") and item.storage_key.endswith("/original")
    assert "photo" not in item.storage_key  # never built from the file name
    assert item.original_filename == "photo.jpg"
    assert stored_names(item) == ALL_VARIANTS | {"original"}
    assert set(item.variants["webp"]) == set(item.variants["jpeg"]) == {"320", "640", "1024", "1600"}
    assert item.variants["square"]["jpeg"]["width"] == 256 and item.variants["animated"] is False
    storage = get_storage()
    assert storage.metadata(item.storage_key) == {"content_type": "image/jpeg", "inline": False}
    assert storage.metadata(item.variants["webp"]["640"]["key"]) == {"content_type": "image/webp", "inline": True}
    with storage.open(item.variants["jpeg"]["640"]["key"]) as f:
        assert samples.size_of(f.read()) == (640, 480)


def test_file_names_are_kept_for_display_only(app):
    item = upload(make_user("author"), filename="C:\\Users\\me\\..\\holiday <1>.jpg")
    assert item.original_filename == "holiday <1>.jpg"


@pytest.mark.parametrize(("data", "content_type", "fragment"), [
    (samples.SVG, "image/svg+xml", "Upload a JPEG, PNG, WebP or GIF image."),
    (samples.HTML, "image/png", "This is a HTML file, not an image."),
    (samples.PDF, "image/jpeg", "This is a PDF file, not an image."),
    (samples.png(), "image/jpeg", "contents are PNG"),
    (samples.polyglot(), "image/gif", "hidden in the image"),
    (samples.bomb(), "image/png", "more than 40 megapixels"),
    (samples.jpeg()[:5000], "image/jpeg", "incomplete"),
    (b"\xff\xd8\xff" + b"\0" * (20 * 1024 * 1024), "image/jpeg", "larger than 20 MB"),
], ids=["svg", "html", "pdf", "mismatch", "polyglot", "bomb", "truncated", "too-large"])
def test_bad_files_are_refused_with_a_clear_message_and_nothing_is_stored(app, data, content_type, fragment):
    author = make_user("author")
    with pytest.raises(InvalidInput) as refused:
        upload(author, data, content_type=content_type)
    assert fragment in refused.value.errors["file"][0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Media)) == 0
    assert list(get_storage().iter_objects(f"{author.id}/")) == []


def test_readers_have_no_library_but_may_upload_an_avatar(app):
    reader = make_user("reader")
    with pytest.raises(PermissionDenied):
        upload(reader)
    with pytest.raises(PermissionDenied):
        media.list_media(actor=reader)
    avatar = media.upload_avatar(actor=reader, stream=io.BytesIO(samples.jpeg(900, 600)), filename="me.jpg",
                                 content_type="image/jpeg")
    assert reader.avatar_id == avatar.id
    square = reload(avatar).variants["square"]
    assert (square["jpeg"]["width"], square["jpeg"]["height"]) == (256, 256)
    media.remove_avatar(actor=reader)
    assert reader.avatar_id is None and reload(avatar) is not None


def test_authors_see_their_own_uploads_and_editors_everyones(app):
    alice, bob, editor = make_user("author"), make_user("author"), make_user("editor")
    mine, theirs = upload(alice), upload(bob)
    assert [m.id for m in media.list_media(actor=alice, scope="all").items] == [mine.id]
    assert {m.id for m in media.list_media(actor=editor, scope="all").items} == {mine.id, theirs.id}
    assert media.list_media(actor=editor).items == []
    with pytest.raises(NotFound):
        media.get(actor=alice, media_id=theirs.id)
    with pytest.raises(NotFound):
        media.set_alt_text(actor=alice, media_id=theirs.id, alt_text="mine now")
    assert media.set_alt_text(actor=editor, media_id=theirs.id, alt_text="Described").alt_text == "Described"
    with pytest.raises(InvalidInput):
        media.set_alt_text(actor=bob, media_id=theirs.id, alt_text="x" * 301)


def test_delete_is_refused_while_a_published_post_shows_the_image(app):
    author = make_user("author")
    item = upload(author, alt_text="A fence")
    featured = make_post(author, title="Featured here", featured_image_id=item.id)
    inline = make_post(author, title="Shown inline", source=f"![x]({media_display.reference(item.id)})")
    draft = make_post(author, title="Just a draft", status="draft", featured_image_id=item.id)
    assert [p.title for p in media.usages(item.id)] == ["Featured here", "Shown inline", "Just a draft"]
    with pytest.raises(Conflict) as refused:
        media.delete(actor=author, media_id=item.id)
    assert "“Featured here”" in refused.value.message and "“Shown inline”" in refused.value.message
    assert "Just a draft" not in refused.value.message
    for post in (featured, inline):
        post.status = "draft"
    db.session.commit()
    prefix = item.key_prefix + "/"
    assert media.delete(actor=author, media_id=item.id) == "photo.jpg"
    assert db.session.get(Media, item.id) is None and list(get_storage().iter_objects(prefix)) == []
    db.session.expire_all()
    assert draft.featured_image_id is None  # the draft shows nothing instead of a broken image


def test_the_job_returns_early_when_done_and_replaces_the_variant_list_whole(app):
    item = upload(make_user("author"))
    before = reload(item).variants
    assert images.process_image(item.id) == "ready"  # already done: nothing happens
    assert images.process_image(10_000) == "missing"
    item = reload(item)
    item.status = "uploaded"
    db.session.commit()
    assert images.process_image(item.id) == "ready"
    assert reload(item).variants == before  # same deterministic keys, written again
    assert stored_names(item) == ALL_VARIANTS | {"original"}


class CrashingStorage:
    """Delegates to the real storage but fails on the ``fail_at``-th variant write, as a crash would."""

    def __init__(self, real, fail_at):
        self.real, self.fail_at, self.puts = real, fail_at, 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def put(self, key, data, **kwargs):
        self.puts += 1
        if self.puts == self.fail_at:
            raise OSError("disk full (simulated crash)")
        return self.real.put(key, data, **kwargs)


def test_a_retry_after_a_crash_does_not_duplicate_variants(app, monkeypatch):
    author = make_user("author")
    real = get_storage()
    item = upload(author)
    item = reload(item)
    item.status, item.variants = "uploaded", {}
    db.session.commit()
    crashing = CrashingStorage(real, fail_at=5)
    monkeypatch.setitem(app.extensions, "blog.storage", crashing)
    monkeypatch.setattr(images, "_last_attempt", lambda: False)  # RQ would retry
    with pytest.raises(OSError):
        images.process_image(item.id)
    crashed = reload(item)
    assert crashed.status == "processing" and crashed.variants == {}  # no half-written list
    monkeypatch.setitem(app.extensions, "blog.storage", real)
    assert images.process_image(item.id) == "ready"
    assert stored_names(item) == ALL_VARIANTS | {"original"}
    assert len(reload(item).variants["webp"]) == 4


def test_the_last_failed_attempt_marks_the_upload_failed(app, monkeypatch):
    item = upload(make_user("author"))
    item = reload(item)
    item.status = "uploaded"
    db.session.commit()
    monkeypatch.setitem(app.extensions, "blog.storage", CrashingStorage(get_storage(), fail_at=1))
    with pytest.raises(OSError):
        images.process_image(item.id)  # inline: no retry left
    failed = reload(item)
    assert (failed.status, failed.failure_reason) == ("failed", "error")
    assert len(failed.variants["jpeg"]) == 4  # the earlier complete list is kept
    assert media.failure_text(failed) == "Processing failed. Try again later."


def test_a_file_damaged_after_upload_is_marked_failed_with_its_reason(app):
    item = upload(make_user("author"))
    get_storage().put(item.storage_key, samples.jpeg()[:3000], content_type="image/jpeg")
    item = reload(item)
    item.status = "uploaded"
    db.session.commit()
    assert images.process_image(item.id) == "failed"
    assert reload(item).failure_reason == "truncated"
    with app.test_request_context():
        assert "incomplete" in media.status(actor=item.owner, media_id=item.id)["message"]


def test_media_deleted_during_processing_leaves_no_variants(app, monkeypatch):
    item = upload(make_user("author"))
    item = reload(item)
    item.status, item.variants = "uploaded", {}
    db.session.commit()
    real_process = images.imaging.process

    def delete_meanwhile(data, content_type):
        result = real_process(data, content_type)
        with db.engine.begin() as other:  # another request deletes it meanwhile
            other.execute(sa.delete(Media.__table__).where(Media.__table__.c.id == item.id))
        return result

    monkeypatch.setattr(images.imaging, "process", delete_meanwhile)
    prefix = item.key_prefix + "/"
    assert images.process_image(item.id) == "deleted"
    assert [o.key.rsplit("/", 1)[1] for o in get_storage().iter_objects(prefix)] == ["original"]


# ---- posts and their images ---------------------------------------------------------------------------

def _save(actor, source, action="publish", post_id=None, featured=authoring.KEEP):
    return authoring.save(actor=actor, fields=authoring.Fields(title="Pictures", source=source,
                                                               featured_image_id=featured),
                          post_id=post_id, action=action)


def test_publishing_needs_alt_text_on_every_image(app):
    author = make_user("author")
    item = upload(author)
    ref = media_display.reference(item.id)
    with pytest.raises(InvalidInput) as refused:
        _save(author, f"Look:\n\n![]({ref})\n\n![](https://example.org/cat.png)")
    assert ref in refused.value.errors["source"][0] and "https://example.org/cat.png" in refused.value.errors["source"][0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(authoring.Post)) == 0
    draft = _save(author, f"![]({ref})", action="save")  # drafts may lack it
    with pytest.raises(InvalidInput):
        _save(author, f"![]({ref})", post_id=draft.id)
    published = _save(author, f"![A red fence]({ref})", post_id=draft.id)  # written in the Markdown
    assert published.status == "published"
    media.set_alt_text(actor=author, media_id=item.id, alt_text="A fence")
    assert _save(author, f"![]({ref})", post_id=published.id).status == "published"  # or set in the library


def test_the_featured_image_needs_library_alt_text_to_publish(app):
    author = make_user("author")
    item = upload(author)
    with pytest.raises(InvalidInput) as refused:
        _save(author, "No images in the text.", featured=item.id)
    assert "featured_image" in refused.value.errors
    media.set_alt_text(actor=author, media_id=item.id, alt_text="A fence")
    post = _save(author, "No images in the text.", featured=item.id)
    assert post.featured_image_id == item.id
    assert _save(author, "Edited.", post_id=post.id).featured_image_id == item.id  # KEEP leaves it alone
    assert _save(author, "Edited.", post_id=post.id, featured=None).featured_image_id is None


def test_authors_may_only_use_their_own_images_and_those_the_post_already_shows(app):
    alice, bob, editor = make_user("author"), make_user("author"), make_user("editor")
    hers = upload(alice, alt_text="Hers")
    with pytest.raises(InvalidInput) as refused:
        _save(bob, f"![x]({media_display.reference(hers.id)})", action="save")
    assert "is not in your media library" in refused.value.errors["source"][0]
    with pytest.raises(InvalidInput):
        _save(bob, "Text", action="save", featured=hers.id)
    with pytest.raises(InvalidInput) as missing:
        _save(bob, "![x](media:999999)", action="save")
    assert "There is no image media:999999." in missing.value.errors["source"]
    post = _save(bob, "Draft by Bob", action="save")
    _save(editor, f"![x]({media_display.reference(hers.id)})", action="save", post_id=post.id)  # editors: any
    assert _save(bob, f"Still here: ![x]({media_display.reference(hers.id)})", action="save", post_id=post.id)


def test_previews_show_only_images_the_actor_may_use(app):
    alice, bob = make_user("author"), make_user("author")
    hers = upload(alice, alt_text="Hers")
    preview = authoring.preview(actor=bob, fields=authoring.Fields(
        title="Peek", source=f"![x]({media_display.reference(hers.id)})", featured_image_id=hers.id))
    found = media_display.for_post(preview)
    assert found[hers.id].missing and not found[hers.id].has_variants
    own = authoring.preview(actor=alice, fields=authoring.Fields(
        title="Mine", source=f"![x]({media_display.reference(hers.id)})"))
    assert media_display.for_post(own)[hers.id].has_variants


# ---- operator commands --------------------------------------------------------------------------------

@pytest.fixture
def cli_app(app, make_app):
    """A separate app (own media root) with the media commands added, as the CLI registers them."""
    from blog.cli.media import media as media_group

    built = make_app()
    built.cli.add_command(media_group)
    with built.app_context():
        yield built
        db.session.remove()


def test_reprocess_command_requeues_selected_uploads(cli_app):
    author = make_user("author")
    ready, broken = upload(author), upload(author)
    broken = reload(broken)
    broken.status, broken.failure_reason = "failed", "error"
    db.session.commit()
    runner = cli_app.test_cli_runner()
    result = runner.invoke(args=["media", "reprocess", "--failed"])
    assert result.exit_code == 0, result.output
    assert "Queued 1 upload(s) for processing." in result.output
    assert reload(broken).status == "ready"
    result = runner.invoke(args=["media", "reprocess", str(ready.id), "999"])
    assert result.exit_code == 1 and "No media with id 999." in result.output
    assert runner.invoke(args=["media", "reprocess"]).exit_code == 1
    result = runner.invoke(args=["media", "reprocess", "--all"])
    assert "Queued 2 upload(s)" in result.output and reload(ready).status == "ready"


def test_orphans_command_lists_then_deletes_leftovers(cli_app):
    author = make_user("author")
    kept = upload(author)
    storage = get_storage()
    storage.put(f"{author.id}/deadbeef/original", b"left behind", content_type="image/jpeg")
    storage.put(f"{author.id}/fresh/original", b"upload in progress", content_type="image/jpeg")
    old = time.time() - 7200
    os.utime(storage.root / f"{author.id}/deadbeef/original", (old, old))
    abandoned = Media(owner_id=author.id, storage_key=f"{author.id}/abandoned/original", content_type="image/png",
                      status="pending", variants={}, created_at=media_maintenance.datetime.now(
                          media_maintenance.timezone.utc) - media_maintenance.timedelta(days=2))
    db.session.add(abandoned)
    db.session.commit()
    runner = cli_app.test_cli_runner()
    listed = runner.invoke(args=["media", "orphans"])
    assert listed.exit_code == 0, listed.output
    assert f"object  {author.id}/deadbeef/original  11 bytes" in listed.output
    assert "fresh" not in listed.output and kept.key_prefix not in listed.output
    assert f"upload  {abandoned.id}  never finished" in listed.output and "Run with --delete" in listed.output
    deleted = runner.invoke(args=["media", "orphans", "--delete"])
    assert "Deleted 2 orphan(s)." in deleted.output, deleted.output
    assert stored_names(kept) == ALL_VARIANTS | {"original"}
    assert runner.invoke(args=["media", "orphans"]).output.strip().endswith("No orphans.")


def test_maintenance_is_for_operators_only(app):
    with pytest.raises(PermissionDenied):
        media_maintenance.find_orphans(actor=make_user("editor"))
    assert media_maintenance.reprocess_selection(actor=OPERATOR, everything=True) == []
