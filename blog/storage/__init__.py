"""Media storage: the interface lives in :mod:`blog.storage.base`; :func:`get_storage` returns the backend."""
from __future__ import annotations

from flask import Flask, current_app

from blog.storage.base import Storage
from blog.storage.local import LocalStorage
from blog.storage.s3 import S3Storage

_EXTENSION_KEY = "blog.storage"


def init_app(app: Flask) -> None:
    backend = app.config["STORAGE_BACKEND"]
    if backend == "local":
        storage: Storage = LocalStorage(
            app.config["MEDIA_ROOT"], app.config["SECRET_KEY"], app.config["MEDIA_URL_LIFETIME"]
        )
    elif backend == "s3":
        if not app.config.get("S3_BUCKET"):
            raise RuntimeError("STORAGE_BACKEND is 's3' but S3_BUCKET is not set")
        storage = S3Storage(
            app.config["S3_BUCKET"],
            app.config.get("S3_REGION"),
            app.config.get("S3_ENDPOINT_URL"),
            app.config["MEDIA_URL_LIFETIME"],
        )
    else:
        raise RuntimeError(f"storage backend {backend!r} is not available in this version")
    app.extensions[_EXTENSION_KEY] = storage


def get_storage() -> Storage:
    return current_app.extensions[_EXTENSION_KEY]
