"""Related posts: up to three published posts sharing the most tags, ties broken by recency, stored by a
job on the ``default`` queue whenever a post is published, unpublished, deleted or its tags change."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import Queue

from blog.extensions import db
from blog.jobs import related
from blog.models.post import Post, related_posts
from blog.services import authoring
from blog.services.authoring import Fields
from tests.factories import make_post, make_user, now


def stored(post) -> list[int]:
    return list(db.session.scalars(sa.select(related_posts.c.related_id)
                                   .where(related_posts.c.post_id == post.id).order_by(related_posts.c.position)))


def publish(actor, *, title, tags, post=None, published_at=None):
    """Write and publish through the editor's service (which schedules the job; inline without Redis)."""
    fields = Fields(title=title, source=f"{title} body.", tags=list(tags))
    saved = authoring.save(actor=actor, fields=fields, post_id=post.id if post else None,
                           base_version=post.version if post else None, action="publish")
    if published_at is not None:
        saved.published_at = published_at
        db.session.commit()
        related.refresh(saved.id)
    return saved


@pytest.fixture
def editor(app):
    return make_user("editor", username="writer")


def test_most_shared_tags_first_then_newest(app, editor):
    base = now() - timedelta(days=10)
    old_two = publish(editor, title="Old two", tags=["a", "b"], published_at=base)
    new_one = publish(editor, title="New one", tags=["a"], published_at=base + timedelta(days=2))
    new_two = publish(editor, title="New two", tags=["a", "b", "z"], published_at=base + timedelta(days=3))
    three = publish(editor, title="Three", tags=["a", "b", "c"], published_at=base + timedelta(days=1))
    unrelated = publish(editor, title="Unrelated", tags=["q"], published_at=base + timedelta(days=4))
    post = publish(editor, title="Subject", tags=["a", "b", "c"])
    # three shares 3 tags; new_two and old_two share 2 (newer first); new_one (1 tag) is fourth: left out.
    assert stored(post) == [three.id, new_two.id, old_two.id]
    assert unrelated.id not in stored(post) and new_one.id not in stored(post)


def test_publishing_updates_the_lists_it_enters(app, editor):
    first = publish(editor, title="First", tags=["x"])
    assert stored(first) == []
    second = publish(editor, title="Second", tags=["x"])
    assert stored(first) == [second.id] and stored(second) == [first.id]


def test_a_new_post_only_enters_lists_it_beats(app, editor):
    base = now() - timedelta(days=5)
    post = publish(editor, title="Post", tags=["a", "b"], published_at=base)
    strong = [publish(editor, title=f"Strong {i}", tags=["a", "b"], published_at=base + timedelta(hours=i))
              for i in range(3)]
    assert stored(post) == [s.id for s in reversed(strong)]
    weak = publish(editor, title="Weak", tags=["a"])  # newest, but shares one tag only
    assert weak.id not in stored(post)
    better = publish(editor, title="Better", tags=["a", "b", "c"])
    assert stored(post) == [better.id, strong[2].id, strong[1].id]


def test_unpublishing_or_deleting_removes_and_refills(app, editor):
    base = now() - timedelta(days=5)
    post = publish(editor, title="Post", tags=["a"], published_at=base)
    others = [publish(editor, title=f"Other {i}", tags=["a"], published_at=base + timedelta(hours=i)) for i in range(4)]
    assert stored(post) == [others[3].id, others[2].id, others[1].id]
    authoring.unpublish(actor=editor, post_id=others[3].id)
    assert stored(post) == [others[2].id, others[1].id, others[0].id]
    assert stored(others[3]) == []
    authoring.delete(actor=editor, post_id=others[2].id)
    assert stored(post) == [others[1].id, others[0].id]


def test_changing_tags_moves_a_post_between_lists(app, editor):
    cats = publish(editor, title="Cats", tags=["cats"])
    dogs = publish(editor, title="Dogs", tags=["dogs"])
    mover = publish(editor, title="Mover", tags=["cats"])
    assert stored(cats) == [mover.id] and stored(dogs) == []
    authoring.save(actor=editor, post_id=mover.id, base_version=mover.version,
                   fields=Fields(title="Mover", slug=mover.slug, source=mover.source, tags=["dogs"]))
    assert stored(cats) == [] and stored(dogs) == [mover.id] and stored(mover) == [dogs.id]


def test_drafts_pages_and_archived_posts_are_never_related(app, editor):
    post = publish(editor, title="Post", tags=["a"])
    make_post(editor, status="draft", tags=["a"])
    make_post(editor, status="archived", tags=["a"])
    related.refresh_all()
    assert stored(post) == []


def test_the_post_page_shows_related_posts(app, client, editor):
    post = publish(editor, title="Subject", tags=["a"])
    other = publish(editor, title="Neighbour post", tags=["a"])
    html = client.get(f"/p/{post.slug}").get_data(as_text=True)
    assert 'id="related-title"' in html and f'href="/p/{other.slug}"' in html
    # A stored entry that is no longer public is not shown, even before the job has run again.
    other.status = "draft"
    db.session.commit()
    assert "Neighbour post" not in client.get(f"/p/{post.slug}").get_data(as_text=True)


def test_the_job_goes_to_the_default_queue_only_when_a_listing_changes(make_app, redis, redis_url):
    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        author = make_user("editor", username="queued")
        fields = Fields(title="Queued", source="Body.", tags=["a"])
        post = authoring.save(actor=author, fields=fields, action="publish")
        default = Queue("default", connection=redis)
        assert len(default.job_ids) == 1
        job = default.fetch_job(default.job_ids[0])
        assert job.func_name == "blog.jobs.related.refresh" and job.args == (post.id, [])
        authoring.save(actor=author, post_id=post.id, base_version=post.version,
                       fields=Fields(title="Queued again", slug=post.slug, source="Other body.", tags=["a"]))
        assert len(default.job_ids) == 1  # a new title or body does not change any list
        authoring.save(actor=author, post_id=post.id, base_version=post.version,
                       fields=Fields(title="Queued again", slug=post.slug, source="Other body.", tags=["a", "b"]))
        assert len(default.job_ids) == 2
        db.session.execute(sa.delete(Post))
        db.session.commit()

