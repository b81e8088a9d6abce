"""Local-disk storage: files under ``MEDIA_ROOT`` served by the app through signed, expiring URLs."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from flask import url_for

from blog.storage.base import ObjectInfo, ObjectMissing, StorageError, StoredObject, bucketed_expiry

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,254}$")


class LocalStorage:
    def __init__(self, root: str, secret: str, lifetime: int):
        self.root = Path(root)
        self.lifetime = lifetime
        self._secret = hashlib.sha256(b"blog.storage.local:" + secret.encode()).digest()

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise ObjectMissing(key)
        return self.root / key

    def _meta_path(self, key: str) -> Path:
        return self._path(key).with_name(self._path(key).name + ".meta.json")

    def put(self, key, data, *, content_type, inline=False):
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        payload = data if isinstance(data, bytes) else data.read()
        try:
            tmp.write_bytes(payload)
            os.replace(tmp, path)  # readers never see a half-written file
            self._meta_path(key).write_text(json.dumps({"content_type": content_type, "inline": inline}))
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"cannot write {key}: {exc}") from exc

    def open(self, key):
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc

    def metadata(self, key: str) -> dict:
        try:
            return json.loads(self._meta_path(key).read_text())
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc

    def head(self, key):
        try:
            size = self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc
        return ObjectInfo(key=key, size=size, content_type=self.metadata(key)["content_type"])

    def delete(self, key):
        self._path(key).unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    def iter_objects(self, prefix=""):
        # Walk only the folder the prefix names (keys are paths), not the whole media root.
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if (prefix and not _KEY.match(prefix)) or ".." in prefix.split("/") or not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            # Skip the metadata beside each file and the temporary files of writes in progress.
            if not path.is_file() or path.name.endswith(".meta.json") or path.name.startswith("."):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                stat = path.stat()
                yield StoredObject(key=key, size=stat.st_size, modified=stat.st_mtime)

    def sign(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def url_for_read(self, key):
        expires = bucketed_expiry(self.lifetime)
        return url_for("media.read", key=key, expires=expires, signature=self.sign(key, expires))

    def verify(self, key: str, expires: str | int, signature: str, now: float | None = None) -> bool:
        """True when ``signature`` was made by this app for ``key`` and ``expires`` has not passed."""
        try:
            expires_at = int(expires)
        except (TypeError, ValueError):
            return False
        if expires_at < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self.sign(key, expires_at), signature or "")

    def check(self):
        probe = f"readyz/{uuid.uuid4().hex}"
        try:
            self.put(probe, b"ok", content_type="text/plain")
            self.delete(probe)
        except (OSError, StorageError) as exc:
            raise StorageError(f"media root {self.root} is not writable: {exc}") from exc
