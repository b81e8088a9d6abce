"""Search at ``/search?q=``: the same cases on PostgreSQL (tsvector) and SQLite (FTS5)."""
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from markupsafe import Markup

from blog.extensions import db
from blog.models.base import UTCDateTime
from blog.models.post import Post, Tag
from blog.services import authoring, backup, search, search_index
from tests.conftest import scratch_database
from tests.factories import make_post, make_user, now
from tests.test_query_counts import count_statements


def titles(html: str) -> list[str]:
    return re.findall(r'class="card-title"><a href="[^"]+">([^<]+)</a>', html)


def found(client, q, **args) -> list[str]:
    response = client.get("/search", query_string={"q": q, **args})
    assert response.status_code == 200, response.status_code
    return titles(response.get_data(as_text=True))


# ---- what matches ---------------------------------------------------------------------------------------

def test_stemming_finds_other_forms_of_a_word(client):
    make_post(title="Morning habits", source="She runs before breakfast.")
    make_post(title="Evening habits", source="A short run after dinner.")
    make_post(title="Unrelated", source="Nothing about that here.")
    assert sorted(found(client, "running")) == ["Evening habits", "Morning habits"]


def test_quoted_phrase_needs_the_words_together(client):
    make_post(title="Together", source="The quick fox jumped.")
    make_post(title="Apart", source="A quick brown fox slept.")
    assert found(client, '"quick fox"') == ["Together"]
    assert sorted(found(client, "quick fox")) == ["Apart", "Together"]


def test_minus_excludes_a_word(client):
    make_post(title="Flask", source="Python with Flask.")
    make_post(title="Django", source="Python with Django.")
    assert found(client, "python -django") == ["Flask"]
    assert found(client, 'python -"with django"') == ["Flask"]


def test_a_query_of_only_exclusions_finds_nothing(client):
    make_post(title="Flask", source="Python with Flask.")
    response = client.get("/search?q=-django")
    assert response.status_code == 200
    assert titles(response.get_data(as_text=True)) == []
    assert "No published posts match “-django”" in response.get_data(as_text=True)


def test_or_finds_either(client):
    make_post(title="Cats", source="About cats.")
    make_post(title="Dogs", source="About dogs.")
    make_post(title="Birds", source="About birds.")
    assert sorted(found(client, "cats or dogs")) == ["Cats", "Dogs"]


def test_tags_title_and_excerpt_are_searched(client):
    make_post(title="Schema design", source="Tables and keys.", tags=["Databases"])
    make_post(title="Gardening", source="Plants.", excerpt="Tomatoes in July")
    assert found(client, "database") == ["Schema design"]
    assert found(client, "schema") == ["Schema design"]
    assert found(client, "tomatoes") == ["Gardening"]


def test_title_match_ranks_above_body_only_match_and_ties_go_to_the_newest(client):
    make_post(title="Notes", source="A long walk about composting and more words here.",
              published_at=now() - timedelta(minutes=1))
    make_post(title="Composting", source="How I started.", published_at=now() - timedelta(days=3))
    assert found(client, "composting") == ["Composting", "Notes"]
    make_post(title="Twin old", source="Identical words.", published_at=now() - timedelta(days=2))
    make_post(title="Twin new", source="Identical words.", published_at=now() - timedelta(days=1))
    assert found(client, "identical") == ["Twin new", "Twin old"]


def test_only_published_posts_whose_time_has_come_are_found(client):
    author = make_user()
    make_post(author, title="Published zebra")
    make_post(author, title="Draft zebra", status="draft")
    make_post(author, title="Archived zebra", status="archived")
    make_post(author, title="Scheduled zebra", published_at=now() + timedelta(days=1))
    make_post(make_user("editor"), title="Page zebra", kind="page")
    assert found(client, "zebra") == ["Published zebra"]


# ---- queries that must never break ------------------------------------------------------------------------

def test_empty_query_shows_the_form_and_a_prompt(client):
    make_post(title="Anything")
    for url in ("/search", "/search?q=", "/search?q=%20%20"):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert '<label class="label" for="search-q">Search posts</label>' in html
        assert 'name="q"' in html
        assert "Type one or more words" in html
        assert titles(html) == []
        assert '<meta name="robots" content="noindex">' in html


def test_no_results_message(client):
    make_post(title="Something")
    html = client.get("/search?q=nonexistentword").get_data(as_text=True)
    assert "No published posts match “nonexistentword”" in html
    assert 'value="nonexistentword"' in html


@pytest.mark.parametrize("q", [
    "!!!", "...", "-", "--", '"', '""', "*", "***", ":", "()", "NEAR(", "NEAR(a b)", "a OR", "OR", "AND", "NOT",
    "a:b", "title:word", "^word", "word*", "a & b | !c", "<->", "'", "\\", "%_", "\x00word", "\u200b",
    '"unbalanced quote', 'a "b" -"c', "- -x", "x" * 1000, "running " * 200, "é" * 1000,
])
def test_any_query_is_answered_without_error(client, q):
    make_post(title="Word", source="A word or two, running.")
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200


def test_punctuation_only_query_finds_nothing(client):
    make_post(title="Punctuation", source="Dots... and commas, everywhere!")
    html = client.get("/search", query_string={"q": "...,,!!?"}).get_data(as_text=True)
    assert titles(html) == [] and "No published posts match" in html


def test_fts_syntax_in_a_query_is_text(client):
    make_post(title="Near here", source="We live near the station.")
    assert found(client, "NEAR(") == ["Near here"]
    assert found(client, "station*") == ["Near here"]
    assert found(client, "title:station") == []  # "title station" as a phrase: not in the post


def test_long_query_is_cut_not_refused(client):
    make_post(title="Long", source="Needle in a haystack.")
    assert found(client, "needle " * 150) == ["Long"]
    assert found(client, "needle " + "x" * 990) == ["Long"]  # the words that fit are searched for
    assert found(client, "x" * 1000) == []


# ---- snippets -------------------------------------------------------------------------------------------

def test_snippet_highlights_matches_and_escapes_the_text(client):
    make_post(title="Escaping",
              source="Try `<script>x()</script>` `<b>b</b>` 1 < 2 & 3 > 2 running.")
    html = client.get("/search?q=running").get_data(as_text=True)
    snippet = re.search(r'<p class="excerpt snippet">(.*?)</p>', html, re.S).group(1)
    assert "<mark>running</mark>" in snippet
    assert "<script" not in html and "<b>" not in snippet
    assert "&lt;script&gt;x()&lt;/script&gt; &lt;b&gt;b&lt;/b&gt;" in snippet
    assert "1 &lt; 2 &amp; 3 &gt; 2" in snippet


def test_snippet_marks_cannot_be_forged_by_a_post(client):
    make_post(title="Forged", source="control \x02marked\x03 text and running")
    html = client.get("/search?q=running").get_data(as_text=True)
    assert "<mark>marked</mark>" not in html and "<mark>running</mark>" in html


def test_highlight_escapes_before_marking():
    assert search.highlight("a <b> \x02c&d\x03 \x02open") == Markup("a &lt;b&gt; <mark>c&amp;d</mark> open")
    assert search.highlight(None) == Markup("")


# ---- pagination and statements ----------------------------------------------------------------------------

def test_results_are_paginated(client):
    author = make_user()
    for i in range(12):
        make_post(author, title=f"Result {i:02d}", source="paged content", published_at=now() - timedelta(hours=i))
    page1 = client.get("/search?q=paged").get_data(as_text=True)
    assert titles(page1) == [f"Result {i:02d}" for i in range(10)]
    assert 'rel="next" href="/search?page=2&amp;q=paged"' in page1
    page2 = client.get("/search?q=paged&page=2").get_data(as_text=True)
    assert titles(page2) == ["Result 10", "Result 11"]
    assert 'rel="prev" href="/search?q=paged"' in page2
    assert client.get("/search?q=paged&page=3").status_code == 404
    assert client.get("/search?q=paged&page=0").status_code == 404
    assert client.get("/search?q=paged&page=x").status_code == 404
    assert client.get("/search?q=&page=2").status_code == 404


def _statements(client, q):
    db.session.remove()
    with count_statements() as statements:
        assert client.get("/search", query_string={"q": q}).status_code == 200
    return len(statements)


def test_statement_count_does_not_grow_with_results(client):
    author = make_user()
    for i in range(2):
        make_post(author, source="counted words", tags=[f"a{i}", f"b{i}"])
    small = _statements(client, "counted")
    for i in range(10):
        make_post(make_user(), source="counted words", tags=[f"c{i}", f"d{i}", f"e{i}"])
    assert _statements(client, "counted") == small
    assert small <= 4, small  # the search with authors, the tags, the navigation pages


# ---- keeping the index current -------------------------------------------------------------------------

def test_index_follows_edits_tags_unpublishing_and_deletion(client):
    author = make_user()
    post = authoring.save(actor=author, fields=authoring.Fields(title="Original title", source="Some apples.",
                                                                tags="fruit"), action="publish")
    assert found(client, "apples") == ["Original title"]
    assert found(client, "fruit") == ["Original title"]
    authoring.save(actor=author, post_id=post.id, fields=authoring.Fields(
        title="Changed title", source="Some pears.", tags="orchard"), action="save")
    assert found(client, "apples") == [] and found(client, "fruit") == []
    assert found(client, "pears") == ["Changed title"] and found(client, "orchard") == ["Changed title"]
    authoring.unpublish(actor=author, post_id=post.id)
    assert found(client, "pears") == []
    authoring.save(actor=author, post_id=post.id, fields=authoring.Fields(
        title="Changed title", source="Some pears.", tags="orchard"), action="publish")
    assert found(client, "pears") == ["Changed title"]
    authoring.delete(actor=author, post_id=post.id)
    assert found(client, "pears") == []
    assert _index_size() == 0


def test_renaming_a_tag_reindexes_its_posts(client):
    make_post(title="Tagged", tags=["Oldname"])
    tag = db.session.scalar(sa.select(Tag).where(Tag.slug == "oldname"))
    tag.name = "Newname"
    db.session.commit()
    assert found(client, "newname") == ["Tagged"]
    assert found(client, "oldname") == []


def test_pages_are_not_indexed(client):
    page = make_post(make_user("editor"), title="Contact details", kind="page")
    assert _index_size() == 0
    page.kind = "post"
    db.session.commit()
    assert found(client, "contact") == ["Contact details"]
    page.kind = "page"
    db.session.commit()
    assert _index_size() == 0


def test_core_writes_are_indexed_before_commit(client, app):
    """The backup restore inserts rows with Core statements: the index is rebuilt in their transaction."""
    author = make_user()
    when = now() - timedelta(hours=1)
    db.session.execute(sa.insert(Post.__table__).values(
        kind="post", author_id=author.id, title="Restored walrus", slug="restored-walrus", source="x",
        body_html="<p>Restored <em>body</em></p>", sanitizer_version=1, excerpt="", word_count=2,
        status="published", published_at=when, version=1, created_at=when, updated_at=when))
    db.session.commit()
    assert found(client, "walrus") == ["Restored walrus"]
    assert found(client, "body") == ["Restored walrus"]


def test_a_restored_backup_is_searchable(app, make_app, tmp_path):
    make_post(title="Backed up", source="A searchable narwhal.", tags=["Sea"])
    archive = tmp_path / "site.tar.gz"
    backup.export_archive(str(archive))
    with scratch_database("blog_search_restore") as url:
        target = make_app(database_url=url, MEDIA_ROOT=str(tmp_path / "restored-media"))
        with target.app_context():
            upgrade()
            backup.import_archive(str(archive))
            for q in ("narwhal", "sea"):
                assert [hit.post.title for hit in search.search(query=q).items] == ["Backed up"]
            db.session.remove()


def test_reindex_all_rebuilds_the_index(client):
    make_post(title="Rebuilt", source="Findable text.", tags=["kept"])
    make_post(title="Page", kind="page", author=make_user("editor"))
    db.session.execute(sa.text("DELETE FROM post_search"))
    db.session.commit()
    assert found(client, "findable") == []
    assert search_index.reindex_all() == 1
    assert found(client, "findable") == ["Rebuilt"] and found(client, "kept") == ["Rebuilt"]


def _index_size() -> int:
    return db.session.scalar(sa.text("SELECT count(*) FROM post_search"))


# ---- the query language, without a database ----------------------------------------------------------

def test_parse_query_reads_words_phrases_exclusions_and_or():
    parsed = search.parse_query('Running "quick FOX" -slow well-known or -x or dogs ""')
    assert [[(c.tokens, c.negated) for c in group] for group in parsed.groups] == [
        [(("running",), False), (("quick", "fox"), False), (("slow",), True), (("well", "known"), False)],
        [(("dogs",), False)],  # "-x" alone was dropped
    ]
    assert parsed.websearch() == '"Running" "quick FOX" -"slow" "well-known" or "dogs"'
    assert parsed.fts5() == '(("running" AND "quick fox" AND "well known") NOT "slow") OR (("dogs"))'


@pytest.mark.parametrize("q", ["", "   ", "!!!", "-word", '-"a phrase"', "or", "or or", "* : ( )"])
def test_parse_query_with_nothing_to_search(q):
    assert not search.parse_query(q)


def test_parse_query_caps_length_and_terms():
    assert len(search.clean_query("x" * 1000)) == search.QUERY_MAX
    assert search.clean_query("abc " * 100) == ("abc " * 50).strip()  # 199 characters: cut at a space
    parsed = search.parse_query("w " * 100)
    assert sum(len(c.tokens) for group in parsed.groups for c in group) == search.TERMS_MAX
    assert search.clean_query("a\x00b\x02c\nd") == "a b c d"


# ---- migration --------------------------------------------------------------------------------------------

def test_migration_indexes_existing_posts_and_downgrades(make_app):
    with scratch_database("blog_search") as url:
        app = make_app(database_url=url)
        with app.app_context():
            upgrade(revision="0004")
            stamp = sa.bindparam("t", datetime(2026, 1, 1, tzinfo=timezone.utc), type_=UTCDateTime())
            with db.engine.begin() as conn:
                conn.execute(sa.text(
                    "INSERT INTO users (id, username, email, display_name, bio, bio_html, bio_sanitizer_version, "
                    "role, status, locale, timezone, session_token, created_at, updated_at) VALUES (1, 'old', "
                    "'old@example.com', 'Old', '', '', 0, 'author', 'active', 'en', 'UTC', 'tok', :t, :t)"
                ).bindparams(stamp))
                conn.execute(sa.text(
                    "INSERT INTO posts (id, kind, author_id, title, slug, source, body_html, sanitizer_version, "
                    "excerpt, word_count, status, published_at, version, created_at, updated_at) VALUES "
                    "(1, 'post', 1, 'Legacy', 'legacy', 'x', '<p>Old <a href=\"/x\" title=\"a>b\">otters</a> "
                    "&amp; seals</p>', 1, '', 3, 'published', :t, 1, :t, :t)").bindparams(stamp))
                conn.execute(sa.text("INSERT INTO tags (id, name, slug, created_at) VALUES (1, 'Marine', 'marine', :t)"
                                     ).bindparams(stamp))
                conn.execute(sa.text("INSERT INTO post_tags (post_id, tag_id) VALUES (1, 1)"))
            upgrade()
            runner = app.test_cli_runner()
            assert runner.invoke(args=["db", "check"]).exit_code == 0
            for q, expected in (("otter", ["Legacy"]), ("seals", ["Legacy"]), ("marine", ["Legacy"]), ("b", [])):
                result = search.search(query=q)
                assert [hit.post.title for hit in result.items] == expected, q
            db.session.remove()
            downgrade(revision="0004")
            assert not any(name.startswith("post_search") for name in sa.inspect(db.engine).get_table_names())
            upgrade()
            assert [hit.post.title for hit in search.search(query="otters").items] == ["Legacy"]
            db.session.remove()
            db.engine.dispose()
