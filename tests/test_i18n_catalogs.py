"""The catalogs themselves: complete after extract + update, placeholders intact, and no visible string on the
main pages that bypasses translation (a marker catalog wraps every translation in ⟦…⟧)."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from blog.cli import translate
from blog.config import PROJECT_ROOT, Config
from blog.extensions import babel
from blog.views.forms import WTFORMS_MESSAGES
from tests.factories import PASSWORD, login, make_comment, make_post, make_user

TRANSLATIONS = PROJECT_ROOT / "translations"
LANGUAGES = tuple(lang for lang in Config.LANGUAGES if lang != Config.BABEL_DEFAULT_LOCALE)  # es, de, fr
PLURAL_FORMS = {"es": "nplurals=2; plural=(n != 1);", "de": "nplurals=2; plural=(n != 1);",
                "fr": "nplurals=2; plural=(n > 1);"}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Catalog:
    """What pybabel extracts from the code today (never the repository's possibly stale messages.pot)."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    translate.extract(pot)
    with pot.open("rb") as f:
        return read_po(f)


def _catalog(lang: str) -> Catalog:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


# ---- completeness --------------------------------------------------------------------------------------

def test_every_language_is_complete_after_extract_and_update():
    """A new or changed string without translations fails here: run `flask translate update`, translate
    it in every language, and `flask translate check` passes."""
    assert set(LANGUAGES) >= {"es", "de", "fr"}
    assert set(translate.languages(TRANSLATIONS)) == set(LANGUAGES)  # every offered language has a catalog
    problems = translate.check(TRANSLATIONS)
    assert not problems, "\n".join(str(p) for p in problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_holds_every_extracted_message_with_the_right_plural_forms(lang, template):
    catalog = _catalog(lang)
    assert catalog.plural_forms == PLURAL_FORMS.get(lang, Catalog(locale=lang).plural_forms)
    extracted = {m.id for m in template if m.id}
    translated = {m.id for m in catalog if m.id and not m.fuzzy and all(
        m.string if isinstance(m.string, tuple) else (m.string,))}
    assert extracted - translated == set()
    for message in catalog:
        if isinstance(message.id, tuple):
            assert len(message.string) == 2, message.id


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_exactly_the_placeholders_of_the_english(lang):
    mismatched = [p for p in translate.problems_in(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", lang)
                  if p.issue.startswith("placeholders")]
    assert mismatched == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_are_not_copies_of_the_english(lang):
    # Some words are spelled the same ("Status", "Markdown", "Pages", "%(size)s MB"): allow 5 % of them.
    messages = [m for m in _catalog(lang) if m.id and not isinstance(m.id, tuple)]
    same = [m.id for m in messages if m.string == m.id]
    assert len(same) <= len(messages) // 20, same


def test_placeholder_check_catches_mistakes(tmp_path):
    po = tmp_path / "messages.po"
    catalog = Catalog(locale="de")
    catalog.add("Hello %(name)s,", "Hallo %(nom)s,")
    catalog.add("%(num)d comment", "%(num)d Kommentar", flags=["fuzzy"])
    catalog.add(("%(num)d item", "%(num)d items"), ("ein Element", "%(num)d Elemente"))
    catalog.add("Untranslated", "")
    with po.open("wb") as f:
        from babel.messages.pofile import write_po

        write_po(f, catalog)
    issues = {p.msgid: p.issue for p in translate.problems_in(po, "de")}
    assert issues["Hello %(name)s,"].startswith("placeholders")
    assert issues["%(num)d comment"] == "fuzzy"
    assert issues["%(num)d item"].startswith("placeholders")  # French would say "ein" for 0 items too
    assert issues["Untranslated"] == "untranslated"


def test_wtforms_messages_our_forms_produce_are_in_our_catalogs(template):
    extracted = {m.id for m in template if m.id}
    for message in WTFORMS_MESSAGES:
        assert message in extracted


# ---- nothing visible bypasses translation ---------------------------------------------------------------

MARK_OPEN, MARK_CLOSE = "⟦", "⟧"
MARKED = re.compile(f"{MARK_OPEN}[^{MARK_OPEN}{MARK_CLOSE}]*{MARK_CLOSE}")


def _marker_catalog(template: Catalog, directory: Path) -> None:
    """An English catalog whose every translation is the English text wrapped in ⟦…⟧."""
    catalog = Catalog(locale="en")
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            catalog.add(message.id, tuple(f"{MARK_OPEN}{form}{MARK_CLOSE}" for form in message.id),
                        flags=message.flags)
        else:
            catalog.add(message.id, f"{MARK_OPEN}{message.id}{MARK_CLOSE}", flags=message.flags)
    folder = directory / "en" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as f:
        write_mo(f, catalog)


class VisibleText(HTMLParser):
    """Text a reader sees or hears: text nodes and the attributes browsers show or read aloud.

    Skipped: <script> and <style>; <time> (Babel's localized dates, tested per language in test_i18n.py);
    elements with their own ``lang`` (the switcher names each language in that language).
    """

    SKIP = {"script", "style", "time"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
    SHOWN_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fragments: list[str] = []
        self.stack: list[bool] = []  # per open element: is its text skipped?

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skipped = bool(self.stack and self.stack[-1]) or tag in self.SKIP or (tag != "html" and "lang" in attrs)
        if not skipped:
            self.fragments += [attrs[a] for a in self.SHOWN_ATTRIBUTES if attrs.get(a)]
            if tag == "input" and attrs.get("type") in ("submit", "button", "reset") and attrs.get("value"):
                self.fragments.append(attrs["value"])
            if tag == "meta" and attrs.get("name") == "description":
                self.fragments.append(attrs.get("content") or "")
        if tag not in self.VOID:
            self.stack.append(skipped)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]) and data.strip():
            self.fragments.append(data)


def unmarked(html: str, user_content: tuple[str, ...]) -> list[str]:
    """Visible fragments with letters left once translations (⟦…⟧, innermost first) and the given user
    content are taken out."""
    parser = VisibleText()
    parser.feed(html)
    leftovers = []
    for fragment in parser.fragments:
        rest = fragment
        while MARKED.search(rest):
            rest = MARKED.sub(" ", rest)
        for value in user_content:
            rest = rest.replace(value, " ")
        if re.search(r"[^\W\d_]", rest):
            leftovers.append(fragment.strip())
    return leftovers


@pytest.fixture
def marker_app(app, make_app, template, tmp_path, monkeypatch):
    """An app whose English catalog marks every translation, with a translation cache of its own.

    Flask-Babel caches catalogs on the Babel object for the whole process (keyed by locale only): the
    fresh cache keeps the marked catalog away from every other test, and theirs away from this one.
    """
    _marker_catalog(template, tmp_path / "marked")
    monkeypatch.setattr(babel.domain_instance, "cache", {})
    return make_app(BABEL_TRANSLATION_DIRECTORIES=str(tmp_path / "marked"), SITE_NAME="⟦Site⟧",
                    SITE_DESCRIPTION="⟦About this site⟧", POSTS_PER_PAGE=1)


def test_marker_check_finds_a_hard_coded_string():
    html = '<html lang="en"><body><p>⟦Posts tagged “⟦x⟧”⟧</p><p>Read more</p><a title="Edit">⟦Go⟧</a></body></html>'
    assert unmarked(html, ()) == ["Read more", "Edit"]


def test_no_visible_string_on_the_main_pages_bypasses_translation(marker_app):
    author = make_user("author", username="ada", display_name="⟦Ada Lovelace⟧")
    reader = make_user("reader", username="bob", display_name="⟦Bob⟧", email="bob@example.com",
                       email_confirmed_at=None)
    post = make_post(author, title="⟦A post⟧", source="⟦Body text of the post.⟧", tags=["⟦travel⟧"])
    make_post(author, title="⟦Older post⟧", source="⟦Older text.⟧", tags=["⟦travel⟧"])  # a second page
    make_post(author, title="⟦About us⟧", source="⟦We write.⟧", kind="page", nav_order=1, slug="about")
    commenter = make_user("reader", username="cy", display_name="⟦Cy⟧")
    make_comment(post, commenter, source="⟦A comment⟧")
    make_comment(post, reader, source="⟦Mine, pending⟧", status="pending")
    tag_slug = post.tags[0].slug
    client = marker_app.test_client()
    pages = {
        "home": client.get("/"),
        "home, page 2": client.get("/?page=2"),
        "post": client.get(f"/p/{post.slug}"),
        "tag": client.get(f"/tag/{tag_slug}"),
        "author": client.get("/u/ada"),
        "page": client.get("/about"),
        "sign-in": client.get("/login"),
        "sign-in with errors": client.post("/login", data={"login": "", "password": ""}),
        "sign-in refused": client.post("/login", data={"login": "bob", "password": "wrong password"}),
        "register": client.get("/register"),
        "register with errors": client.post("/register", data={"username": "", "email": "", "password": "x",
                                                               "confirm": "y"}),
        "not found": client.get("/no/such/page"),
    }
    signed_in = marker_app.test_client()
    signed_in.post("/login", data={"login": "bob", "password": PASSWORD})
    pages["home, signed in, with a flash message"] = signed_in.get("/")
    pages["post, signed in, unconfirmed, pending comment"] = signed_in.get(f"/p/{post.slug}")
    confirmed = marker_app.test_client()
    login(confirmed, commenter)
    pages["post with the comment form"] = confirmed.get(f"/p/{post.slug}")
    pages["comment refused"] = confirmed.post(f"/p/{post.slug}/comments", data={"body": ""})
    user_content = ("ada", "bob", "bob@example.com", "cy", tag_slug)
    for name, response in pages.items():
        html = response.get_data(as_text=True)
        assert response.status_code in (200, 404, 422), name
        assert MARK_OPEN in html, f"{name}: the marker catalog was not used"
        assert unmarked(html, user_content) == [], name
    assert "⟦You are signed in.⟧" in pages["home, signed in, with a flash message"].get_data(as_text=True)
    assert "⟦Page %(page)d⟧".replace("%(page)d", "1") in pages["home"].get_data(as_text=True)
