"""Media files: reading them through signed URLs (uploads and processing come with the media issue)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import BinaryIO

from blog.exceptions import NotFound, PermissionDenied
from blog.i18n import _
from blog.storage import get_storage
from blog.storage.base import ObjectMissing


@dataclass
class SignedRead:
    stream: BinaryIO
    content_type: str
    inline: bool
    seconds_left: int


def open_signed(*, key: str, expires: str, signature: str) -> SignedRead:
    """Open ``key`` for a URL made by the local backend's ``url_for_read``.

    Raises PermissionDenied for a missing, tampered or expired signature (or a backend that serves
    its own URLs), NotFound when the object is gone.
    """
    storage = get_storage()
    verify = getattr(storage, "verify", None)
    if verify is None or not verify(key, expires, signature):
        raise PermissionDenied(_("This link has expired or is not valid."))
    try:
        meta = storage.metadata(key)
        stream = storage.open(key)
    except ObjectMissing as exc:
        raise NotFound(_("This file no longer exists.")) from exc
    return SignedRead(stream, meta["content_type"], bool(meta.get("inline")), max(0, int(expires) - int(time.time())))
