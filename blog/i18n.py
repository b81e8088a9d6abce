"""Locale and timezone selection, and the translation functions everything else imports."""
from __future__ import annotations

from flask import current_app, has_request_context, request
from flask_babel import force_locale, gettext as _, lazy_gettext as _l, ngettext  # noqa: F401
from flask_login import current_user

LOCALE_COOKIE = "locale"


def available_locales() -> tuple[str, ...]:
    return tuple(current_app.config["LANGUAGES"])


def select_locale() -> str:
    """The signed-in user's preference, then the switcher's cookie, then Accept-Language, then the default."""
    if not has_request_context():  # CLI and jobs: the caller picks a locale with force_locale()
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    locales = available_locales()
    if current_user and current_user.is_authenticated and current_user.locale in locales:
        return current_user.locale
    return anonymous_locale(request.cookies.get(LOCALE_COOKIE), request.accept_languages, locales,
                            current_app.config["BABEL_DEFAULT_LOCALE"])


def anonymous_locale(cookie: str | None, accept_languages, locales: tuple[str, ...], default: str) -> str:
    """A visitor's language without an account: the switcher's cookie, then Accept-Language (werkzeug's
    ``LanguageAccept``), then the default."""
    if cookie in locales:
        return cookie
    return accept_languages.best_match(locales) or default


def select_timezone() -> str | None:
    if not has_request_context():
        return None
    if current_user and current_user.is_authenticated and current_user.timezone:
        return current_user.timezone
    return None
