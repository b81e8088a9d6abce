"""S3-compatible storage through boto3: objects in one bucket, read and upload through presigned URLs.

Credentials and, when ``region`` is not given, the region come from boto3's usual chain (environment,
shared config files, instance role); this module never reads the environment itself.
"""
from __future__ import annotations

import datetime
import uuid
from contextlib import contextmanager
from typing import Any, BinaryIO, Iterator

import boto3
from botocore.auth import AUTH_TYPE_MAPS, SIGV4_TIMESTAMP, S3SigV4QueryAuth
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from blog.storage.base import (
    ObjectInfo,
    ObjectMissing,
    PresignedUpload,
    StorageError,
    StoredObject,
    bucketed_expiry,
)

UPLOAD_LIFETIME = 600
_MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404"})

# How a fixed signing time reaches botocore's presigner (see ``S3Storage.url_for_read``): the caller
# passes it as an extra GetObject parameter, a handler moves it into the request context before the
# parameters are validated, and the signer chosen for such requests signs with it instead of "now".
_SIGNED_AT = "BlogSignedAt"
_WINDOWED_SIGNER = "blog-s3v4-windowed-query"  # must end in "-query": botocore's suffix for presigned URLs


class _WindowedS3SigV4QueryAuth(S3SigV4QueryAuth):
    """botocore's S3 presigned-URL signer, with the signing time taken from the request context."""

    def _modify_request_before_signing(self, request: Any) -> None:
        # SigV4Auth.add_auth stamps the current time, then calls this hook before anything reads the
        # stamp (X-Amz-Date, the credential scope, the string to sign), so replacing it here is enough.
        request.context["timestamp"] = request.context[_SIGNED_AT].strftime(SIGV4_TIMESTAMP)
        super()._modify_request_before_signing(request)


def _carry_signing_time(params: dict, context: dict, **kwargs: Any) -> None:
    if _SIGNED_AT in params:
        context[_SIGNED_AT] = params.pop(_SIGNED_AT)


def _choose_windowed_signer(signature_version: str, context: dict, **kwargs: Any) -> str | None:
    # Only plain SigV4 presigned URLs that asked for a fixed time; anything else (S3 Express, SigV4a,
    # ordinary requests) keeps botocore's own choice.
    if _SIGNED_AT in context and signature_version == "s3v4-query":
        return _WINDOWED_SIGNER
    return None


def _install_windowed_signer(client: BaseClient) -> None:
    # A new entry under our own name: botocore's existing signers and other clients are untouched.
    AUTH_TYPE_MAPS.setdefault(_WINDOWED_SIGNER, _WindowedS3SigV4QueryAuth)
    events = client.meta.events
    events.register("provide-client-params.s3.GetObject", _carry_signing_time, unique_id=_SIGNED_AT)
    events.register_first("choose-signer.s3.GetObject", _choose_windowed_signer, unique_id=_WINDOWED_SIGNER)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") or "ClientError"
    return " ".join(str(exc).split()) or type(exc).__name__


@contextmanager
def _translate_errors(action: str, key: str, bucket: str, *, missing_ok: bool = False):
    """botocore errors become ObjectMissing (for a missing key, unless ``missing_ok``) or StorageError."""
    try:
        yield
    except ClientError as exc:
        if not missing_ok and exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
            raise ObjectMissing(key) from exc
        raise StorageError(f"cannot {action} {key} in S3 bucket {bucket}: {_reason(exc)}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"cannot {action} {key} in S3 bucket {bucket}: {_reason(exc)}") from exc


class S3Storage:
    def __init__(
        self,
        bucket: str,
        region: str | None,
        endpoint_url: str | None,
        lifetime: int,
        client: BaseClient | None = None,
    ):
        self.bucket = bucket
        self.lifetime = lifetime
        if client is None:
            s3_options: dict[str, Any] = {"addressing_style": "path"} if endpoint_url else {}
            # An S3 that accepts connections but never answers costs a request at most 3 attempts of
            # 5 s plus backoff (about 18 s), inside gunicorn's 30 s timeout, so the uploader gets a clear
            # message instead of a killed worker. ("max_attempts" would mean retries: one attempt more.)
            config = Config(
                signature_version="s3v4",
                s3=s3_options,
                retries={"total_max_attempts": 3, "mode": "standard"},
                connect_timeout=3,
                read_timeout=5,
            )
            client = boto3.client("s3", region_name=region, endpoint_url=endpoint_url, config=config)
        self.client = client
        _install_windowed_signer(client)

    def put(self, key: str, data: BinaryIO | bytes, *, content_type: str, inline: bool = False) -> None:
        """Store ``data`` under ``key`` with its content type, served ``inline`` or as an attachment.

        Raises :class:`StorageError` when S3 refuses or cannot be reached.
        """
        with _translate_errors("write", key, self.bucket, missing_ok=True):
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                ContentDisposition="inline" if inline else "attachment",
            )

    def open(self, key: str) -> BinaryIO:
        """A readable, non-seekable binary stream of ``key``; close it when done.

        Raises :class:`ObjectMissing` when there is no such key, :class:`StorageError` otherwise.
        """
        with _translate_errors("read", key, self.bucket):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def head(self, key: str) -> ObjectInfo:
        """Size and content type of ``key``.

        Raises :class:`ObjectMissing` when there is no such key, :class:`StorageError` otherwise.
        """
        with _translate_errors("inspect", key, self.bucket):
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            content_type=response.get("ContentType", "application/octet-stream"),
        )

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error. Raises :class:`StorageError` when S3 refuses."""
        with _translate_errors("delete", key, self.bucket, missing_ok=True):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def iter_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object whose key starts with ``prefix``, a page of 1,000 at a time.

        Raises :class:`StorageError` when S3 refuses or cannot be reached.
        """
        with _translate_errors("list", prefix or "(all keys)", self.bucket, missing_ok=True):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield StoredObject(key=item["Key"], size=item["Size"], modified=item["LastModified"].timestamp())

    def url_for_read(self, key: str, *, now: float | None = None) -> str:
        """A presigned GET URL for ``key``, byte-for-byte identical for every call in the same window.

        The signature is dated at the start of the current ``bucketed_expiry`` window and lasts
        ``lifetime`` seconds, so a URL stays valid for at least half the lifetime after it is made.
        ``now`` (a Unix time) is for tests. Makes no request; raises :class:`StorageError` when no
        credentials are available.
        """
        # botocore's presigner always dates a signature "now", which would make every URL unique and
        # uncacheable by browsers. Rather than patching botocore's clock (process-wide, and it would
        # also mis-date concurrent ordinary requests), this client's own event hooks route this one
        # call to a signer subclass that uses the window start carried in the request context.
        signed_at = bucketed_expiry(self.lifetime, now) - self.lifetime
        params = {
            "Bucket": self.bucket,
            "Key": key,
            _SIGNED_AT: datetime.datetime.fromtimestamp(signed_at, datetime.timezone.utc),
        }
        with _translate_errors("sign a read URL for", key, self.bucket, missing_ok=True):
            return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.lifetime)

    def presigned_upload(self, key: str, *, content_type: str, max_size: int) -> PresignedUpload:
        """A form (``url`` and ``fields``) a browser POSTs, with the file last, to create ``key``.

        S3 accepts it for 10 minutes, only with exactly ``content_type``, 1 to ``max_size`` bytes, and
        served as an attachment. Makes no request; raises :class:`StorageError` without credentials.
        """
        fields = {"Content-Type": content_type, "Content-Disposition": "attachment"}
        conditions: list[Any] = [
            {"Content-Type": content_type},
            {"Content-Disposition": "attachment"},
            ["content-length-range", 1, max_size],
        ]
        with _translate_errors("sign an upload for", key, self.bucket, missing_ok=True):
            form = self.client.generate_presigned_post(
                Bucket=self.bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=UPLOAD_LIFETIME
            )
        return PresignedUpload(url=form["url"], fields=form["fields"])

    def check(self) -> None:
        """Write and delete a probe object under ``readyz/``; raises :class:`StorageError` naming the bucket."""
        probe = f"readyz/{uuid.uuid4().hex}"
        try:
            self.put(probe, b"ok", content_type="text/plain")
            self.delete(probe)
        except StorageError as exc:
            reason = _reason(exc.__cause__) if isinstance(exc.__cause__, Exception) else str(exc)
            raise StorageError(f"S3 bucket {self.bucket} is not writable: {reason}") from exc
