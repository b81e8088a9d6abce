"""The image job: verify an uploaded original and write its variants (RQ ``media`` queue).

Safe to run twice and to retry after a crash: variant keys are deterministic (``owner/random/w640.webp``),
so a second run overwrites what the first wrote, and the row's variant list is replaced whole, in the
one commit that follows the last write. A crash in between leaves the previous list (or none) in place.
"""
from __future__ import annotations

import logging

from rq import get_current_job
from rq.timeouts import JobTimeoutException
from sqlalchemy.orm.exc import StaleDataError

from blog import imaging
from blog.extensions import db
from blog.jobs import queue
from blog.models.media import Media
from blog.storage import get_storage
from blog.storage.base import ObjectMissing

# A 40-megapixel PNG takes a few seconds; the limit only stops a runaway decode from holding a worker.
TIMEOUT = 120
RETRY_INTERVALS = [10, 60, 300]
PROCESSABLE = ("uploaded", "processing")

log = logging.getLogger(__name__)


def schedule(media_id: int):
    """Queue :func:`process_image` for ``media_id`` (after the caller's commit), with retries and a time limit."""
    return queue.enqueue(process_image, media_id, queue="media", retry_intervals=RETRY_INTERVALS, timeout=TIMEOUT)


def _last_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left  # inline runs have no second chance


def _keys(variants: dict) -> set[str]:
    keys = set()
    for group in ("webp", "jpeg", "square"):
        keys |= {entry["key"] for entry in (variants or {}).get(group, {}).values()}
    return keys


def _read_original(key: str) -> bytes:
    stream = get_storage().open(key)
    try:
        data = stream.read(imaging.MAX_BYTES + 1)  # never more than the limit in memory
    finally:
        stream.close()
    imaging.check_size(len(data))
    return data


def _fail(media_id: int, reason: str) -> str:
    db.session.rollback()
    media = db.session.get(Media, media_id)
    if media is not None:
        # The variant list is left as it was: complete from an earlier run, or empty.
        media.status, media.failure_reason = "failed", reason
        db.session.commit()
    return "failed"


def process_image(media_id: int) -> str:
    """Make the variants of media ``media_id`` and mark it ready; returns its final status.

    Returns early when the row is gone or not waiting for processing. A refused image is marked failed
    with the refusal's code. Running out of the work-horse's memory (``worker.py --memory-limit-mb``)
    marks it failed ("error") at once: a retry would need the same memory. Storage errors, timeouts and
    other surprises are raised so RQ retries them; on the last attempt the row is marked failed
    ("error" or "timeout") first.
    """
    media = db.session.get(Media, media_id)
    if media is None or media.status not in PROCESSABLE:
        return media.status if media else "missing"
    if media.status != "processing":
        media.status = "processing"
        db.session.commit()
    storage = get_storage()
    try:
        result = imaging.process(_read_original(media.storage_key), media.content_type)
    except imaging.ImageRejected as exc:
        log.info("media %s refused: %s", media_id, exc)
        return _fail(media_id, exc.code)
    except ObjectMissing:
        return _fail(media_id, "missing_original")
    except MemoryError:
        result = None  # handled below, once the traceback and the frames holding the pixels are gone
    except Exception as exc:
        if _last_attempt():
            _fail(media_id, "timeout" if isinstance(exc, JobTimeoutException) else "error")
        raise
    if result is None:
        log.warning("media %s needs more memory than a job may use; marked failed", media_id)
        return _fail(media_id, "error")

    old_keys = _keys(media.variants)
    variants: dict = {"webp": {}, "jpeg": {}, "square": {}, "animated": result.animated}
    try:
        for variant in result.variants:
            key = media.variant_key(variant.name, variant.extension)
            storage.put(key, variant.data, content_type=variant.content_type, inline=True)
            entry = {"key": key, "width": variant.width, "height": variant.height, "size": len(variant.data)}
            if variant.name == "square":
                variants["square"][variant.format] = entry
            else:
                variants[variant.format][str(variant.width)] = entry
        media.width, media.height = result.width, result.height
        media.variants = variants
        media.status, media.failure_reason = "ready", None
        db.session.commit()
    except StaleDataError:  # the media was deleted while we worked: remove what we wrote
        db.session.rollback()
        for key in _keys(variants):
            storage.delete(key)
        return "deleted"
    except Exception as exc:
        if _last_attempt():
            _fail(media_id, "timeout" if isinstance(exc, JobTimeoutException) else "error")
        raise
    for key in old_keys - _keys(variants):  # after the commit: the row never lists a deleted object
        storage.delete(key)
    return "ready"
