"""Authoring rules at the service level: slugs, redirects, scheduling, conflicts, revisions, permissions."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from blog.exceptions import InvalidInput, Moved, NotFound, PermissionDenied
from blog.extensions import db
from blog.models.post import Post, PostRevision, SlugRedirect, Tag
from blog.services import authoring, posts, revisions
from blog.services.authoring import EditConflict, Fields
from tests.factories import make_post, make_user, now


def save(actor, post=None, **fields):
    action = fields.pop("action", "save")
    publish_at = fields.pop("publish_at", None)
    kind = fields.pop("kind", "post")
    base = fields.pop("base_version", post.version if post else None)
    values = {"title": "A title", "source": "Body text."}
    if post is not None:
        values = {"title": post.title, "slug": post.slug, "source": post.source, "excerpt": "",
                  "tags": [t.name for t in post.tags]}
    values.update(fields)
    return authoring.save(actor=actor, fields=Fields(**values), post_id=post.id if post else None,
                          base_version=base, kind=kind, action=action, publish_at=publish_at)


def invalid(call, *args, **kwargs) -> dict:
    with pytest.raises(InvalidInput) as info:
        call(*args, **kwargs)
    return info.value.errors


@pytest.mark.parametrize("title, slug", [
    ("Hello, World!", "hello-world"),
    ("Überraschung im Café", "uberraschung-im-cafe"),
    ("Привет мир", "privet-mir"),
    ("Ça va? Très bien.", "ca-va-tres-bien"),
    ("  spaces   everywhere  ", "spaces-everywhere"),
])
def test_slugs_are_transliterated_from_the_title(app, title, slug):
    assert save(make_user("author"), title=title).slug == slug


def test_slug_collisions_get_a_number(app):
    author = make_user("author")
    assert [save(author, title="Same").slug for _ in range(3)] == ["same", "same-2", "same-3"]


def test_an_explicit_slug_must_be_free(app):
    author = make_user("author")
    save(author, title="First", slug="taken")
    assert invalid(save, author, title="Second", slug="taken") == {
        "slug": ["Another post uses this address. Choose another."]}
    assert invalid(save, author, title="Third", slug="!!!") == {"slug": ["Use letters, digits and hyphens."]}
    assert save(author, title="Fourth", slug="My Custom Slug").slug == "my-custom-slug"


def test_changing_a_published_slug_keeps_the_old_address(app):
    author = make_user("author")
    post = save(author, title="Original", action="publish")
    post = save(author, post, slug="renamed")
    assert post.slug == "renamed"
    with pytest.raises(Moved) as moved:
        posts.post_for_reader(slug="original")
    assert moved.value.slug == "renamed"
    # Another post cannot take the old address away from its readers.
    assert "slug" in invalid(save, author, title="Other", slug="original")
    # Going back to the old slug drops the redirect instead of pointing it at itself.
    save(author, post, slug="original")
    assert db.session.scalar(sa.select(SlugRedirect.old_slug)) == "renamed"


def test_a_draft_that_was_never_published_leaves_no_redirect(app):
    author = make_user("author")
    post = save(author, title="Draft")
    save(author, post, slug="draft-renamed")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SlugRedirect)) == 0


def test_tags_are_normalized_and_created_on_the_fly(app):
    author = make_user("author")
    post = save(author, tags="  Python , python,PYTHON, Web   Dev, ")
    assert sorted(t.slug for t in post.tags) == ["python", "web-dev"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Tag)) == 2
    assert "tags" in invalid(save, author, tags=",".join(f"t{i}" for i in range(11)))
    assert "tags" in invalid(save, author, tags="!!!")


def test_the_derived_excerpt_leaves_out_tables_code_and_figures(app):
    source = ("Opening words.\n\n| Boat | Catch |\n|---|---|\n| Marisol | Sardines |\n\n```\nprint(1)\n```\n\n"
              "Closing words.")
    assert save(make_user("author"), source=source).excerpt == "Opening words. Closing words."


def test_the_editor_shows_only_a_written_excerpt_so_a_derived_one_follows_the_text(app):
    author = make_user("author")
    post = save(author, source="The first version of the text.")
    assert post.excerpt == "The first version of the text." and authoring.written_excerpt(post) == ""
    # Saving again with what the editor showed (an empty excerpt) makes the excerpt from the new text.
    post = save(author, post, source="The second version.", excerpt=authoring.written_excerpt(post))
    assert post.excerpt == "The second version."
    post = save(author, post, excerpt="Written by hand.")
    assert authoring.written_excerpt(post) == "Written by hand."


def test_excerpt_is_derived_when_empty_and_kept_when_given(app):
    author = make_user("author")
    assert save(author, source="First paragraph here.\n\nSecond.").excerpt == "First paragraph here. Second."
    assert save(author, source="Body", excerpt="  Hand   written ").excerpt == "Hand written"


def test_validation_reports_every_field(app):
    errors = invalid(save, make_user("author"), title="  ", excerpt="x" * 501, source="y" * 200_001)
    assert set(errors) == {"title", "excerpt", "source"}


def test_publish_now_and_publish_keeps_the_first_date(app):
    author = make_user("author")
    post = save(author, action="publish")
    first = post.published_at
    assert post.status == "published" and first <= now()
    post = save(author, post, title="Edited", action="publish")
    assert post.published_at == first


def test_schedule_in_the_authors_time_zone(app):
    author = make_user("author", timezone="America/New_York")
    local = (now() + timedelta(days=3)).astimezone(timezone(timedelta(hours=-5))).replace(tzinfo=None, second=0,
                                                                                          microsecond=0)
    post = save(author, action="schedule", publish_at=local)
    assert authoring.state_of(post) == "scheduled"
    assert post.published_at.astimezone(authoring.ZoneInfo("America/New_York")).replace(tzinfo=None) == local
    assert invalid(save, author, action="schedule", publish_at=datetime(2020, 1, 1, 12, 0)) == {
        "publish_at": ["Choose a time in the future, or publish now."]}
    assert "publish_at" in invalid(save, author, action="schedule", publish_at=None)


def test_spring_forward_gap_is_refused_and_autumn_overlap_takes_the_first(app):
    with pytest.raises(InvalidInput) as gap:
        authoring.local_to_utc(datetime(2027, 3, 28, 2, 30), "Europe/Berlin")
    assert "does not exist" in gap.value.errors["publish_at"][0]
    assert authoring.local_to_utc(datetime(2027, 10, 31, 2, 30), "Europe/Berlin") == datetime(
        2027, 10, 31, 0, 30, tzinfo=timezone.utc)  # still summer time (+02:00): the first 02:30
    assert authoring.local_to_utc(datetime(2027, 3, 28, 3, 30), "Europe/Berlin") == datetime(
        2027, 3, 28, 1, 30, tzinfo=timezone.utc)


def test_a_stale_version_is_refused_and_nothing_is_saved(app):
    author = make_user("author")
    post = save(author, title="v1", source="first text")
    loaded_version = post.version
    save(author, post, source="second text")
    with pytest.raises(EditConflict) as conflict:
        save(author, post, source="my edit", base_version=loaded_version)
    assert conflict.value.current.source == "second text"
    db.session.expire_all()
    assert db.session.get(Post, post.id).source == "second text"


def test_a_concurrent_write_between_check_and_update_is_a_conflict(app):
    author = make_user("author")
    post = save(author, title="v1", source="first")
    version = post.version
    with db.engine.begin() as other_connection:  # another process saves meanwhile
        other_connection.execute(sa.text("UPDATE posts SET version = version + 1, source = 'theirs' WHERE id = :id"),
                                 {"id": post.id})
    with pytest.raises(EditConflict) as conflict:
        save(author, post, source="mine", base_version=version)
    assert conflict.value.current.source == "theirs"


def test_revisions_are_stored_for_title_or_body_changes_only(app):
    author = make_user("author")
    post = save(author, title="One", source="alpha")
    save(author, post, tags="only-tags-changed")
    save(author, post, source="alpha\nbeta")
    _post, rows = revisions.history(actor=author, post_id=post.id)
    assert [r.source for r in rows] == ["alpha\nbeta", "alpha"]
    assert all(r.editor_id == author.id for r in rows)


def test_diff_and_restore_creates_a_new_revision(app):
    author = make_user("author")
    editor = make_user("editor")
    post = save(author, title="One", source="line a\nline b")
    first = revisions.history(actor=author, post_id=post.id)[1][0]
    save(editor, post, title="Two", source="line a\nline c")
    _p, _r, lines, title_changed = revisions.diff(actor=author, post_id=post.id, revision_id=first.id)
    assert [(line.kind, line.text) for line in lines] == [("same", "line a"), ("removed", "line b"),
                                                          ("added", "line c")]
    assert title_changed
    restored = revisions.restore(actor=author, post_id=post.id, revision_id=first.id)
    assert (restored.title, restored.source) == ("One", "line a\nline b")
    assert len(revisions.history(actor=author, post_id=post.id)[1]) == 3


def test_permissions_for_writing(app):
    reader, author, other, editor = make_user("reader"), make_user("author"), make_user("author"), make_user("editor")
    with pytest.raises(PermissionDenied):
        save(reader)
    with pytest.raises(PermissionDenied):
        save(author, kind="page")
    theirs = save(other, title="Theirs")
    with pytest.raises(PermissionDenied):
        save(author, theirs, source="hijack")
    assert save(editor, theirs, source="edited by an editor").source == "edited by an editor"
    page = save(editor, kind="page", title="About")
    with pytest.raises(PermissionDenied):
        save(other, page, source="pages are for editors")
    with pytest.raises(NotFound):
        authoring.get_for_edit(actor=editor, post_id=999999)


def test_unconfirmed_authors_save_but_cannot_publish(app):
    author = make_user("author", email_confirmed_at=None)
    post = save(author, title="Draft")
    with pytest.raises(PermissionDenied, match="Confirm your email"):
        save(author, post, action="publish")
    with pytest.raises(PermissionDenied):
        authoring.unpublish(actor=author, post_id=post.id)


def test_status_transitions(app):
    author = make_user("author")
    post = save(author, action="publish")
    assert authoring.unpublish(actor=author, post_id=post.id).status == "draft"
    assert post.published_at is None
    assert authoring.archive(actor=author, post_id=post.id).status == "archived"
    assert authoring.restore_from_archive(actor=author, post_id=post.id).status == "draft"


def test_delete_removes_the_post_and_its_history(app):
    author = make_user("author")
    post = save(author, title="Doomed", action="publish")
    post_id = post.id
    assert authoring.delete(actor=author, post_id=post_id) == "Doomed"
    assert db.session.get(Post, post_id) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PostRevision)) == 0
    with pytest.raises(PermissionDenied):
        authoring.delete(actor=author, post_id=save(make_user("author")).id)


def test_preview_renders_sanitized_html_without_saving(app):
    author = make_user("author")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Post))
    preview = authoring.preview(actor=author, fields=Fields(title="T", source="**b** <script>x</script>",
                                                            tags="one, two"))
    assert preview.body_html == "<p><strong>b</strong> </p>\n"
    assert [t.slug for t in preview.tags] == ["one", "two"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Post)) == before


def test_pages_cannot_take_the_sites_own_addresses(app):
    editor = make_user("editor")
    for slug in ("login", "studio", "admin", "p", "tag"):
        assert "slug" in invalid(save, editor, kind="page", title="x", slug=slug)
    assert save(editor, kind="page", title="About us").slug == "about-us"


def test_studio_list_filters_and_scopes(app):
    author, other, editor = make_user("author", username="a1"), make_user("author", username="o1"), make_user("editor")
    save(author, title="Draft one")
    save(author, title="Live one", action="publish", tags="news")
    future = make_post(author, title="Future one", published_at=now() + timedelta(days=1))
    save(other, title="Other's 100% post", action="publish")

    def titles(actor, **kw):
        return sorted(p.title for p in authoring.list_posts(actor=actor, **kw).items)

    assert titles(author) == ["Draft one", "Future one", "Live one"]
    assert titles(author, scope="all") == ["Draft one", "Future one", "Live one"]  # authors see their own
    assert titles(editor, scope="all", author="o1") == ["Other's 100% post"]
    assert titles(editor, scope="all", state="scheduled") == [future.title]
    assert titles(editor, scope="all", state="published") == ["Live one", "Other's 100% post"]
    assert titles(editor, scope="all", tag="news") == ["Live one"]
    assert titles(editor, scope="all", q="100%") == ["Other's 100% post"]
    assert titles(editor, scope="all", q="%") == ["Other's 100% post"]
    assert "state" in invalid(authoring.list_posts, actor=editor, state="deleted")
    with pytest.raises(PermissionDenied):
        authoring.list_posts(actor=make_user("reader"))


def test_a_tags_only_edit_counts_as_an_edit(app):
    author = make_user("author")
    post = save(author, tags=["one"], action="publish")
    before = post.updated_at
    post = save(author, post, tags=["one", "two"])
    assert post.updated_at > before
