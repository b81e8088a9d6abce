"""Image processing time and upload-request latency, on a 12-megapixel JPEG.

    .venv/bin/python bench/media_bench.py [--runs 5] [--uploads 20] [--redis redis://127.0.0.1:6379/10]

1. Processing, in this process: ``blog.imaging.process`` (checks, EXIF orientation, sRGB, metadata
   stripped, 4 widths in WebP and JPEG plus a square crop) against a bare Pillow script that makes the
   same ten files from the same photo with no checks (open, transpose, resize each width from the full
   image, save). Then the whole job, ``process_image``: read the original from S3, process, ten PUTs,
   one commit.
2. Requests, against a real HTTP server (werkzeug, threaded) with S3 on moto's server and jobs queued to
   a real Redis (no worker during the timing, so no request can wait for processing):
   - the form upload through the app (multipart POST of the photo: checks, one S3 PUT, one commit, enqueue);
   - the direct upload's two app requests (presign; complete: HEAD, 64 KB read, commit, enqueue);
   and, with a real ``worker.py``, the time from the end of an upload request until the image is ready.

A scratch SQLite database and instance folder are used. Stops every process and thread it starts,
deletes its bucket and empties its Redis database (which must be empty to start with).
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter, ImageOps  # noqa: E402
from redis import Redis  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from blog import imaging  # noqa: E402
from tests.support import REGION, create_bucket, delete_bucket, s3_client, start_moto_server, start_worker  # noqa: E402


def photo_12mp() -> bytes:
    """A deterministic 4000x3000 JPEG with photo-like detail (noise, gradients, edges) and EXIF."""
    noise = Image.effect_noise((4000, 3000), 48).filter(ImageFilter.GaussianBlur(1))
    gradient = Image.linear_gradient("L").resize((4000, 3000))
    image = Image.merge("RGB", (noise, gradient, ImageOps.invert(noise)))
    draw = ImageDraw.Draw(image)
    for i in range(0, 4000, 160):
        draw.line([(i, 0), (4000 - i, 3000)], fill=(255, 220, 0), width=6)
    exif = Image.Exif()
    exif[0x0112] = 1
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def bare_pillow(data: bytes) -> list[bytes]:
    """What a short script would do: the same ten files, no checks, each width from the full image."""
    out = []
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    for width in (1600, 1024, 640, 320):
        resized = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
        for fmt, options in (("WEBP", {"quality": 80, "method": 4}), ("JPEG", {"quality": 82, "progressive": True})):
            buffer = io.BytesIO()
            resized.save(buffer, fmt, **options)
            out.append(buffer.getvalue())
    square = ImageOps.fit(image, (256, 256), Image.Resampling.LANCZOS)
    for fmt in ("WEBP", "JPEG"):
        buffer = io.BytesIO()
        square.save(buffer, fmt)
        out.append(buffer.getvalue())
    return out


def timed(fn, runs: int) -> list[float]:
    fn()  # warm up (imports, codec tables)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def line(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"  {label:<64} median {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms   (n={len(ms)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="processing runs per variant set")
    parser.add_argument("--uploads", type=int, default=20, help="upload requests per kind")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10", help="a Redis database this may empty")
    args = parser.parse_args(argv)

    data = photo_12mp()
    with Image.open(io.BytesIO(data)) as probe:
        print(f"Photo: {probe.width}x{probe.height} JPEG, {len(data) / 1024 / 1024:.1f} MB")
    print("Processing (this process, one core):")
    print(line("blog.imaging.process (checks + 10 variants)", timed(lambda: imaging.process(data, "image/jpeg"),
                                                                      args.runs)))
    print(line("bare Pillow script (same 10 files, no checks)", timed(lambda: bare_pillow(data), args.runs)))

    redis = Redis.from_url(args.redis)
    if redis.dbsize():
        print(f"{args.redis} is not empty (a test run's, perhaps): choose another with --redis", file=sys.stderr)
        redis.close()
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="media-bench-"))
    env_backup = dict(os.environ)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION,
                       "AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "127.0.0.1,localhost"})
    moto = start_moto_server()
    server = worker = None
    s3 = bucket = None
    try:
        endpoint = moto.endpoint
        s3 = s3_client(endpoint)
        bucket = create_bucket(s3, "bench")
        settings = {"DATABASE_URL": f"sqlite:///{scratch / 'bench.sqlite3'}", "INSTANCE_PATH": str(scratch),
                    "STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": endpoint, "S3_REGION": REGION,
                    "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789"}
        from flask_migrate import upgrade

        from blog.app import create_app
        from blog.config import Config
        from blog.extensions import db
        from blog.jobs import images
        from blog.models.media import Media
        from blog.services import accounts
        from blog.services import media as media_service
        from tests.factories import login, make_user

        # The job end to end, inline (no Redis): read from S3, process, 10 PUTs, one commit.
        inline_app = create_app(Config.from_env({**settings}))
        with inline_app.app_context():
            upgrade()
            author = make_user("author", username="bench")
            item = media_service.upload(actor=author, stream=io.BytesIO(data), filename="bench.jpg",
                                        content_type="image/jpeg")

            def job():
                row = db.session.get(Media, item.id)
                row.status = "uploaded"
                db.session.commit()
                assert images.process_image(item.id) == "ready"

            print(line("the job: S3 read + process + 10 S3 PUTs + commit", timed(job, args.runs)))
            db.session.remove()
            db.engine.dispose()

        config = Config.from_env({**settings, "REDIS_URL": args.redis})
        config.WTF_CSRF_ENABLED = False  # the benchmark times the upload path, not the token dance
        app = create_app(config)
        for name in ("werkzeug", "blog", "rq", "botocore"):  # print figures, not request logs
            logging.getLogger(name).setLevel(logging.WARNING)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, name="bench-server", daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        client = requests.Session()
        client.trust_env = False
        with app.app_context():
            author = accounts.get_by_login("bench")
            with app.test_client() as flask_client:
                login(flask_client, author)
                cookie = flask_client.get_cookie("session").value
            db.session.remove()
        client.cookies.set("session", cookie, domain="127.0.0.1")

        def form_upload():
            response = client.post(f"{base}/studio/media", files={"files": ("bench.jpg", data, "image/jpeg")},
                                   allow_redirects=False, timeout=60)
            assert response.status_code == 302, response.text[:300]

        def direct_upload() -> tuple[float, float]:
            """The browser's three requests; returns the times of the two that reach the app."""
            start = time.perf_counter()
            response = client.post(f"{base}/studio/media/direct", json={
                "filename": "bench.jpg", "content_type": "image/jpeg", "size": len(data)}, timeout=30)
            presigned = time.perf_counter() - start
            assert response.status_code == 200, response.text[:300]
            form = response.json()
            storage = requests.post(form["url"], data=form["fields"], files={"file": ("f", data, "image/jpeg")},
                                    timeout=60)
            assert storage.status_code in (200, 201, 204)
            start = time.perf_counter()
            response = client.post(f"{base}{form['complete_url']}", json={}, timeout=30)
            completed = time.perf_counter() - start
            assert response.status_code == 200 and response.json()["status"] == "uploaded", response.text[:300]
            return presigned, completed

        print("Upload requests (real HTTP server, S3 on moto, jobs queued to Redis, no worker running):")
        print(line(f"POST /studio/media (form, {len(data) / 1024 / 1024:.1f} MB through the app)",
                   timed(form_upload, args.uploads)))
        direct_upload()  # warm up
        pairs = [direct_upload() for _ in range(args.uploads)]
        print(line("POST /studio/media/direct (presigned POST form)", [p for p, _c in pairs]))
        print(line("POST /studio/media/<id>/complete (HEAD + 64 KB read + enqueue)", [c for _p, c in pairs]))
        queued = redis.llen("rq:queue:media")
        print(f"  jobs waiting in Redis after the requests: {queued} (none ran during a request)")

        # With a worker: from the end of an upload request to the image being ready.
        redis.flushdb()
        worker = start_worker(["media"], {**settings, "REDIS_URL": args.redis}, redis=redis)
        ready_times = []
        with app.app_context():
            for _ in range(max(3, args.runs)):
                form_upload()
                end_of_request = time.perf_counter()
                newest = db.session.scalar(db.select(Media.id).order_by(Media.id.desc()))
                while True:
                    db.session.rollback()
                    if db.session.get(Media, newest).status in ("ready", "failed"):
                        break
                    time.sleep(0.02)
                ready_times.append(time.perf_counter() - end_of_request)
            db.session.remove()
        print("With a real worker.py (forked work-horse per job):")
        print(line("upload request answered -> image ready", ready_times))
    finally:
        if worker is not None:
            worker.stop(timeout=20)
        if server is not None:
            server.shutdown()
            server.server_close()
        if s3 is not None and bucket:
            delete_bucket(s3, bucket)
        moto.stop()
        redis.flushdb()
        redis.close()
        os.environ.clear()
        os.environ.update(env_backup)
        for path in sorted(scratch.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        scratch.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
