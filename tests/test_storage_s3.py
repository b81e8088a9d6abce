"""The S3 backend against a real S3 API server (moto's, in this process, on loopback).

moto does not verify signatures, expiry or POST policy conditions, so those are asserted on the URL
and the policy document themselves; moto proves the requests are well-formed and reach the object.
"""
from __future__ import annotations

import base64
import datetime
import io
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import blog.config
from blog.app import create_app
from blog.extensions import db
from blog.storage import get_storage
from blog.storage.base import DirectUploadStorage, ObjectMissing, StorageError
from blog.storage.local import LocalStorage
from blog.storage.s3 import UPLOAD_LIFETIME, S3Storage
from tests.support import REGION, create_bucket, delete_bucket, fetch, s3_client

LIFETIME = 3600
WINDOW_START = 1_800_000_000  # a multiple of LIFETIME // 2
TIMEOUT = 10


@pytest.fixture(scope="module")
def endpoint(aws_env, moto_server):
    return moto_server


@pytest.fixture(scope="module")
def s3(endpoint):
    """A plain client, to look at what the backend stored."""
    return s3_client(endpoint, retries={"max_attempts": 1}, connect_timeout=3, read_timeout=TIMEOUT)


@pytest.fixture(scope="module")
def bucket(s3):
    name = create_bucket(s3, "blog-test")
    yield name
    delete_bucket(s3, name)


@pytest.fixture
def storage(endpoint, bucket):
    return S3Storage(bucket, REGION, endpoint, LIFETIME)


def _key() -> str:
    return f"1/{uuid.uuid4().hex}/original"


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_put_head_open_round_trip_with_type_and_disposition(storage, s3, bucket):
    image, document, png = _key(), _key(), b"\x89PNG\r\n\x1a\n data"
    storage.put(image, io.BytesIO(png), content_type="image/png", inline=True)
    storage.put(document, b"%PDF-1.7", content_type="application/pdf")

    info = storage.head(image)
    assert (info.key, info.size, info.content_type) == (image, len(png), "image/png")
    with storage.open(image) as stream:
        assert stream.read() == png

    stored_image = s3.head_object(Bucket=bucket, Key=image)
    stored_document = s3.head_object(Bucket=bucket, Key=document)
    assert (stored_image["ContentType"], stored_image["ContentDisposition"]) == ("image/png", "inline")
    assert (stored_document["ContentType"], stored_document["ContentDisposition"]) == ("application/pdf", "attachment")


def test_missing_keys(storage):
    key = _key()
    with pytest.raises(ObjectMissing):
        storage.open(key)
    with pytest.raises(ObjectMissing):
        storage.head(key)
    storage.delete(key)  # deleting what is not there is fine

    storage.put(key, b"x", content_type="text/plain")
    storage.delete(key)
    storage.delete(key)
    with pytest.raises(ObjectMissing):
        storage.head(key)


def test_errors_other_than_a_missing_key_are_storage_errors(endpoint):
    absent = S3Storage(f"blog-absent-{uuid.uuid4().hex[:12]}", REGION, endpoint, LIFETIME)
    with pytest.raises(StorageError) as raised:
        absent.open("1/k/original")
    assert not isinstance(raised.value, ObjectMissing)
    with pytest.raises(StorageError):
        absent.put("1/k/original", b"x", content_type="text/plain")


def test_read_url_serves_the_object(storage):
    key = _key()
    storage.put(key, b"GIF89a...", content_type="image/gif", inline=True)
    status, body, content_type = fetch(storage.url_for_read(key), timeout=TIMEOUT)
    assert (status, body, content_type) == (200, b"GIF89a...", "image/gif")


def test_read_urls_are_identical_within_a_window_and_change_with_the_next():
    # Signing needs no server: a storage pointed at a closed port proves no request is made.
    storage = S3Storage("media", REGION, "http://127.0.0.1:9", LIFETIME)
    key = "1/abc/original"
    first = storage.url_for_read(key, now=WINDOW_START + 5)
    assert storage.url_for_read(key, now=WINDOW_START + LIFETIME // 2 - 1) == first
    following = storage.url_for_read(key, now=WINDOW_START + LIFETIME // 2)
    assert following != first
    assert storage.url_for_read("1/other/original", now=WINDOW_START + 5) != first

    query = _query(first)
    signed_at = datetime.datetime.fromtimestamp(WINDOW_START, datetime.timezone.utc)
    assert query["X-Amz-Date"] == signed_at.strftime("%Y%m%dT%H%M%SZ")
    assert query["X-Amz-Credential"].split("/")[1] == signed_at.strftime("%Y%m%d")
    assert query["X-Amz-Expires"] == str(LIFETIME)
    assert "BlogSignedAt" not in first
    assert _query(following)["X-Amz-Date"] == (signed_at + datetime.timedelta(seconds=LIFETIME // 2)).strftime(
        "%Y%m%dT%H%M%SZ")


def test_read_urls_use_the_current_window_by_default_and_other_presigning_is_untouched():
    storage = S3Storage("media", REGION, "http://127.0.0.1:9", LIFETIME)
    before = time.time()
    url = storage.url_for_read("1/abc/original")
    expected = storage.url_for_read("1/abc/original", now=before)
    if int(before) // (LIFETIME // 2) == int(time.time()) // (LIFETIME // 2):  # not straddling a boundary
        assert url == expected

    plain = storage.client.generate_presigned_url("get_object", Params={"Bucket": "media", "Key": "k"})
    signed = datetime.datetime.strptime(_query(plain)["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    assert abs(signed.replace(tzinfo=datetime.timezone.utc).timestamp() - time.time()) < 60


def test_check_succeeds_and_leaves_no_probe(storage, s3, bucket):
    storage.check()
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="readyz/")
    assert listing.get("KeyCount", 0) == 0


def test_check_names_a_bucket_that_does_not_exist(endpoint):
    name = f"blog-absent-{uuid.uuid4().hex[:12]}"
    with pytest.raises(StorageError) as raised:
        S3Storage(name, REGION, endpoint, LIFETIME).check()
    message = str(raised.value)
    assert name in message and "\n" not in message


def test_presigned_upload_creates_the_object(storage, s3, bucket):
    assert isinstance(storage, DirectUploadStorage)
    key = _key()
    before = datetime.datetime.now(datetime.timezone.utc)
    form = storage.presigned_upload(key, content_type="image/png", max_size=1000)

    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert {"key": key} in policy["conditions"]
    expires = datetime.datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ")
    expires = expires.replace(tzinfo=datetime.timezone.utc)
    assert abs((expires - before).total_seconds() - UPLOAD_LIFETIME) < 60

    session = requests.Session()
    session.trust_env = False
    with session:
        response = session.post(form["url"], data=form["fields"],
                                files={"file": ("photo.png", b"\x89PNG up", "image/png")}, timeout=TIMEOUT)
    assert response.status_code in (200, 201, 204), response.text
    stored = s3.get_object(Bucket=bucket, Key=key)
    assert stored["Body"].read() == b"\x89PNG up"
    assert (stored["ContentType"], stored["ContentDisposition"]) == ("image/png", "attachment")


def test_local_storage_does_not_offer_direct_uploads(tmp_path):
    assert not isinstance(LocalStorage(str(tmp_path), "secret", LIFETIME), DirectUploadStorage)


def _s3_app(tmp_path, endpoint, bucket):
    # Imported through the module: a TestConfig name here would be collected as a test class.
    cfg = blog.config.TestConfig.from_env({"INSTANCE_PATH": str(tmp_path / "instance")})
    cfg.STORAGE_BACKEND = "s3"
    cfg.S3_BUCKET = bucket
    cfg.S3_ENDPOINT_URL = endpoint
    cfg.S3_REGION = REGION
    cfg.SQLALCHEMY_DATABASE_URI = "sqlite://"
    return create_app(cfg)


@pytest.mark.parametrize("bucket_exists", [True, False], ids=["bucket", "no-bucket"])
def test_readyz_checks_s3_storage(tmp_path, endpoint, bucket, bucket_exists):
    app = _s3_app(tmp_path, endpoint, bucket if bucket_exists else f"blog-absent-{uuid.uuid4().hex[:12]}")
    try:
        with app.app_context():
            assert isinstance(get_storage(), S3Storage)
        response = app.test_client().get("/readyz")
        checks = response.get_json()["checks"]
        assert checks["database"] == {"ok": True}
        if bucket_exists:
            assert response.status_code == 200 and checks["storage"] == {"ok": True}
        else:
            assert response.status_code == 503 and checks["storage"] == {"ok": False, "error": "StorageError"}
    finally:
        with app.app_context():
            db.engine.dispose()
