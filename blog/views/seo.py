"""What search engines and link previews read in a page head: canonical URLs and post metadata.

Absolute URLs come from ``BASE_URL`` (see :func:`blog.services.notifications.external_url`), never from
the Host header a client sends.
"""
from __future__ import annotations

from flask import Blueprint, current_app, request
from urllib.parse import urljoin

from blog.services.notifications import external_url
from blog.views.caching import KEY_ARGS

bp = Blueprint("seo", __name__)

# Query parameters that make a different page (everything else, e.g. tracking tags, is dropped).
CANONICAL_ARGS = ("page",)


@bp.app_template_global()
def absolute_url(endpoint: str, **values) -> str:
    return external_url(endpoint, **values)


def _absolute(url: str) -> str:
    """A storage URL made absolute (local storage serves from this site; S3 URLs already are)."""
    return urljoin(external_url("public.index"), url)


@bp.app_template_global()
def canonical_url() -> str | None:
    """This page's one address: its route and the arguments that change its content (``page`` > 1)."""
    if request.endpoint is None or request.url_rule is None:
        return None
    values = dict(request.view_args or {})
    # A reader page's canonical URL keeps only the arguments its view reads (a post has no ``page``), so
    # a cached copy never carries another address.
    for name in (n for n in KEY_ARGS.get(request.endpoint, CANONICAL_ARGS) if n in CANONICAL_ARGS):
        raw = request.args.get(name)
        if raw and raw != "1":
            values[name] = raw
    return external_url(request.endpoint, **values)


@bp.app_template_global()
def post_metadata(post, picture=None) -> dict:
    """OpenGraph / Twitter card fields and the JSON-LD ``BlogPosting`` of a reader's post page."""
    url = external_url("public.post", slug=post.slug)
    author_url = external_url("public.author", username=post.author.username)
    image = picture.share_image if picture is not None and picture.has_variants else None
    if image:
        image = {**image, "url": _absolute(image["url"]), "alt": picture.alt}
    ld = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": post.title,
        "description": post.excerpt,
        "url": url,
        "mainEntityOfPage": url,
        "datePublished": post.published_at.isoformat() if post.published_at else None,
        "dateModified": (post.updated_at or post.published_at).isoformat() if post.published_at else None,
        "wordCount": post.word_count,
        "keywords": [tag.name for tag in post.tags],
        "author": {"@type": "Person", "name": post.author.name, "url": author_url},
        "publisher": {"@type": "Organization", "name": current_app.config["SITE_NAME"],
                      "url": external_url("public.index")},
    }
    if image:
        ld["image"] = image["url"]
    return {
        "url": url,
        "author_url": author_url,
        "image": image,
        "json_ld": {key: value for key, value in ld.items() if value not in (None, [])},
    }
