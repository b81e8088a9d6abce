import io

import pytest

from blog.storage import get_storage
from blog.storage.base import ObjectMissing, bucketed_expiry


def test_put_head_open_delete_round_trip(app):
    storage = get_storage()
    storage.put("1/abc/original", io.BytesIO(b"\x89PNG data"), content_type="image/png", inline=True)
    info = storage.head("1/abc/original")
    assert (info.size, info.content_type) == (9, "image/png")
    with storage.open("1/abc/original") as f:
        assert f.read() == b"\x89PNG data"
    storage.delete("1/abc/original")
    storage.delete("1/abc/original")  # deleting twice is fine
    with pytest.raises(ObjectMissing):
        storage.head("1/abc/original")
    with pytest.raises(ObjectMissing):
        storage.open("1/abc/original")


@pytest.mark.parametrize("key", ["../secret", "a/../../b", "/etc/passwd", "", ".hidden"])
def test_keys_cannot_escape_the_media_root(app, key):
    with pytest.raises(ObjectMissing):
        get_storage().open(key)


def test_signed_url_serves_the_file_with_its_type(app, client):
    storage = get_storage()
    storage.put("2/k/original", b"GIF89a...", content_type="image/gif", inline=True)
    storage.put("2/k/doc", b"%PDF", content_type="application/pdf")
    with app.test_request_context():
        url, doc_url = storage.url_for_read("2/k/original"), storage.url_for_read("2/k/doc")
    response = client.get(url)
    assert response.status_code == 200 and response.data == b"GIF89a..."
    assert response.headers["Content-Type"] == "image/gif"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == "inline"
    assert client.get(doc_url).headers["Content-Disposition"] == "attachment"


def test_tampered_and_expired_urls_are_refused(app, client):
    storage = get_storage()
    storage.put("3/k/original", b"data", content_type="image/png")
    with app.test_request_context():
        url = storage.url_for_read("3/k/original")
    assert client.get(url.replace("3/k/original", "3/k/other")).status_code == 403
    assert client.get(url[:-1] + ("0" if url[-1] != "0" else "1")).status_code == 403
    assert client.get("/media/3/k/original").status_code == 403
    expired = 1_000_000
    assert client.get(f"/media/3/k/original?expires={expired}&signature={storage.sign('3/k/original', expired)}"
                      ).status_code == 403
    assert not storage.verify("3/k/original", "not-a-number", "x")


def test_read_urls_are_stable_within_a_window_and_valid_long_enough():
    lifetime = 3600
    assert bucketed_expiry(lifetime, now=7200) == bucketed_expiry(lifetime, now=7200 + 1799)
    assert bucketed_expiry(lifetime, now=7200 + 1800) != bucketed_expiry(lifetime, now=7200)
    for now in (0, 17, 1799, 1800, 5000.5):
        assert lifetime / 2 <= bucketed_expiry(lifetime, now=now) - now <= lifetime


def test_two_page_views_get_the_same_url(app):
    storage = get_storage()
    with app.test_request_context():
        assert storage.url_for_read("4/a/original") == storage.url_for_read("4/a/original")
