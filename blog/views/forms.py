"""The base form: service errors (InvalidInput) go back onto the fields they name, and WTForms' own messages
speak the reader's language (see :class:`FormTranslations`)."""
from __future__ import annotations

from flask import current_app
from flask_babel import get_translations
from flask_wtf import FlaskForm
from flask_wtf.i18n import translations as wtforms_catalogs

from blog.exceptions import InvalidInput


class _Extract:
    """Marks WTForms' own messages for pybabel (it finds calls named gettext and ngettext); returns them as is."""

    gettext = staticmethod(lambda message: message)
    ngettext = staticmethod(lambda singular, plural, n: (singular, plural))


# What WTForms says for the fields and validators our forms use. Listed so they are in our catalogs, worded
# like the rest of the site and checked for completeness with it; WTForms' own catalogs (incomplete for
# German) only answer for messages missing here.
WTFORMS_MESSAGES = (
    _Extract.gettext("This field is required."),
    _Extract.ngettext("Field cannot be longer than %(max)d character.",
                      "Field cannot be longer than %(max)d characters.", 2),
    _Extract.gettext("Number must be between %(min)s and %(max)s."),
    _Extract.gettext("Not a valid integer value."),
    _Extract.gettext("Not a valid datetime value."),
    _Extract.gettext("Not a valid choice."),
    _Extract.gettext("Invalid Choice: could not coerce."),
    _Extract.gettext("Invalid choice(s): one or more data inputs could not be coerced."),
)


class FormTranslations:
    """The translations WTForms uses for its messages: the site's catalog, then WTForms' catalogs."""

    def gettext(self, string: str) -> str:
        translated = get_translations().ugettext(string)
        return translated if translated != string else wtforms_catalogs.gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        translated = get_translations().ungettext(singular, plural, n)
        if translated not in (singular, plural):
            return translated
        return wtforms_catalogs.ngettext(singular, plural, n)


FORM_TRANSLATIONS = FormTranslations()


def _no_nul(value):
    # PostgreSQL refuses NUL in text; browsers can send it. Services clean again for other callers.
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


class BaseForm(FlaskForm):
    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return FORM_TRANSLATIONS

        def bind_field(self, form, unbound_field, options):
            # Added to the field's own filters (bind options would otherwise replace them).
            options["filters"] = [*unbound_field.kwargs.get("filters", ()), _no_nul]
            return super().bind_field(form, unbound_field, options)

    def apply(self, exc: InvalidInput) -> None:
        """Show each message of ``exc`` next to its field; messages for unknown fields go to ``form_errors``."""
        for name, messages in exc.errors.items():
            field = self._fields.get(name)
            if field is None:
                self.form_errors.extend(messages)
            else:
                field.errors = list(field.errors or []) + list(messages)


class ActionForm(BaseForm):
    """A button that changes state: nothing but the CSRF token."""
