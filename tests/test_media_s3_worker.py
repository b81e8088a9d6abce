"""Media end to end: moto's S3 server, the real Redis (the run's own database) and a real ``worker.py``.

Uploads through a presigned POST and through the app's form, variants made by the worker (sizes, no
EXIF, inline), pages whose srcset URLs fetch from the S3 server and stay identical between loads,
refusals, and a work-horse killed mid-job whose retry leaves exactly one set of variants.
"""
from __future__ import annotations

import io
import os
import re
import signal
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from PIL import Image
from redis import Redis

from blog.extensions import db
from blog.jobs import images
from blog.models.media import Media
from tests import media_samples as samples
from tests.conftest import clean_redis
from tests.factories import login, make_post, make_user
from tests.support import REGION, child_pids, create_bucket, delete_bucket, fetch, s3_client, start_worker, wait_for

TIMEOUT = 10
WIDTHS = ("320", "640", "1024", "1600")


@pytest.fixture(scope="module")
def endpoint(aws_env, moto_server):
    return moto_server


@pytest.fixture(scope="module")
def s3(endpoint):
    return s3_client(endpoint, retries={"max_attempts": 1})


@pytest.fixture(scope="module")
def bucket(s3):
    name = create_bucket(s3, "blog-media")
    yield name
    delete_bucket(s3, name)


@pytest.fixture(scope="module")
def media_redis(redis_url):
    """The run's own Redis database (see conftest), emptied before and after this module."""
    connection = Redis.from_url(redis_url)
    clean_redis(connection)
    yield connection
    clean_redis(connection)
    connection.close()


@pytest.fixture(scope="module")
def settings(endpoint, bucket, redis_url):
    return {"REDIS_URL": redis_url, "STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": endpoint,
            "S3_REGION": REGION}


@pytest.fixture(scope="module")
def worker(settings, database_url, tmp_path_factory, media_redis):
    """``python worker.py media`` (with its scheduler, for retries), stopped with every child at the end."""
    folder = tmp_path_factory.mktemp("media-worker")
    worker = start_worker(["media"], {"DATABASE_URL": database_url, "INSTANCE_PATH": str(folder), **settings},
                          redis=media_redis, log=folder / "worker.log")
    yield worker.process
    worker.stop()


@pytest.fixture
def live_app(app, make_app, settings, worker):
    """An app on S3 that queues to Redis (``app`` migrated the database and empties it afterwards)."""
    queued = make_app(**settings)
    with queued.app_context():
        yield queued
        db.session.remove()


def media_row(media_id: int) -> Media | None:
    db.session.rollback()  # a fresh snapshot: the worker commits in another process
    return db.session.get(Media, media_id)


def wait_until_done(media_id: int, timeout: float = 60) -> Media:
    return wait_for(lambda: (m := media_row(media_id)) and m.status in ("ready", "failed") and m, timeout=timeout,
                    every=0.05)


def post_to_storage(form: dict, data: bytes, content_type: str) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    with session:
        return session.post(form["url"], data=form["fields"], files={"file": ("upload", data, content_type)},
                            timeout=TIMEOUT)


def direct_upload(client, endpoint: str, data: bytes, content_type: str, name: str = "photo.jpg"):
    started = client.post("/studio/media/direct", json={"filename": name, "content_type": content_type,
                                                        "size": len(data), "alt_text": "Straight to S3"})
    assert started.status_code == 200, started.get_data(as_text=True)
    form = started.get_json()
    assert urlsplit(form["url"]).netloc == urlsplit(endpoint).netloc  # the browser talks to S3 itself
    stored = post_to_storage(form, data, content_type)
    assert stored.status_code in (200, 201, 204), stored.text
    return form, client.post(form["complete_url"], json={})


def keys_under(s3, bucket, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def expected_keys(item: Media) -> list[str]:
    names = [f"w{w}.{ext}" for w in WIDTHS for ext in ("webp", "jpg")] + ["square.webp", "square.jpg", "original"]
    return sorted(f"{item.key_prefix}/{name}" for name in names)


def assert_variants(s3, bucket, item: Media, width: int, height: int) -> None:
    assert (item.status, item.width, item.height) == ("ready", width, height)
    for fmt, kind in (("webp", "image/webp"), ("jpeg", "image/jpeg")):
        assert set(item.variants[fmt]) == set(WIDTHS)
        for label, entry in item.variants[fmt].items():
            stored = s3.get_object(Bucket=bucket, Key=entry["key"])
            assert (stored["ContentType"], stored["ContentDisposition"]) == (kind, "inline")
            with Image.open(io.BytesIO(stored["Body"].read())) as image:
                assert image.size == (int(label), round(height * int(label) / width)) == (entry["width"],
                                                                                          entry["height"])
                assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    original = s3.head_object(Bucket=bucket, Key=item.storage_key)
    assert original["ContentDisposition"] == "attachment"  # the untrusted bytes are never served inline


def test_presigned_post_upload_is_processed_by_the_worker(live_app, endpoint, s3, bucket):
    author = make_user("author")
    client = live_app.test_client()
    login(client, author)
    data = samples.jpeg(3000, 2000, orientation=6, gps=True)
    form, completed = direct_upload(client, endpoint, data, "image/jpeg")
    assert completed.status_code == 200 and completed.get_json()["status"] == "uploaded"
    item = wait_until_done(completed.get_json()["id"])
    assert_variants(s3, bucket, item, 2000, 3000)  # EXIF orientation applied: portrait
    assert item.alt_text == "Straight to S3" and item.size == len(data)
    assert keys_under(s3, bucket, item.key_prefix + "/") == expected_keys(item)
    assert client.post(form["complete_url"], json={}).get_json()["status"] == "ready"  # a repeated "done"


def test_form_upload_through_the_app_is_processed_by_the_worker(live_app, s3, bucket):
    author = make_user("author")
    client = live_app.test_client()
    login(client, author)
    response = client.post("/studio/media", data={"files": (io.BytesIO(samples.png(1800, 1200)), "chart.png",
                                                            "image/png")}, content_type="multipart/form-data")
    assert response.status_code == 302
    item = wait_until_done(db.session.scalar(sa.select(Media.id)))
    assert_variants(s3, bucket, item, 1800, 1200)


def test_page_srcset_urls_fetch_from_s3_and_stay_identical(live_app, endpoint, s3, bucket):
    author = make_user("author")
    client = live_app.test_client()
    login(client, author)
    _form, completed = direct_upload(client, endpoint, samples.jpeg(1700, 1100), "image/jpeg")
    item = wait_until_done(completed.get_json()["id"])
    post = make_post(author, source=f"Look.\n\n![A gradient](media:{item.id})", featured_image_id=item.id)
    reader = live_app.test_client()
    first = reader.get(f"/p/{post.slug}").get_data(as_text=True)
    second = reader.get(f"/p/{post.slug}").get_data(as_text=True)
    urls = [u.split(" ")[0].replace("&amp;", "&") for srcset in re.findall(r'srcset="([^"]+)"', first)
            for u in srcset.split(", ")]
    assert len(urls) == 16 and all(u.startswith(endpoint) for u in urls)
    assert re.findall(r'srcset="([^"]+)"', second) == re.findall(r'srcset="([^"]+)"', first)  # cacheable
    for url in set(urls):
        status, body, content_type = fetch(url, timeout=TIMEOUT)
        assert status == 200 and content_type in ("image/webp", "image/jpeg") and body


@pytest.mark.parametrize(("data", "claimed", "message"), [
    (samples.HTML, "image/jpeg", "This is a HTML file, not an image."),
    (samples.png(200, 100), "image/gif", "its contents are PNG"),
], ids=["html", "mismatch"])
def test_a_bad_direct_upload_is_refused_and_removed(live_app, endpoint, s3, bucket, data, claimed, message):
    author = make_user("author")
    client = live_app.test_client()
    login(client, author)
    form, completed = direct_upload(client, endpoint, data, claimed)
    assert completed.status_code == 422 and message in completed.get_json()["error"]
    key = form["fields"]["key"]
    assert keys_under(s3, bucket, key) == [] and db.session.scalar(sa.select(sa.func.count(Media.id))) == 0


def test_a_bomb_is_refused_by_the_worker_with_a_reason(live_app, endpoint, s3, bucket):
    author = make_user("author")
    client = live_app.test_client()
    login(client, author)
    _form, completed = direct_upload(client, endpoint, samples.bomb(), "image/png")
    assert completed.status_code == 200  # its first bytes are a fine PNG: the worker decodes nothing
    item = wait_until_done(completed.get_json()["id"])
    assert (item.status, item.failure_reason, item.variants) == ("failed", "too_many_pixels", {})
    status = client.get(f"/studio/media/{item.id}/status").get_json()
    assert "more than 40 megapixels" in status["message"]
    assert keys_under(s3, bucket, item.key_prefix + "/") == [item.storage_key]


def test_a_retry_after_a_killed_work_horse_does_not_duplicate_variants(live_app, endpoint, worker, s3, bucket):
    author = make_user("author")
    client = live_app.test_client()
    login(client, author)
    idle = child_pids(worker.pid)  # the scheduler
    _form, completed = direct_upload(client, endpoint, samples.png(7000, 5500), "image/png", name="big.png")
    media_id = completed.get_json()["id"]
    wait_for(lambda: media_row(media_id).status == "processing", timeout=30, every=0.02)
    horses = wait_for(lambda: child_pids(worker.pid) - idle, timeout=10, every=0.02)
    for pid in horses:
        os.kill(pid, signal.SIGKILL)  # a crash in the middle of the job
    assert media_row(media_id).status == "processing" and media_row(media_id).variants == {}
    # RQ retries the job (after RETRY_INTERVALS[0] seconds); the retry writes the same keys again.
    item = wait_until_done(media_id, timeout=images.RETRY_INTERVALS[0] + 60)
    assert_variants(s3, bucket, item, 7000, 5500)
    assert keys_under(s3, bucket, item.key_prefix + "/") == expected_keys(item)
