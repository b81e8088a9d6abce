"""The blog in Spanish, German and French: pages, forms, emails, the language switcher, the reader's time
zone, relative times and numbers, and scheduling across daylight-saving changes."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask_babel import force_locale

from blog.cli import translate
from blog.config import PROJECT_ROOT
from blog.extensions import babel, db
from blog.models.post import Post
from blog.services import notifications
from blog.templating import _ago, _number
from blog.views.forms import BaseForm, FormTranslations
from blog.views.media import filesize
from tests.conftest import email_parts
from tests.factories import PASSWORD, login, make_comment, make_post, make_user

TRANSLATIONS = PROJECT_ROOT / "translations"
LANGUAGES = ("es", "de", "fr")
NBSP = "\u00a0"

# What each language must show: a sample of the catalog, Babel's dates and the plural rules.
EXPECTED = {
    "es": {"latest": "Últimas entradas", "date": "5 de marzo de 2026", "read": "1 min de lectura",
           "comments": "1 comentario", "no_comments": "0 comentarios", "sign_in": "Iniciar sesión",
           "required": "Este campo es obligatorio.", "choice": "No es una opción válida.",
           "subject": "Restablece tu contraseña", "hello": "Hola, ", "switcher": "Cambiar idioma",
           "bad_login": "El nombre de usuario o correo y la contraseña no coinciden."},
    "de": {"latest": "Neueste Beiträge", "date": "5. März 2026", "read": "1 Min. Lesezeit",
           "comments": "1 Kommentar", "no_comments": "0 Kommentare", "sign_in": "Anmelden",
           "required": "Dieses Feld ist erforderlich.", "choice": "Keine gültige Auswahl.",
           "subject": "Passwort zurücksetzen", "hello": "Hallo ", "switcher": "Sprache ändern",
           "bad_login": "Benutzername bzw. E-Mail-Adresse und Passwort passen nicht zusammen."},
    "fr": {"latest": "Derniers articles", "date": "5 mars 2026", "read": "1 min de lecture",
           # French uses the singular for 0 too: the catalog's plural rule is n > 1.
           "comments": "1 commentaire", "no_comments": "0 commentaire", "sign_in": "Se connecter",
           "required": "Ce champ est obligatoire.", "choice": "Ce n’est pas un choix valide.",
           "subject": "Réinitialisez votre mot de passe", "hello": "Bonjour ", "switcher": "Changer de langue",
           "bad_login": "Le nom d’utilisateur ou l’adresse e-mail ne correspond pas au mot de passe."},
}
PUBLISHED = datetime(2026, 3, 5, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogs():
    """The app reads .mo files, which `make translations` builds; build them here too when stale, so a
    plain `pytest` after editing a catalog tests the catalog and not an old build."""
    stale = [lang for lang in LANGUAGES
             if not (mo := TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").exists()
             or mo.stat().st_mtime < (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").stat().st_mtime]
    if stale:
        translate.compile_catalogs(TRANSLATIONS)
        babel.domain_instance.cache.clear()  # catalogs loaded before the build are out of date


def html_lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


def get(client, path, lang=None, **kwargs):
    headers = {"Accept-Language": lang} if lang else {}
    return client.get(path, headers=headers, **kwargs)


# ---- every language, page by page ----------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGUAGES)
def test_home_page(client, lang):
    make_post(make_user("author"), title="Hola", published_at=PUBLISHED)
    html = get(client, "/", lang).get_data(as_text=True)
    expected = EXPECTED[lang]
    assert html_lang(html) == lang
    assert expected["latest"] in html and expected["date"] in html and expected["read"] in html
    assert expected["switcher"] in html
    assert "Latest posts" not in html and "min read" not in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_post_page_with_plural_forms(client, lang):
    post = make_post(make_user("author"), title="Una entrada", published_at=PUBLISHED)
    empty = get(client, f"/p/{post.slug}", lang).get_data(as_text=True)
    assert html_lang(empty) == lang and EXPECTED[lang]["no_comments"] in empty
    make_comment(post, make_user("reader"))
    html = get(client, f"/p/{post.slug}", lang).get_data(as_text=True)
    assert EXPECTED[lang]["comments"] in html and EXPECTED[lang]["date"] in html
    assert "Sign in to comment" not in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_sign_in_form_with_a_validation_error(client, lang):
    response = client.post("/login", data={"login": "", "password": ""}, headers={"Accept-Language": lang})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html_lang(html) == lang and EXPECTED[lang]["sign_in"] in html
    assert html.count(EXPECTED[lang]["required"]) == 2  # WTForms' own message, from our catalog
    assert "This field is required." not in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_service_error_and_a_choice_error_are_translated(client, lang):
    user = make_user("reader", username="ana", locale=lang)
    wrong = client.post("/login", data={"login": "ana", "password": "not it"}, headers={"Accept-Language": lang})
    assert wrong.status_code == 422 and EXPECTED[lang]["bad_login"] in wrong.get_data(as_text=True)
    login(client, user)
    response = client.post("/settings/profile", data={"display_name": "Ana", "bio": "", "locale": "xx",
                                                      "timezone": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and html_lang(html) == lang
    assert EXPECTED[lang]["choice"] in html and "Not a valid choice." not in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_emails_use_the_recipients_language_not_the_requests(app, client, outbox, lang):
    make_user("reader", username="rec", email="rec@example.com", locale=lang)
    other = "de" if lang != "de" else "es"
    client.post("/reset", data={"email": "rec@example.com"}, headers={"Accept-Language": other})
    message = outbox.last()
    text, html = email_parts(message)
    assert message["Subject"] == EXPECTED[lang]["subject"]
    assert text.startswith(EXPECTED[lang]["hello"]) and html_lang(html) == lang
    assert "Someone asked" not in text and "Hello" not in text


def test_emails_sent_outside_a_request_use_the_recipients_language(app, outbox):
    user = make_user("reader", locale="fr")
    notifications.send_password_reset(user)
    assert outbox.last()["Subject"] == EXPECTED["fr"]["subject"]
    with app.test_request_context(headers={"Accept-Language": "de"}):
        notifications.send_email_changed_notice(user, "old@example.com")
    message = outbox.last()
    assert message["Subject"] == "Votre adresse e-mail a été modifiée"
    text, _html = email_parts(message)
    assert text.startswith("Bonjour ")


def test_error_pages_are_translated(client):
    html = get(client, "/no/such/page", "de").get_data(as_text=True)
    assert "Seite nicht gefunden" in html and html_lang(html) == "de"


def test_french_typography_uses_no_break_spaces(client):
    html = get(client, "/login", "fr").get_data(as_text=True)
    assert f"Mot de passe oublié{NBSP}?" in html


# ---- choosing the language -----------------------------------------------------------------------------

def lang_of(client, **headers) -> str:
    return html_lang(client.get("/", headers=headers).get_data(as_text=True))


def test_locale_order_user_then_cookie_then_accept_language_then_default(client, make_app):
    assert lang_of(client) == "en"
    assert lang_of(client, **{"Accept-Language": "ja, de;q=0.8"}) == "de"
    assert lang_of(client, **{"Accept-Language": "ja"}) == "en"  # not offered: the site default
    client.set_cookie("locale", "fr")
    assert lang_of(client, **{"Accept-Language": "de"}) == "fr"
    client.set_cookie("locale", "xx")  # a forged or retired value is ignored
    assert lang_of(client, **{"Accept-Language": "de"}) == "de"
    client.set_cookie("locale", "fr")
    login(client, make_user("reader", locale="es"))
    assert lang_of(client, **{"Accept-Language": "de"}) == "es"
    automatic = make_app().test_client()
    login(automatic, make_user("reader", locale=None))  # "Automatic": the cookie and browser decide
    automatic.set_cookie("locale", "fr")
    assert lang_of(automatic, **{"Accept-Language": "de"}) == "fr"
    spanish_site = make_app(BABEL_DEFAULT_LOCALE="es").test_client()
    assert lang_of(spanish_site) == "es"


def test_footer_switcher_is_a_plain_get_form(client):
    html = get(client, "/tag/x?page=2", "de").get_data(as_text=True)  # a 404 page has the footer too
    footer = html[html.index('<footer class="site-footer">'):]
    form = re.search(r'<form method="get" action="/language" class="language-switcher">.*?</form>', footer, re.S)
    assert form, footer
    form = form.group(0)
    assert '<input type="hidden" name="next" value="/tag/x?page=2">' in form
    assert re.findall(r'<option value="(\w+)" lang="\1"', form) == ["en", "es", "de", "fr"]
    assert '<option value="de" lang="de" selected>Deutsch</option>' in form
    assert "Español" in form and "Français" in form and "English" in form
    assert '<button type="submit"' in form and "<script" not in form


def test_switcher_sets_a_year_long_cookie_and_goes_back(client):
    make_post(make_user("author"), title="Hola", tags=["viajes"], published_at=PUBLISHED)
    response = client.get("/language", query_string={"locale": "es", "next": "/tag/viajes?page=1"})
    assert response.status_code == 303 and response.headers["Location"] == "/tag/viajes?page=1"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("locale=es;")
    for attribute in ("Max-Age=31536000", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    page = client.get("/tag/viajes", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert html_lang(page) == "es" and "Entradas con la etiqueta «viajes»" in page


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "%2F%2Fevil.example"])
def test_switcher_refuses_off_site_next(client, target):
    response = client.get("/language", query_string={"locale": "fr", "next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_switcher_ignores_unknown_languages(client):
    response = client.get("/language", query_string={"locale": "xx", "next": "/login"})
    assert response.headers["Location"] == "/login" and "Set-Cookie" not in response.headers


def test_a_saved_preference_still_wins_and_the_switcher_says_so(client):
    login(client, make_user("reader", locale="es"))
    response = client.get("/language", query_string={"locale": "de", "next": "/"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert html_lang(html) == "es"
    assert "Mientras tengas la sesión iniciada, se usa el idioma configurado en tu cuenta (Español)" in html


def test_pages_vary_on_language_inputs(client):
    vary = client.get("/").headers["Vary"]
    assert "Accept-Language" in vary and "Cookie" in vary


# ---- WTForms' own messages -----------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGUAGES)
def test_wtforms_messages_come_from_our_catalog_then_from_wtforms(app, lang):
    from wtforms import SelectField, StringField
    from wtforms.fields.choices import SelectChoice
    from wtforms.validators import DataRequired, Email

    class Probe(BaseForm):
        name = StringField(validators=[DataRequired()])
        pick = SelectField(choices=[SelectChoice("a", "A")])
        mail = StringField(validators=[Email(check_deliverability=False)])

    with app.test_request_context(method="POST", data={"pick": "z", "mail": "nope"}), force_locale(lang):
        form = Probe(meta={"csrf": False})
        assert not form.validate()
        assert form.name.errors == [EXPECTED[lang]["required"]]
        assert form.pick.errors == [EXPECTED[lang]["choice"]]
        # Not one of ours (no form here uses Email()): WTForms' own catalog answers.
        assert form.mail.errors and form.mail.errors[0] != "Invalid email address."
        translations = FormTranslations()
        assert translations.ngettext("Field cannot be longer than %(max)d character.",
                                     "Field cannot be longer than %(max)d characters.", 5) != (
            "Field cannot be longer than %(max)d characters.")


# ---- times, relative times and numbers -----------------------------------------------------------------

def test_dates_are_shown_in_the_readers_time_zone(client, make_app):
    post = make_post(make_user("author"), title="New year",
                     published_at=datetime(2025, 12, 31, 23, 30, tzinfo=timezone.utc))
    assert "December 31, 2025" in client.get(f"/p/{post.slug}").get_data(as_text=True)
    login(client, make_user("reader", timezone="Europe/Berlin"))
    assert "January 1, 2026" in client.get(f"/p/{post.slug}").get_data(as_text=True)
    tokyo = make_app(BABEL_DEFAULT_TIMEZONE="Asia/Tokyo").test_client()  # DEFAULT_TIMEZONE for everyone else
    html = tokyo.get(f"/p/{post.slug}", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "1. Januar 2026" in html


@pytest.mark.parametrize("lang, past, future", [
    ("en", "5 minutes ago", "in 2 hours"),
    ("es", "hace 5 minutos", "dentro de 2 horas"),
    ("de", "vor 5 Minuten", "in 2 Stunden"),
    ("fr", "il y a 5 minutes", "dans 2 heures"),
])
def test_relative_times_are_worded_by_the_locale(app, lang, past, future):
    now = datetime(2027, 1, 1, 12, 0, tzinfo=timezone.utc)
    with app.test_request_context(), force_locale(lang):
        assert _ago(now - timedelta(minutes=5), now=now) == past
        assert _ago(now + timedelta(hours=2), now=now) == future
        assert _ago(now - timedelta(seconds=20), now=now) != ""


def test_studio_list_shows_relative_times_in_the_authors_language(client):
    author = make_user("author", locale="de")
    post = make_post(author, title="Alt", status="draft")
    post.updated_at = datetime.now(timezone.utc) - timedelta(hours=3)
    db.session.commit()
    login(client, author)
    html = client.get("/studio/posts").get_data(as_text=True)
    assert "vor 3 Stunden" in html and "1 Eintrag" in html


@pytest.mark.parametrize("lang, number, size", [("en", "1,234,567", "1.5 MB"), ("de", "1.234.567", "1,5 MB"),
                                                 ("fr", "1\u202f234\u202f567", "1,5 Mo"), ("es", "1.234.567", "1,5 MB")])
def test_numbers_and_sizes_are_localized(app, lang, number, size):
    with app.test_request_context(), force_locale(lang):
        assert _number(1234567) == number
        assert filesize(int(1.5 * 1024 * 1024)) == size


# ---- scheduling across daylight-saving changes (Europe/Berlin) ----------------------------------------

def _last_sunday(year: int, month: int) -> date:
    last = date(year, month, 31)
    return last - timedelta(days=(last.weekday() - 6) % 7)


# The EU changes clocks on the last Sundays of March and October: 2027-03-28 and 2027-10-31 (the year must lie
# ahead, since the studio refuses to schedule in the past; after 2027 the tests move on a year by themselves).
DST_YEAR = max(2027, datetime.now(timezone.utc).year + 1)
SPRING, AUTUMN = _last_sunday(DST_YEAR, 3), _last_sunday(DST_YEAR, 10)


def at(day: date, hour: int, minute: int, tz=timezone.utc) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


@pytest.fixture
def berlin_author(client):
    author = make_user("author", username="berlin", timezone="Europe/Berlin")
    login(client, author)
    client.author = author
    return client


def schedule(client, when: str, title: str = "Timed"):
    return client.post("/studio/new/post", data={"title": title, "slug": "", "source": "Text.", "excerpt": "",
                                                 "tags": "", "action": "schedule", "publish_at": when})


def test_spring_forward_gap_is_refused_through_the_studio(berlin_author):
    assert DST_YEAR > 2027 or (SPRING, AUTUMN) == (date(2027, 3, 28), date(2027, 10, 31))
    response = schedule(berlin_author, f"{SPRING}T02:30")  # 02:00-03:00 does not happen that night
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"{SPRING} 02:30 does not exist in Europe/Berlin" in html
    assert db.session.query(Post).count() == 0  # nothing saved
    ok = schedule(berlin_author, f"{SPRING}T03:30", title="After the gap")
    assert ok.status_code == 302
    post = db.session.query(Post).one()
    assert post.published_at == at(SPRING, 1, 30)  # CEST, +02:00


def test_autumn_overlap_means_the_first_occurrence_through_the_studio(berlin_author):
    response = schedule(berlin_author, f"{AUTUMN}T02:30")  # 02:00-03:00 happens twice that night
    assert response.status_code == 302
    post = db.session.query(Post).one()
    assert post.published_at == at(AUTUMN, 0, 30)  # the first 02:30, still summer time (+02:00)
    editor = berlin_author.get(response.headers["Location"]).get_data(as_text=True)
    assert f'value="{AUTUMN}T02:30"' in editor  # shown back in the author's wall-clock time
    assert "(Europe/Berlin)" in editor
    later = schedule(berlin_author, f"{AUTUMN}T03:30", title="After the overlap")
    assert later.status_code == 302
    second = db.session.query(Post).filter_by(title="After the overlap").one()
    assert second.published_at == at(AUTUMN, 2, 30)  # winter time, +01:00


def test_scheduling_message_uses_the_authors_locale_and_zone(client):
    author = make_user("author", locale="fr", timezone="Europe/Berlin")
    login(client, author)
    page = client.get(schedule(client, f"{AUTUMN}T02:30").headers["Location"]).get_data(as_text=True)
    assert f"est programmé pour le {AUTUMN:%d/%m/%Y} 02:30" in page


# ---- the operators' commands ---------------------------------------------------------------------------

def test_translate_commands_on_a_copy(make_app, tmp_path):
    import shutil

    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy, ignore=shutil.ignore_patterns("*.mo"))
    runner = make_app(BABEL_TRANSLATION_DIRECTORIES=str(copy)).test_cli_runner()
    result = runner.invoke(args=["translate", "check"])
    assert result.exit_code == 0, result.output
    assert "Every language is complete." in result.output
    result = runner.invoke(args=["translate", "init", "it"])
    assert result.exit_code == 0, result.output
    assert (copy / "it" / "LC_MESSAGES" / "messages.po").exists()
    result = runner.invoke(args=["translate", "check"])
    assert result.exit_code == 1 and "it: untranslated" in result.output
    result = runner.invoke(args=["translate", "init", "it"])
    assert result.exit_code != 0 and "already has a catalog" in result.output
    result = runner.invoke(args=["translate", "update"])
    assert result.exit_code == 0 and "es: complete" in result.output and "it:" in result.output
    result = runner.invoke(args=["translate", "compile"])
    assert result.exit_code == 0, result.output
    assert all((copy / lang / "LC_MESSAGES" / "messages.mo").exists() for lang in (*LANGUAGES, "it"))
    result = runner.invoke(args=["translate", "extract"])
    assert result.exit_code == 0 and Path(copy / "messages.pot").exists()


def test_the_confirmation_email_follows_the_language_the_visitor_signed_up_in(client, outbox):
    response = client.post("/register", headers={"Accept-Language": "es-ES,es;q=0.9"}, data={
        "username": "hablante", "email": "hablante@example.com", "password": "una frase larga 42!",
        "confirm": "una frase larga 42!"})
    assert response.status_code == 302
    message = outbox.last()
    assert message["To"] == "hablante@example.com"
    from blog.services.accounts import get_by_login

    assert get_by_login("hablante").locale is None  # Accept-Language is not saved as a choice
    assert message["Subject"] == "Confirma tu dirección de correo electrónico"  # Spanish, not the default
