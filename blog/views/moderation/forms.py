from wtforms import HiddenField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from blog.i18n import _l
from blog.views.forms import BaseForm

ACTION_LABELS = {"approve": _l("Approve"), "reject": _l("Reject"), "delete": _l("Delete")}
STATUS_LABELS = {"pending": _l("Pending"), "approved": _l("Approved"), "rejected": _l("Rejected")}


class ModerateOneForm(BaseForm):
    # The template renders these as submit buttons named "action", not as a <select>.
    action = SelectField(choices=[SelectChoice(a, label) for a, label in ACTION_LABELS.items()],
                         validators=[DataRequired(message=_l("Choose approve, reject or delete."))])
    # The tab to return to; the view falls back to "pending" for anything unexpected.
    status = HiddenField()


class ModerationForm(ModerateOneForm):
    # Checkboxes rendered by the template; the service checks that each id exists and may be moderated.
    comment_ids = SelectMultipleField(coerce=int, validate_choice=False,
                                      validators=[DataRequired(message=_l("Select at least one comment."))])
