"""Upload hardening: what the issue's "Uploads" rules need beyond tests/test_media_*.py and tests/test_storage_*.py.

- Bombs are refused from the header, before any pixel buffer exists: proved under an address-space limit
  in a child process, for crafted headers of every accepted format (50,000 x 50,000 and more).
- Pillow is only ever asked to parse the format the magic number named (``formats=``), and checking an
  upload in the web request decodes no pixels at all.
- Polyglots, foreign files and mismatched names or types are refused over HTTP with nothing stored.
- Served media: the stored type, ``nosniff``, inline only for the re-encoded variants (local backend);
  the presigned POST policy the app hands out pins the type, the size range, the key and ``attachment``.
- The image job: enqueued with a time limit that a real worker enforces, and run in a work-horse whose
  memory is bounded (``worker.py --memory-limit-mb``), with a budget the largest accepted image fits in.
"""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image, ImageCms, ImageFile

from blog import imaging
from blog.extensions import db
from blog.jobs import images
from blog.models.media import Media
from blog.services import media
from blog.storage import get_storage
from tests import media_samples as samples
from tests.factories import login, make_user
from tests.support import REGION, ROOT, start_worker, wait_for

# --- crafted files: valid structure, a header that claims huge dimensions, almost no data ---------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header(width: int, height: int) -> bytes:
    """An RGB PNG whose IHDR says ``width`` x ``height``, with 64 bytes of pixel data and an IEND."""
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


def _tiny(fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 99, 199)).save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_header(width: int, height: int) -> bytes:
    """A 16 x 16 baseline JPEG whose start-of-frame claims ``width`` x ``height``."""
    data = bytearray(_tiny("JPEG"))
    pos = 2
    while data[pos + 1] not in (0xC0, 0xC1, 0xC2):
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    struct.pack_into(">HH", data, pos + 5, height, width)
    return bytes(data)


def gif_header(width: int, height: int) -> bytes:
    """A 16 x 16 GIF whose logical screen and image descriptor claim ``width`` x ``height``."""
    data = bytearray(_tiny("GIF"))
    struct.pack_into("<HH", data, 6, width, height)
    descriptor = data.index(b"\x2c", 13)
    struct.pack_into("<HH", data, descriptor + 5, width, height)
    return bytes(data)


def webp_header(width: int, height: int) -> bytes:
    """A 16 x 16 lossless WebP frame inside an extended (VP8X) container whose canvas is ``width`` x ``height``."""
    frame = _tiny("WEBP", lossless=True)[12:]  # the VP8L chunk
    vp8x = (b"VP8X" + struct.pack("<I", 10) + bytes(4) + (width - 1).to_bytes(3, "little")
            + (height - 1).to_bytes(3, "little"))
    body = b"WEBP" + vp8x + frame
    return b"RIFF" + struct.pack("<I", len(body)) + body


HEADERS = {"PNG": png_header, "JPEG": jpeg_header, "GIF": gif_header, "WEBP": webp_header}
# The largest each format can state (WebP's lossless canvas: 16,384 per side), all far over 40 megapixels.
HUGE = {"PNG": (50_000, 50_000), "JPEG": (60_000, 60_000), "GIF": (60_000, 60_000), "WEBP": (16_384, 16_384)}

_BOMB_PROBE = r"""
import json, re, resource, sys
from blog import imaging

fmt = sys.argv[1]
data = sys.stdin.buffer.read()
size_kb = int(re.search(r"^VmSize:\s+(\d+)", open("/proc/self/status").read(), re.M).group(1))
# 64 MB of address space more than the process has now: a decoded frame of even 40 megapixels cannot fit.
resource.setrlimit(resource.RLIMIT_AS, ((size_kb + 64 * 1024) * 1024, resource.RLIM_INFINITY))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = {}
for step in (imaging.inspect, imaging.process):
    try:
        step(data, imaging.FORMATS[fmt])
        result[step.__name__] = "accepted"
    except imaging.ImageRejected as exc:
        result[step.__name__] = exc.code
    except MemoryError:
        result[step.__name__] = "MemoryError"
result["grew_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps(result))
"""


def _run_python(code: str, *args: str, stdin: bytes = b"", timeout: float = 60) -> str:
    """Run ``code`` in a fresh interpreter (its own memory limits and accounting); its last output line."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, input=stdin,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return done.stdout.decode().strip().splitlines()[-1]


@pytest.mark.parametrize("fmt", list(HEADERS))
def test_bombs_are_refused_from_their_header_without_allocating(fmt):
    width, height = HUGE[fmt]
    assert width * height > 6 * imaging.MAX_PIXELS
    # The crafted file is otherwise well formed: the same bytes with a small header are accepted.
    assert imaging.inspect(HEADERS[fmt](16, 16), imaging.FORMATS[fmt]) == (fmt, 16, 16)
    result = json.loads(_run_python(_BOMB_PROBE, fmt, stdin=HEADERS[fmt](width, height)))
    assert result["inspect"] == result["process"] == "too_many_pixels", result
    assert result["grew_kb"] < 16 * 1024, result  # a decoded frame would be gigabytes


def test_pillow_only_ever_parses_the_format_the_magic_number_named(monkeypatch):
    real_open = Image.open
    calls = []

    def spy(fp, mode="r", formats=None):
        calls.append(formats)
        return real_open(fp, mode, formats)

    monkeypatch.setattr(imaging.Image, "open", spy)
    files = {"JPEG": samples.jpeg(700, 500), "PNG": samples.png(700, 500), "GIF": samples.animated_gif(),
             "WEBP": samples.photo(700, 500, fmt="WEBP")}
    for fmt, data in files.items():
        calls.clear()
        imaging.process(data, imaging.FORMATS[fmt])
        imaging.inspect(data, imaging.FORMATS[fmt])
        assert calls and all(formats == [fmt] for formats in calls), (fmt, calls)
    assert Image.MAX_IMAGE_PIXELS == imaging.MAX_PIXELS


@pytest.mark.parametrize("fmt", list(HEADERS))
def test_checking_an_upload_decodes_no_pixels(fmt, monkeypatch):
    """The web request only reads headers: the pixels are decoded by the image job, in the worker."""
    from PIL import WebPImagePlugin

    data = (samples.animated_gif(640, 480) if fmt == "GIF"
            else samples.photo(640, 480, fmt=fmt, orientation=6))  # with EXIF where the format has it

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"{type(self).__name__}.load() decoded pixels in the web request")

    for cls in (ImageFile.ImageFile, WebPImagePlugin.WebPImageFile, Image.Image):
        if "load" in vars(cls):
            monkeypatch.setattr(cls, "load", refuse)
    expected = (480, 640) if fmt != "GIF" else (640, 480)
    assert imaging.inspect(data, imaging.FORMATS[fmt]) == (fmt, *expected)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_exif_orientation_of_png_and_webp_is_applied_once_the_image_is_read(fmt):
    processed = imaging.process(samples.photo(640, 480, fmt=fmt, orientation=6), imaging.FORMATS[fmt])
    assert (processed.width, processed.height) == (480, 640)
    assert {(v.width, v.height) for v in processed.variants if v.name == "w320"} == {(320, 427)}


# --- over HTTP: refusals store nothing ------------------------------------------------------------------

@pytest.fixture(autouse=True)
def empty_media_root(app):
    root = Path(app.config["MEDIA_ROOT"])
    shutil.rmtree(root, ignore_errors=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _upload(client, data: bytes, name: str, content_type: str):
    return client.post("/studio/media", data={"files": [(io.BytesIO(data), name, content_type)]},
                       content_type="multipart/form-data")


def _png_with_text(text: str) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", text)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


@pytest.mark.parametrize(("make", "name", "content_type", "message"), [
    (samples.polyglot, "anim.gif", "image/gif", "contains web page, script or PDF content"),
    (lambda: samples.jpeg(400, 300) + HTML, "photo.jpg", "image/jpeg", "extra data after the image"),
    (lambda: samples.png(400, 300) + b"%PDF-1.4 trailer", "chart.png", "image/png", "extra data after the image"),
    (lambda: _png_with_text("<script>alert(1)</script>"), "text.png", "image/png", "contains web page, script"),
    (lambda: b"GIF89a" + HTML, "fake.gif", "image/gif", None),
    (lambda: b"\xff\xd8\xff\xe0" + HTML, "fake.jpg", "image/jpeg", None),
    (lambda: samples.SVG, "logo.png", "image/png", "This is a SVG file, not an image."),
    (lambda: samples.HTML, "page.gif", "image/gif", "This is a HTML file, not an image."),
    (lambda: samples.png(300, 200), "page.html", "image/png", "Upload JPEG, PNG, WebP or GIF images."),
    (lambda: samples.png(300, 200), "image.svg", "image/png", "Upload JPEG, PNG, WebP or GIF images."),
    (lambda: samples.jpeg(300, 200), "photo.png", "image/png", "The file says it is PNG but its contents are JPEG."),
    (lambda: samples.png(300, 200), "photo.png", "text/html", "Upload a JPEG, PNG, WebP or GIF image."),
], ids=["gif-script-comment", "jpeg-plus-html", "png-plus-pdf", "png-text-script", "gif-magic-then-html",
        "jpeg-magic-then-html", "svg-as-png", "html-as-gif", "html-extension", "svg-extension",
        "jpeg-named-png", "html-content-type"])
def test_polyglots_and_mismatches_are_refused_over_http_and_nothing_is_stored(client, empty_media_root, make,
                                                                              name, content_type, message):
    login(client, make_user("author"))
    response = _upload(client, make(), name, content_type)
    assert response.status_code == 302
    page = client.get("/studio/media").get_data(as_text=True)
    assert f"{name}: " in page or "Upload JPEG, PNG, WebP or GIF images." in page
    if message:
        assert message in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Media)) == 0
    assert not empty_media_root.exists() or not any(p.is_file() for p in empty_media_root.rglob("*"))


def test_a_png_cut_short_inside_its_pixels_fails_processing_not_the_request(client):
    """Header, end marker and too little pixel data: the request accepts it without decoding, the job
    refuses it with its reason."""
    login(client, make_user("author"))
    assert _upload(client, png_header(400, 300), "short.png", "image/png").status_code == 302
    item = db.session.scalar(sa.select(Media))
    assert (item.status, item.failure_reason, item.variants) == ("failed", "truncated", {})
    assert "The file is incomplete" in client.get(f"/studio/media/{item.id}/status").json["message"]


def test_the_library_lists_an_image_smaller_than_a_kilobyte(client):
    login(client, make_user("author"))
    tiny = _tiny("GIF")
    assert len(tiny) < 1024
    assert _upload(client, tiny, "dot.gif", "image/gif").status_code == 302
    assert db.session.scalar(sa.select(Media.status)) == "ready"
    page = client.get("/studio/media")
    assert page.status_code == 200 and f"{len(tiny)} bytes" in page.get_data(as_text=True)


# --- served media ---------------------------------------------------------------------------------------

def test_the_original_is_served_as_an_attachment_and_only_variants_inline(app, client):
    author = make_user("author")
    item = media.upload(actor=author, stream=io.BytesIO(samples.png(900, 600)), filename="chart.png",
                        content_type="image/png")
    db.session.expire_all()
    item = db.session.get(Media, item.id)
    assert item.status == "ready"
    storage = get_storage()
    keys = {item.storage_key: "image/png"}
    for group in ("webp", "jpeg", "square"):
        for entry in item.variants[group].values():
            keys[entry["key"]] = "image/webp" if entry["key"].endswith(".webp") else "image/jpeg"
    assert len(keys) == 1 + 2 * 3 + 2  # 320, 640, 900 in two formats, two squares
    for key, content_type in keys.items():
        with app.test_request_context():
            url = storage.url_for_read(key)
        response = client.get(url)
        assert response.status_code == 200, key
        assert response.headers["Content-Type"] == content_type
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        expected = "attachment" if key == item.storage_key else "inline"
        assert response.headers["Content-Disposition"] == expected, key
        assert response.headers["Cache-Control"].startswith("private")
        with Image.open(io.BytesIO(response.data)) as image:  # what is served inline is our own encoding
            assert key == item.storage_key or not image.info.get("exif")


@pytest.fixture
def signing_site(make_app, aws_env):
    """An app on the S3 backend pointed at a closed port: presigning is local, so no server is needed."""
    site = make_app(STORAGE_BACKEND="s3", S3_BUCKET="pinned-bucket", S3_ENDPOINT_URL="http://127.0.0.1:9",
                    S3_REGION=REGION)
    with site.app_context():
        yield site
        db.session.remove()


def test_the_presigned_post_policy_pins_type_size_key_and_disposition(signing_site):
    client = signing_site.test_client()
    login(client, make_user("author"))
    started = client.post("/studio/media/direct", json={"filename": "p.webp", "content_type": "image/webp",
                                                        "size": 123_456})
    assert started.status_code == 200
    fields = started.json["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    item = db.session.get(Media, started.json["id"])
    assert item.status == "pending" and item.content_type == "image/webp"
    assert {"Content-Type": "image/webp"} in conditions and fields["Content-Type"] == "image/webp"
    assert ["content-length-range", 1, 123_456] in conditions  # exactly what the browser announced
    assert {"Content-Disposition": "attachment"} in conditions and fields["Content-Disposition"] == "attachment"
    assert {"key": item.storage_key} in conditions and fields["key"] == item.storage_key
    assert {"bucket": "pinned-bucket"} in conditions
    assert not any(isinstance(c, list) and c[0] == "starts-with" for c in conditions)  # no open-ended field


@pytest.mark.parametrize(("content_type", "size", "message"), [
    ("image/svg+xml", 1000, "Upload a JPEG, PNG, WebP or GIF image."),
    ("text/html", 1000, "Upload a JPEG, PNG, WebP or GIF image."),
    ("image/png", 0, "The file is empty."),
    ("image/png", imaging.MAX_BYTES + 1, "larger than 20 MB"),
], ids=["svg", "html", "empty", "too-large"])
def test_direct_uploads_are_refused_before_anything_is_signed(signing_site, content_type, size, message):
    client = signing_site.test_client()
    login(client, make_user("author"))
    refused = client.post("/studio/media/direct", json={"filename": "x", "content_type": content_type,
                                                        "size": size})
    assert refused.status_code == 422 and message in refused.json["error"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Media)) == 0


# --- the image job: a time limit and bounded memory in a real worker ------------------------------------

def test_the_image_job_is_enqueued_with_a_time_limit_and_retries(make_app, app, redis, redis_url):
    from rq.job import Job

    site = make_app(REDIS_URL=redis_url)
    with site.app_context():
        queued = images.schedule(4242)
        job = Job.fetch(queued.job_id, connection=redis)
        assert job.origin == "media" and job.func_name == "blog.jobs.images.process_image"
        assert job.timeout == images.TIMEOUT == 120
        assert job.retries_left == len(images.RETRY_INTERVALS) and job.retry_intervals == images.RETRY_INTERVALS
        db.session.remove()


def _heavy_png() -> bytes:
    """40 megapixels of RGBA with an ICC profile: seconds of work and about 600 MB at its peak."""
    image = Image.linear_gradient("L").resize((8000, 5000)).convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1,
               icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    return buffer.getvalue()


@pytest.fixture
def media_site(app, make_app, redis, redis_url, tmp_path, database_url):
    """An app that queues to Redis, and a function to start ``worker.py media`` with extra arguments; both
    share one local media folder."""
    root = tmp_path / "shared-media"
    site = make_app(REDIS_URL=redis_url, MEDIA_ROOT=str(root))
    workers = []

    def start(*args: str):
        worker = start_worker(["media", *args], {"REDIS_URL": redis_url, "DATABASE_URL": database_url,
                                                 "MEDIA_ROOT": str(root),
                                                 "INSTANCE_PATH": str(tmp_path / "worker-instance")},
                              redis=redis, log=tmp_path / f"worker{len(workers)}.log")
        workers.append(worker)
        return worker

    with site.app_context():
        yield site, start
        db.session.remove()
    for worker in workers:
        worker.stop()


def _uploaded(owner, data: bytes, content_type: str = "image/png") -> int:
    return media.upload(actor=owner, stream=io.BytesIO(data), filename="upload", content_type=content_type).id


def _finished(media_id: int, timeout: float = 60) -> Media:
    def done():
        db.session.rollback()
        item = db.session.get(Media, media_id)
        return item if item.status in ("ready", "failed") else None
    return wait_for(done, timeout=timeout, every=0.1)


def test_a_real_worker_stops_an_image_job_at_its_time_limit(media_site, monkeypatch):
    site, start = media_site
    start()
    monkeypatch.setattr(images, "TIMEOUT", 1)  # the limit travels with the job, set when it is enqueued
    monkeypatch.setattr(images, "RETRY_INTERVALS", [])  # so this first attempt is the last
    item = _finished(_uploaded(make_user("author"), _heavy_png()))
    assert (item.status, item.failure_reason, item.variants) == ("failed", "timeout", {})
    assert media.failure_text(item) == "Processing took too long. Try a smaller image."


def test_a_work_horse_over_its_memory_limit_fails_the_job_and_the_worker_carries_on(media_site, monkeypatch):
    site, start = media_site
    worker = start("--memory-limit-mb", "150")
    monkeypatch.setattr(images, "RETRY_INTERVALS", [])
    author = make_user("author")
    heavy = _finished(_uploaded(author, _heavy_png()))
    assert (heavy.status, heavy.failure_reason, heavy.variants) == ("failed", "error", {})
    assert worker.process.poll() is None  # only the work-horse met the limit
    small = _finished(_uploaded(author, samples.png(600, 400)))  # the next work-horse starts afresh
    assert small.status == "ready" and set(small.variants["webp"]) == {"320", "600"}


_BUDGET_PROBE = r"""
import io, json, re, sys
from PIL import Image
import worker
from blog import imaging

fmt = sys.argv[1]
image = Image.linear_gradient("L").resize((8000, 5000)).convert("RGBA")  # 40 megapixels: the most accepted
buffer = io.BytesIO()
image.save(buffer, fmt, **({"quality": 50, "method": 0} if fmt == "WEBP" else {"compress_level": 1}))
data = buffer.getvalue()
del image
worker.limit_address_space(worker.MEMORY_LIMIT_MB * 1024 * 1024)
processed = imaging.process(data, imaging.FORMATS[fmt])
print(json.dumps({"width": processed.width, "variants": len(processed.variants)}))
"""


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_the_default_work_horse_memory_limit_fits_the_largest_accepted_image(fmt):
    """40-megapixel RGBA is the costliest accepted input (WebP peaks near 1.1 GB of address space)."""
    result = json.loads(_run_python(_BUDGET_PROBE, fmt, timeout=120))
    assert result == {"width": 8000, "variants": 10}
