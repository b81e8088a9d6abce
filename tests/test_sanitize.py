"""Sanitizer basics; the full hostile corpus arrives with the security issue."""
import pytest

from blog import sanitize
from blog.extensions import db
from tests.factories import make_post

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "![x](javascript:alert(1))",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<p onclick=\"alert(1)\">p</p>",
    "<body onload=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<object data=\"x.swf\"></object>",
    "<embed src=\"x.swf\">",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<td style=\"x:expression(alert(1))\">x</td>",
    "<form action=\"javascript:alert(1)\"><button>x</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
    "<a href=\"javascript&colon;alert(1)\">x</a>",
    "<a href=\"java\0script:alert(1)\">x</a>",
    "[x](<javascript:alert(1)>)",
    "[x]( javascript:alert(1) )",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<img src=\"x\" onerror=\"alert(1)\"/>",
    "<img src=`x`onerror=alert(1)>",
    "<IMG \"\"\"><SCRIPT>alert(1)</SCRIPT>\">",
    "<<SCRIPT>alert(1);//<</SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<video><source onerror=\"alert(1)\"></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<a href=\"#\" onmouseover=\"alert(1)\">hover</a>",
    "<div onpointerenter=alert(1)>x</div>",
    "<link rel=stylesheet href=\"javascript:alert(1)\">",
    "<table background=\"javascript:alert(1)\"><tr><td>x</td></tr></table>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<math href=\"javascript:alert(1)\">x</math>",
    "<xmp><p title=\"</xmp><img src=x onerror=alert(1)>\">",
    "<template><script>alert(1)</script></template>",
    "<isindex type=image src=1 onerror=alert(1)>",
]


def _executable(html: str) -> list[str]:
    """Anything a browser could execute, found by an HTML parser (not by substring guesses)."""
    from html.parser import HTMLParser

    found = []

    class Finder(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in {"script", "iframe", "object", "embed", "svg", "math", "style", "base", "meta", "form"}:
                found.append(tag)
            for name, value in attrs:
                if name.startswith("on") or name == "style" and "url(" in (value or ""):
                    found.append(f"{tag}[{name}]")
                if name in {"href", "src", "action", "formaction", "xlink:href"} and value:
                    scheme = "".join(value.split()).lower().split(":", 1)[0]
                    if scheme in {"javascript", "vbscript", "data"}:
                        found.append(f"{tag}[{name}={value}]")

    Finder().feed(html)
    return found


@pytest.mark.parametrize("source", HOSTILE)
@pytest.mark.parametrize("comment", [False, True], ids=["post", "comment"])
def test_nothing_executable_survives(source, comment):
    html = sanitize.render_markdown(source, comment=comment).html
    assert _executable(html) == [], html
    assert "<script" not in html.lower()


def test_the_corpus_is_large_enough():
    assert len(HOSTILE) >= 50


@pytest.mark.parametrize("source", HOSTILE)
def test_nothing_executable_survives_in_saved_posts_comments_and_bios(app, source):
    from blog.services import accounts
    from tests.factories import make_comment, make_user

    post = make_post(source=source)
    comment = make_comment(post, source=source)
    user = make_user("reader")
    accounts.update_profile(actor=user, display_name="", bio=source, locale=None, timezone_name=None)
    for html in (post.body_html, comment.body_html, user.bio_html):  # the excerpt is text, always escaped
        assert _executable(html) == [], html


def test_script_contents_are_dropped_not_left_as_text():
    assert sanitize.render_markdown("a<script>alert(1)</script>b").html == "<p>ab</p>\n"
    assert sanitize.render_markdown("<style>p{color:red}</style>ok").text == "ok"


def test_markdown_features_survive():
    html = sanitize.render_markdown(
        "## Head\n\n| a | b |\n|--:|---|\n| 1 | 2 |\n\n~~gone~~ and https://example.org\n\n```python\nx = 1\n```"
    ).html
    assert "<h2>Head</h2>" in html
    assert '<th style="text-align:right;">a</th>' in html
    assert "<s>gone</s>" in html
    assert '<a href="https://example.org" rel="nofollow ugc noopener">' in html
    assert '<code class="language-python">' in html


def test_internal_links_are_not_nofollow_and_external_ones_are():
    html = sanitize.render_markdown("[a](/p/x) [b](https://blog.test/p/y) [c](https://else.example/)",
                                    internal_hosts=["blog.test"]).html
    assert '<a href="/p/x">a</a>' in html
    assert '<a href="https://blog.test/p/y">b</a>' in html
    assert '<a href="https://else.example/" rel="nofollow ugc noopener">c</a>' in html


def test_user_supplied_rel_and_classes_do_not_survive():
    html = sanitize.render_markdown('<a href="/x" rel="opener">x</a> <code class="evil">c</code>').html
    assert "opener\"" not in html and "evil" not in html


def test_comments_have_a_smaller_allowlist():
    source = "## Heading\n\n![img](https://example.org/a.png)\n\n| a |\n|---|\n| 1 |"
    html = sanitize.render_markdown(source, comment=True).html
    assert "<h2>" not in html and "<img" not in html and "<table" not in html


def test_excerpt_cuts_at_a_word_boundary():
    assert sanitize.excerpt_from_text("one two three", limit=100) == "one two three"
    assert sanitize.excerpt_from_text("alpha beta gamma delta", limit=12) == "alpha beta…"


def test_saved_posts_store_html_and_sanitizer_version(app):
    post = make_post(source="Hello <script>x</script>**world**")
    assert post.body_html == "<p>Hello <strong>world</strong></p>\n"
    assert post.sanitizer_version == sanitize.VERSION


def test_stale_html_is_rerendered_once_on_view(client, app):
    post = make_post(source="Fresh **text**")
    post.body_html = "<p>stale</p>"
    post.sanitizer_version = sanitize.VERSION - 1
    db.session.commit()
    html = client.get(f"/p/{post.slug}").get_data(as_text=True)
    assert "Fresh <strong>text</strong>" in html and "stale" not in html
    db.session.expire_all()
    assert post.sanitizer_version == sanitize.VERSION


def test_current_html_is_served_as_stored_without_rendering(client, app, monkeypatch):
    post = make_post(source="Stored")
    monkeypatch.setattr(sanitize, "render_markdown", lambda *a, **k: pytest.fail("rendered on a page view"))
    assert client.get(f"/p/{post.slug}").status_code == 200


def test_code_blocks_and_tables_take_keyboard_focus_and_authors_cannot_set_tabindex():
    # They scroll sideways inside themselves on a phone; only what can take focus scrolls from a keyboard.
    html = sanitize.render_markdown("```\ncode\n```\n\n| a |\n|---|\n| b |\n\n<p tabindex=\"5\">p</p>"
                                    "<pre tabindex=\"-1\">x</pre>").html
    assert html.count('tabindex="0"') == 3
    assert 'tabindex="5"' not in html and 'tabindex="-1"' not in html
    assert 'tabindex' not in sanitize.render_markdown("<p tabindex=\"1\">p</p>").html
