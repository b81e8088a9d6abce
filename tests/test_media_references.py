"""Post Markdown refers to uploads as ``![alt](media:12)``: what the sanitizer keeps, and how it is read."""
import pytest

from blog import sanitize
from blog.services import media_display


@pytest.mark.parametrize(("source", "html"), [
    ("![A cat](media:12)", '<p><img src="media:12" alt="A cat"></p>\n'),
    ('![](media:7 "title")', '<p><img src="media:7" alt="" title="title"></p>\n'),
    ("![x](media:0)", '<p><img alt="x"></p>\n'),
    ("![x](MEDIA:12)", '<p><img alt="x"></p>\n'),
    ("![x](media:12/../1)", '<p><img alt="x"></p>\n'),
    ('<img src="media:5" onerror="alert(1)">', '<img src="media:5">'),
    ("[a link](media:3)", "<p><a>a link</a></p>\n"),
    ('<a href=" media:3">x</a>', "<p><a>x</a></p>\n"),
], ids=["reference", "with-title", "zero", "upper-case", "path", "event-handler", "link", "spaced-link"])
def test_the_sanitizer_keeps_only_well_formed_image_references(source, html):
    assert sanitize.render_markdown(source).html == html


def test_comments_cannot_show_uploads():
    assert "<img" not in sanitize.render_markdown("![x](media:12)", comment=True).html


def test_image_tags_are_read_from_sanitized_html():
    html = sanitize.render_markdown('![One](media:1) ![](https://example.org/a.png) ![Two &amp; "three"](media:2)').html
    tags = media_display.image_tags(html)
    assert [(t.media_id, t.alt) for t in tags] == [(1, "One"), (None, ""), (2, 'Two & "three"')]
    assert media_display.ids_in(html) == [1, 2]
    replaced = media_display.replace_references(html, {}, lambda pic, alt, i: f"[{pic.status}:{alt}:{i}]")
    assert "[missing:One:0]" in replaced and '[missing:Two & "three":1]' in replaced
    assert 'src="https://example.org/a.png"' in replaced
