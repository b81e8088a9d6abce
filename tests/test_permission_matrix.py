"""Every role against every protected action, over HTTP, for objects they own and objects they do not:
403 or 404 (or sign-in for anonymous) and nothing changed when refused, never a 500."""
import pytest

from blog.extensions import db
from tests.factories import login, make_comment, make_post, make_user

ROLES = ["anonymous", "reader", "author", "editor", "admin"]
SIGN_IN = "sign-in"


def expect(allowed_from: str, ok: int) -> dict:
    """Anonymous users are sent to sign in; roles below ``allowed_from`` get 403; the rest get ``ok``."""
    rank = ROLES.index(allowed_from)
    return {role: (SIGN_IN if role == "anonymous" else 403 if i < rank else ok) for i, role in enumerate(ROLES)}


# (method, path template, expected status by role)
MATRIX = [
    ("GET", "/settings/profile", expect("reader", 200)),
    ("GET", "/settings/password", expect("reader", 200)),
    ("GET", "/settings/email", expect("reader", 200)),
    ("POST", "/confirm/resend", expect("reader", 302)),
    ("GET", "/admin/", expect("admin", 200)),
    ("GET", "/admin/users", expect("admin", 200)),
    ("GET", "/admin/users/{target}", expect("admin", 200)),
    ("GET", "/admin/audit", expect("admin", 200)),
    ("POST", "/admin/users/{target}/role", expect("admin", 302)),
    ("POST", "/admin/users/{target}/suspend", expect("admin", 302)),
    ("POST", "/admin/users/{target}/reinstate", expect("admin", 302)),
]


@pytest.fixture
def actors(app):
    users = {role: make_user(role, username=f"the-{role}") for role in ROLES if role != "anonymous"}
    users["admin2"] = make_user("admin", username="second-admin")  # so the last-admin rule never interferes
    users["target"] = make_user("reader", username="target")
    return users


@pytest.mark.parametrize("method, path, expected", MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(client, actors, method, path, expected, role):
    if role != "anonymous":
        login(client, actors[role])
    url = path.format(target=actors["target"].id)
    data = {"role": "author"} if url.endswith("/role") else {}
    response = client.open(url, method=method, data=data)
    want = expected[role]
    if want == SIGN_IN:
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    else:
        assert response.status_code == want, response.get_data(as_text=True)[:500]


@pytest.mark.parametrize("role, status", [("anonymous", 404), ("reader", 404), ("other-author", 404),
                                          ("owner", 200), ("editor", 200), ("admin", 200)])
def test_drafts_are_visible_only_to_their_author_and_editors(client, app, role, status):
    owner = make_user("author", username="owner")
    draft = make_post(owner, status="draft", title="Secret draft")
    users = {"reader": make_user("reader"), "other-author": make_user("author"), "owner": owner,
             "editor": make_user("editor"), "admin": make_user("admin")}
    if role != "anonymous":
        login(client, users[role])
    response = client.get(f"/p/{draft.slug}")
    assert response.status_code == status
    if status == 200:
        assert "it is not published" in response.get_data(as_text=True)


def test_suspended_users_lose_their_session_at_once(client, app):
    user = make_user("editor", username="soon-gone")
    login(client, user)
    assert client.get("/settings/profile").status_code == 200
    user.status = "suspended"
    db.session.commit()
    assert client.get("/settings/profile").status_code == 302


# ---- role × action × owner ----------------------------------------------------------------------------
# "owner" is the author whose post, upload or comment queue it is; "other-author" is another author.
# A refused action changes nothing; an allowed one answers ``ok`` (the snapshot test below checks both).

OWNER_ROLES = ["anonymous", "reader", "owner", "other-author", "editor", "admin"]


def owned(ok: int, *, others: int = 403, reader: int = 403) -> dict:
    """The owner, editors and admins get ``ok``; another author ``others``; a reader ``reader``."""
    return {"anonymous": SIGN_IN, "reader": reader, "owner": ok, "other-author": others, "editor": ok, "admin": ok}


def editors(ok: int) -> dict:
    """Editors and admins only, whoever wrote it."""
    return {"anonymous": SIGN_IN, "reader": 403, "owner": 403, "other-author": 403, "editor": ok, "admin": ok}


def admins(ok: int) -> dict:
    return {**editors(ok), "editor": 403}


SAVE = {"title": "Changed title", "slug": "", "source": "Changed *text*.", "excerpt": "", "tags": "",
        "action": "save"}
PUBLISH = {**SAVE, "title": "Now public", "action": "publish"}
NEW_PAGE = {**SAVE, "title": "A new page", "action": "save"}
NEW_POST = {**SAVE, "title": "A new post", "action": "save"}

# Known gaps between the policy above and the code, each with the fix it needs. A gap that starts
# passing fails the test, so the entry is removed when the fix lands.
KNOWN_GAPS: dict = {}  # (method, path, role) -> why it is refused differently today, with the fix

# (method, path template, form data, expected status by role, what may change when allowed)
OWNER_MATRIX = [
    # writing a new post: authors and up
    ("GET", "/studio/new/post", None, owned(200, others=200), None),
    ("POST", "/studio/new/post", NEW_POST, owned(302, others=302), None),
    # posts the owner wrote
    ("GET", "/studio/posts/{post}/edit", None, owned(200), None),
    ("POST", "/studio/posts/{post}/edit", SAVE, owned(302), "post"),
    ("POST", "/studio/posts/{draft}/edit", PUBLISH, owned(302), "draft"),
    ("POST", "/studio/posts/{post}/unpublish", {}, owned(302), "post"),
    ("POST", "/studio/posts/{post}/archive", {}, owned(302), "post"),
    ("GET", "/studio/posts/{post}/delete", None, owned(200), None),
    ("POST", "/studio/posts/{draft}/delete", {}, owned(302), "draft"),
    ("GET", "/studio/posts/{post}/revisions", None, owned(200), None),
    ("GET", "/studio/posts/{post}/revisions/{revision}", None, owned(200), None),
    ("POST", "/studio/posts/{post}/revisions/{revision}/restore", {}, owned(302), "post"),
    # comments on the owner's post: authors moderate their own posts' comments, editors everyone's
    ("GET", "/studio/comments/", None, owned(200, others=200), None),
    ("POST", "/studio/comments/{comment}/moderate", {"action": "approve"}, owned(302), "comment"),
    ("POST", "/studio/comments/moderate", {"action": "reject", "comment_ids": "{comment}"}, owned(302), "comment"),
    # uploads the owner made: someone else's upload does not exist for them
    ("GET", "/studio/media/{media}/status", None, owned(200, others=404, reader=404), None),
    ("POST", "/studio/media/{media}/alt", {"alt_text": "Changed"}, owned(302, others=404, reader=404), "media"),
    ("GET", "/studio/media/{media}/delete", None, owned(200, others=404, reader=404), None),
    ("POST", "/studio/media/{media}/delete", {}, owned(302, others=404, reader=404), "media"),
    # pages: editors and admins only, even for a page whose author is now only an author
    ("GET", "/studio/pages", None, editors(200), None),
    ("GET", "/studio/new/page", None, editors(200), None),
    ("POST", "/studio/new/page", NEW_PAGE, editors(302), None),
    ("GET", "/studio/posts/{page}/edit", None, editors(200), None),
    ("POST", "/studio/posts/{page}/edit", SAVE, editors(302), "page"),
    ("POST", "/studio/posts/{page}/delete", {}, editors(302), "page"),
    # operations: admins only
    ("GET", "/admin/jobs", None, admins(200), None),
    ("POST", "/admin/jobs/flush-outbox", {}, admins(302), None),
]


@pytest.fixture
def owned_objects(app):
    from blog.models.media import Media
    from blog.models.post import PostRevision

    owner = make_user("author", username="owner")
    users = {"reader": make_user("reader"), "owner": owner, "other-author": make_user("author"),
             "editor": make_user("editor"), "admin": make_user("admin")}
    post = make_post(owner, title="Owned post", source="First *text*.")
    draft = make_post(owner, status="draft", title="Owned draft")
    page = make_post(users["editor"], title="Owned page", kind="page")
    page.author_id = owner.id  # written when its author was an editor; they are an author now
    comment = make_comment(post, users["reader"], status="pending")
    media = Media(owner_id=owner.id, storage_key=f"{owner.id}/matrix/original", content_type="image/jpeg",
                  status="ready", width=10, height=10, alt_text="Original", variants={})
    revision = PostRevision(post_id=post.id, editor_id=owner.id, title="Owned post", source="Older *text*.")
    db.session.add_all([media, revision])
    db.session.commit()
    ids = {"post": post.id, "draft": draft.id, "page": page.id, "comment": comment.id, "media": media.id,
           "revision": revision.id}
    return users, ids


def snapshot(ids) -> dict:
    from blog.models.comment import Comment
    from blog.models.media import Media
    from blog.models.post import Post

    db.session.expire_all()

    def post_state(post_id):
        post = db.session.get(Post, post_id)
        return None if post is None else (post.status, post.title, post.source)

    comment = db.session.get(Comment, ids["comment"])
    media = db.session.get(Media, ids["media"])
    return {"post": post_state(ids["post"]), "draft": post_state(ids["draft"]), "page": post_state(ids["page"]),
            "comment": comment and comment.status, "media": media and media.alt_text}


@pytest.mark.parametrize("method, path, data, expected, changes", OWNER_MATRIX,
                         ids=[f"{m} {p}" + (f" {d['action']}" if d and "action" in d else "")
                              for m, p, d, _e, _c in OWNER_MATRIX])
@pytest.mark.parametrize("role", OWNER_ROLES)
def test_owner_matrix(client, owned_objects, method, path, data, expected, changes, role):
    users, ids = owned_objects
    if role != "anonymous":
        login(client, users[role])
    url = path.format(**ids)
    form = {k: v.format(**ids) for k, v in data.items()} if data else None
    before = snapshot(ids)
    response = client.open(url, method=method, data=form)
    want = expected[role]
    gap = KNOWN_GAPS.get((method, path, role))
    if gap is not None:
        if response.status_code == want:
            pytest.fail(f"fixed: remove {(method, path, role)} from KNOWN_GAPS")
        assert snapshot(ids) == before
        pytest.xfail(gap)
    if want == SIGN_IN:
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    else:
        assert response.status_code == want, response.get_data(as_text=True)[:500]
    after = snapshot(ids)
    if want in (SIGN_IN, 403, 404):
        assert after == before, f"{role} was refused but something changed"
    elif changes is not None:
        assert after[changes] != before[changes], f"{role} was allowed but nothing changed"
        assert {k: v for k, v in after.items() if k != changes} == {k: v for k, v in before.items() if k != changes}


@pytest.mark.parametrize("action, data", [("role", {"role": "editor"}), ("suspend", {})])
def test_admins_cannot_demote_or_suspend_themselves(client, app, action, data):
    admin = make_user("admin", username="self-admin")
    make_user("admin", username="other-admin")
    login(client, admin)
    response = client.post(f"/admin/users/{admin.id}/{action}", data=data)
    assert response.status_code in (403, 422)
    db.session.expire_all()
    assert admin.role == "admin" and admin.status == "active"
    assert client.get("/admin/").status_code == 200


def test_other_admins_are_managed_like_anyone(client, app):
    admin, other = make_user("admin"), make_user("admin", username="other-admin")
    login(client, admin)
    assert client.post(f"/admin/users/{other.id}/role", data={"role": "editor"}).status_code == 302
    db.session.expire_all()
    assert other.role == "editor"
