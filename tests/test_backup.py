"""flask export / flask import: a round trip keeps every post's HTML and every file's bytes."""
import hashlib
import io
import tarfile

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from blog.extensions import db
from blog.models.comment import Comment
from blog.models.media import Media
from blog.models.post import Post, PostRevision, SlugRedirect
from blog.models.user import User
from blog.services import authoring, backup, media
from blog.services.authoring import Fields
from blog.storage import get_storage
from tests import media_samples
from tests.conftest import scratch_database
from tests.factories import make_comment, make_user


def _content():
    author = make_user("author", username="writer")
    editor = make_user("editor", username="boss")
    image = media.upload(actor=author, stream=io.BytesIO(media_samples.jpeg(900, 600)), filename="p.jpg",
                         content_type="image/jpeg", alt_text="A picture")
    post = authoring.save(actor=author, fields=Fields(title="First", source=f"Hello ![A picture](media:{image.id})",
                                                      tags="one, two"), action="publish")
    post = authoring.save(actor=author, post_id=post.id, base_version=post.version,
                          fields=Fields(title="First", slug="first-moved", source=post.source, tags="one, two"))
    authoring.save(actor=editor, kind="page", fields=Fields(title="About", source="We *write*.", nav_order=1),
                   action="publish")
    make_comment(post, source="Nice **one**")
    return post


def _checksums(keys) -> dict:
    storage = get_storage()
    out = {}
    for key in keys:
        with storage.open(key) as stream:
            out[key] = hashlib.sha256(stream.read()).hexdigest()
    return out


def _state():
    db.session.expire_all()
    posts = {p.id: (p.slug, p.body_html, p.status, sorted(t.name for t in p.tags)) for p in db.session.scalars(
        sa.select(Post))}
    keys = sorted(set(backup._media_keys()))
    counts = {m.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
              for m in (User, Post, PostRevision, Comment, Media, SlugRedirect)}
    return posts, _checksums(keys), counts


def test_round_trip_keeps_html_files_and_history(app, make_app, tmp_path):
    _content()
    before = _state()
    archive = tmp_path / "site.tar.gz"
    manifest = backup.export_archive(str(archive))
    assert manifest["counts"]["posts"] == 2 and manifest["files"] == len(before[1]) > 2
    assert manifest["missing_files"] == []
    with scratch_database("blog_restore") as url:
        target = make_app(database_url=url, MEDIA_ROOT=str(tmp_path / "restored-media"))
        with target.app_context():
            upgrade()
            assert backup.plan_import(str(archive))[1] == []
            backup.import_archive(str(archive))
            after = _state()
            assert after == before
            restored = db.session.scalar(sa.select(User).where(User.username == "writer"))
            assert restored.password_hash is None  # no secrets unless asked
            # Ids continue after the restored ones (PostgreSQL sequences are moved on).
            new = authoring.save(actor=restored, fields=Fields(title="After restore", source="x"))
            assert new.id > max(before[0])
            client = target.test_client()
            assert client.get("/p/first").status_code == 301  # the old slug's redirect came along
            page = client.get("/p/first-moved").get_data(as_text=True)
            assert "Nice <strong>one</strong>" in page and "<picture" in page
            db.session.remove()
            db.engine.dispose()


def test_secrets_only_when_asked(app, make_app, tmp_path):
    make_user("author", username="keeper")
    archive = tmp_path / "secrets.tar.gz"
    backup.export_archive(str(archive), with_secrets=True)
    original = db.session.scalar(sa.select(User.password_hash).where(User.username == "keeper"))
    with scratch_database("blog_restore") as url:
        target = make_app(database_url=url, MEDIA_ROOT=str(tmp_path / "m"))
        with target.app_context():
            upgrade()
            backup.import_archive(str(archive))
            assert db.session.scalar(sa.select(User.password_hash).where(User.username == "keeper")) == original
            db.session.remove()
            db.engine.dispose()


def test_dry_run_reports_conflicts_and_writes_nothing(app, tmp_path):
    _content()
    archive = tmp_path / "site.tar.gz"
    backup.export_archive(str(archive))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", str(archive), "--dry-run"])
    assert result.exit_code == 1
    assert "Conflict: table users already has" in result.output and "nothing was imported" in result.output
    assert "Conflict: storage already holds" in result.output
    with pytest.raises(backup.BackupError, match="already has"):
        backup.import_archive(str(archive))


def test_a_damaged_archive_is_refused(app, tmp_path):
    make_user("author")
    archive = tmp_path / "site.tar.gz"
    backup.export_archive(str(archive))
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(damaged, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "tables/users.jsonl":
                data = data.replace(b"user", b"USER")
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    with pytest.raises(backup.BackupError, match="does not match its checksum"):
        backup.plan_import(str(damaged))


def test_cli_export_prints_a_summary(app, tmp_path):
    make_user("author")
    result = app.test_cli_runner().invoke(args=["export", str(tmp_path / "out.tar.gz")])
    assert result.exit_code == 0 and "Wrote" in result.output and "rows" in result.output
