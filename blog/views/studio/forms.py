from flask_wtf.file import FileAllowed, FileRequired, MultipleFileField
from wtforms import DateTimeLocalField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from blog.i18n import _l
from blog.views.forms import BaseForm

IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "webp", "gif"]
ACCEPT = {"accept": "image/jpeg,image/png,image/webp,image/gif"}


def optional_id(value):
    """A select's value as an id, or None for "no image"."""
    if value is None or value == "" or value == "None":
        return None
    return int(value) if str(value).isdigit() else -1  # -1 is never offered: "not a valid choice"


class PostForm(BaseForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    source = TextAreaField(_l("Text (Markdown)"), validators=[Length(max=200_000)])
    excerpt = TextAreaField(_l("Excerpt"), validators=[Optional(), Length(max=500)])
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=600)])
    nav_order = IntegerField(_l("Position in the navigation"), validators=[Optional(), NumberRange(0, 999)])
    featured_image = SelectField(_l("Featured image"), coerce=optional_id, choices=[], validate_choice=True)
    publish_at = DateTimeLocalField(_l("Publish at"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    version = HiddenField()


class UploadForm(BaseForm):
    # The extension check is a courtesy for the file picker; the service checks the bytes themselves.
    files = MultipleFileField(_l("Images"), validators=[
        FileRequired(_l("Choose at least one image.")),
        FileAllowed(IMAGE_EXTENSIONS, _l("Upload JPEG, PNG, WebP or GIF images."))], render_kw=ACCEPT)
    alt_text = StringField(_l("Alt text"), validators=[Optional(), Length(max=300)])


class AltTextForm(BaseForm):
    alt_text = StringField(_l("Alt text"), validators=[Optional(), Length(max=300)])

