"""NUL bytes from a hostile client are stored as U+FFFD, never a 500 (PostgreSQL refuses NUL in text)."""
from blog.services.accounts import get_by_login
from tests.factories import login, make_user


def test_nul_bytes_in_forms_are_replaced(client):
    login(client, make_user("author", username="nul"))
    profile = client.post("/settings/profile", data={"display_name": "A\x00B", "bio": "x\x00y", "locale": "",
                                                     "timezone": ""})
    assert profile.status_code == 302
    user = get_by_login("nul")
    assert (user.display_name, user.bio) == ("A\ufffdB", "x\ufffdy")
    saved = client.post("/studio/new/post", data={"title": "T\x00", "source": "<a href=\"java\x00script:x\">y</a>",
                                                  "tags": "a\x00b", "action": "save"})
    assert saved.status_code == 302
