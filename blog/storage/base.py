"""The storage interface every backend implements. Callers never learn which backend is in use."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Protocol, TypedDict, runtime_checkable


class StorageError(RuntimeError):
    """The backend could not do what was asked (unreachable, refused, missing object)."""


class ObjectMissing(StorageError):
    pass


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str


@dataclass(frozen=True)
class StoredObject:
    """One entry of a listing: ``modified`` is a Unix time."""

    key: str
    size: int
    modified: float


def bucketed_expiry(lifetime: int, now: float | None = None) -> int:
    """An expiry time that stays the same for half the lifetime, so read URLs stay cacheable.

    A URL made at any moment is valid for at least ``lifetime / 2`` and at most ``lifetime`` seconds.
    """
    window = max(1, lifetime // 2)
    now = time.time() if now is None else now
    return int(now // window) * window + lifetime


class PresignedUpload(TypedDict):
    """An HTML form target: POST ``fields`` as multipart form data to ``url``, with the file last."""

    url: str
    fields: dict[str, str]


class Storage(Protocol):
    def put(self, key: str, data: BinaryIO | bytes, *, content_type: str, inline: bool = False) -> None:
        """Store ``data`` under ``key`` with its real content type; ``inline`` only for verified images."""

    def open(self, key: str) -> BinaryIO:
        """A readable binary file for ``key``; raises :class:`ObjectMissing`."""

    def head(self, key: str) -> ObjectInfo:
        """Size and content type of ``key``; raises :class:`ObjectMissing`."""

    def delete(self, key: str) -> None:
        """Remove ``key``; deleting a missing key is not an error."""

    def iter_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every stored object whose key starts with ``prefix``, in no particular order; raises
        :class:`StorageError`. Used by maintenance commands, never on a page view."""

    def url_for_read(self, key: str) -> str:
        """A time-limited URL a browser can GET; identical for the same key within a time window."""

    def check(self) -> None:
        """Prove the backend is reachable and writable; raises :class:`StorageError`."""


@runtime_checkable
class DirectUploadStorage(Storage, Protocol):
    """Optional: backends that support direct browser uploads. Check with ``isinstance(storage, ...)``."""

    def presigned_upload(self, key: str, *, content_type: str, max_size: int) -> PresignedUpload:
        """A short-lived form that lets a browser create ``key`` directly, with exactly ``content_type``
        and 1 to ``max_size`` bytes; raises :class:`StorageError`."""
