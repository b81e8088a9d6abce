"""Machine-readable views: Atom feeds, the sitemap and robots.txt.

None of these addresses can be taken by a page: their first path segment holds a dot, which the
``page_slug`` converter never matches. Feeds are one public document per address, cached by shared
caches, so they are written in the site's default language, never the visitor's.
"""
from functools import wraps

from flask import Blueprint, Response, current_app, render_template

from blog.i18n import force_locale
from blog.services import feeds
from blog.views import conditional

bp = Blueprint("feeds", __name__)

FEED_MAX_AGE = 300
SITEMAP_MAX_AGE = 3600
ROBOTS_MAX_AGE = 86400
ATOM = "application/atom+xml"

# Areas no crawler should walk: accounts, writing, administration, and links that change a setting.
# Single addresses end in "$" (RFC 9309) and "?" so a page such as /login-help stays crawlable.
ROBOTS_DISALLOW = ("/admin/", "/studio/", "/settings/", "/confirm/", "/reset/",
                   "/login$", "/login?", "/register$", "/register?", "/reset$", "/reset?",
                   "/language$", "/language?", "/search$", "/search?")


def in_site_language(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            return view(*args, **kwargs)
    return wrapper


def _atom(source: feeds.FeedSource):
    return conditional.respond(
        source.version(), lambda: render_template("feeds/atom.xml", feed=source.build(), w3c=feeds.w3c_datetime),
        max_age=FEED_MAX_AGE, mimetype=ATOM)


@bp.get("/feed.atom")
@in_site_language
def site():
    return _atom(feeds.site_feed())


@bp.get("/tag/<slug>/feed.atom")
@in_site_language
def tag(slug):
    return _atom(feeds.tag_feed(slug=slug))


@bp.get("/u/<username>/feed.atom")
@in_site_language
def author(username):
    return _atom(feeds.author_feed(username=username))


def _xml(body: str) -> Response:
    response = Response(body, mimetype="application/xml")
    response.cache_control.public = True
    response.cache_control.max_age = SITEMAP_MAX_AGE
    return response


@bp.get("/sitemap.xml")
@in_site_language
def sitemap():
    found = feeds.sitemap()
    if isinstance(found, feeds.SitemapIndex):
        return _xml(render_template("feeds/sitemap_index.xml", sitemaps=found.sitemaps))
    return _xml(render_template("feeds/sitemap.xml", urls=found, w3c=feeds.w3c_datetime))


@bp.get("/sitemap-<int:page>.xml")
@in_site_language
def sitemap_page(page):
    return _xml(render_template("feeds/sitemap.xml", urls=feeds.sitemap_page(page=page), w3c=feeds.w3c_datetime))


@bp.get("/robots.txt")
def robots():
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW), "",
             f"Sitemap: {feeds.absolute_url('feeds.sitemap')}", ""]
    response = Response("\n".join(lines), mimetype="text/plain")
    response.cache_control.public = True
    response.cache_control.max_age = ROBOTS_MAX_AGE
    return response
