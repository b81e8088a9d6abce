"""The footer's language switcher: remembers a reader's choice in a cookie (no JavaScript needed).

Order of precedence (see :func:`blog.i18n.select_locale`): a signed-in user's saved language, then this
cookie, then the browser's Accept-Language, then the site default.
"""
from __future__ import annotations

from babel import Locale
from flask import Blueprint, current_app, flash, redirect, request
from flask_login import current_user

from blog.i18n import LOCALE_COOKIE, _, available_locales
from blog.views.caching import KEY_ARGS, kept_query
from blog.views.common import safe_next

bp = Blueprint("i18n", __name__)

COOKIE_MAX_AGE = 365 * 24 * 3600


def language_name(code: str) -> str:
    """A language's name in that language ("Deutsch", "Français"): readers look for their own."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


@bp.app_context_processor
def _switcher():
    def language_choices() -> list[tuple[str, str]]:
        return [(code, language_name(code)) for code in available_locales()]

    def current_path() -> str:
        # On a cached page only the arguments its key holds: anything else one reader's URL carried
        # (?utm_source=, a newsletter's ?subscriber=) would be served to every reader of that copy.
        if request.endpoint in KEY_ARGS:
            query = kept_query(request.endpoint, request.args)
        else:
            query = request.query_string.decode("latin-1")
        return f"{request.path}?{query}" if query else request.path

    return {"language_choices": language_choices, "current_path": current_path}


@bp.get("/language")
def switch():
    """Remember ``locale`` for a year and go back to ``next`` (a path on this site, else the home page).

    A GET so the footer's form works without JavaScript or a CSRF token: it only sets a preference
    cookie, never server state.
    """
    response = redirect(safe_next(request.args.get("next")), 303)
    locale = request.args.get("locale", "")
    if locale not in available_locales():
        return response
    response.set_cookie(LOCALE_COOKIE, locale, max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
    if current_user.is_authenticated and current_user.locale and current_user.locale != locale:
        flash(_("Your account's language setting (%(language)s) comes first while you are signed in. "
                "Change it in your profile settings.", language=language_name(current_user.locale)), "info")
    return response


@bp.after_app_request
def _vary(response):
    # Pages are negotiated on these: shared caches must not hand one reader's language to another.
    if response.mimetype == "text/html":
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
    return response
