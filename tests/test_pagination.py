import pytest

from tests.factories import make_post, make_user


@pytest.fixture
def eleven_posts(app):
    author = make_user(username="many")
    for i in range(11):
        make_post(author, tags=["t"])


@pytest.mark.parametrize("base", ["/", "/tag/t", "/u/many"])
@pytest.mark.parametrize(
    "page, status",
    [("1", 200), ("2", 200), ("3", 404), ("0", 404), ("-1", 404), ("abc", 404), ("1.5", 404), ("", 404),
     ("99999999999999999999", 404), ("10000", 404), ("%00", 404), ("２", 404)],
)
def test_page_numbers_are_validated_never_500(client, eleven_posts, base, page, status):
    assert client.get(base, query_string={"page": page}).status_code == status


def test_first_page_of_an_empty_list_is_200(client):
    assert client.get("/?page=1").status_code == 200
    assert client.get("/?page=2").status_code == 404
