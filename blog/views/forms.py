"""The base form: service errors (InvalidInput) go back onto the fields they name."""
from __future__ import annotations

from flask_wtf import FlaskForm

from blog.exceptions import InvalidInput


def _no_nul(value):
    # PostgreSQL refuses NUL in text; browsers can send it. Services clean again for other callers.
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


class BaseForm(FlaskForm):
    class Meta(FlaskForm.Meta):
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
