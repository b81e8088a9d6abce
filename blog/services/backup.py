"""Backup and restore: one archive with the content tables, the media files and a checksummed manifest.

The archive is a gzipped tar: ``manifest.json`` (format, schema revision, row counts, SHA-256 of every
other member), ``tables/<name>.jsonl`` (one row per line) and ``media/<storage key>`` for every stored file
of every media row. Password hashes and session tokens are left out unless asked for: restored accounts
then sign in after a password reset.
"""
from __future__ import annotations

import hashlib
import io
import json
import secrets
import tarfile
from datetime import date, datetime, timezone
from typing import Callable, Iterator

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

from blog.extensions import db
from blog.storage import get_storage
from blog.storage.base import ObjectMissing

FORMAT = "blog-export/1"
# Restored in this order (parents first); operational tables (email deliveries, job outbox) stay behind.
TABLES = ("users", "tags", "media", "posts", "post_tags", "post_revisions", "comments", "slug_redirects",
          "related_posts", "audit_events")
# Recovery codes (recovery_codes) stay behind: after a restore, users make new ones in their settings.
SECRET_COLUMNS = {"users": ("password_hash", "session_token", "totp_secret")}
# users.avatar_id points at media, which is restored after users: set it in a second pass.
DEFERRED = {"users": ("avatar_id",)}

Progress = Callable[[int], None]


class BackupError(Exception):
    """The archive is damaged, of another format or schema, or the target is not empty."""


def _revision() -> str | None:
    with db.engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads)) or None


def _encode(value):
    if isinstance(value, (datetime, date)):
        return {"$dt": value.isoformat()}
    return value


def _decode(value):
    if isinstance(value, dict) and set(value) == {"$dt"}:
        parsed = datetime.fromisoformat(value["$dt"])
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return value


def _table(name: str) -> sa.Table:
    return db.metadata.tables[name]


def _media_keys() -> Iterator[str]:
    media = _table("media")
    for key, variants in db.session.execute(sa.select(media.c.storage_key, media.c.variants)):
        yield key
        yield from _variant_keys(variants)


def _variant_keys(variants) -> Iterator[str]:
    if isinstance(variants, dict):
        for value in variants.values():
            yield from _variant_keys(value)
    elif isinstance(variants, list):
        for value in variants:
            yield from _variant_keys(value)
    elif isinstance(variants, str) and "/" in variants:
        yield variants


def steps() -> int:
    """How many progress steps an export takes: one per table and one per stored file."""
    return len(TABLES) + len(set(_media_keys()))


def _add(tar: tarfile.TarFile, name: str, data: bytes, checksums: dict) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(timezone.utc).timestamp())
    tar.addfile(info, io.BytesIO(data))
    checksums[name] = hashlib.sha256(data).hexdigest()


def export_archive(path: str, *, with_secrets: bool = False, progress: Progress | None = None) -> dict:
    """Write the archive to ``path``; returns the manifest. Missing media files are listed, not fatal."""
    checksums: dict[str, str] = {}
    counts: dict[str, int] = {}
    missing: list[str] = []
    storage = get_storage()
    with tarfile.open(path, "w:gz") as tar:
        for name in TABLES:
            table = _table(name)
            hidden = () if with_secrets else SECRET_COLUMNS.get(name, ())
            lines = []
            for row in db.session.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings():
                lines.append(json.dumps({k: (None if k in hidden else _encode(v)) for k, v in row.items()},
                                        ensure_ascii=False, sort_keys=True))
            counts[name] = len(lines)
            _add(tar, f"tables/{name}.jsonl", ("\n".join(lines) + "\n" if lines else "").encode(), checksums)
            if progress:
                progress(1)
        keys = sorted(set(_media_keys()))
        for key in keys:
            try:
                with storage.open(key) as stream:
                    data = stream.read()
            except ObjectMissing:
                missing.append(key)
                continue
            _add(tar, f"media/{key}", data, checksums)
            if progress:
                progress(1)
        manifest = {"format": FORMAT, "schema_revision": _revision(), "with_secrets": with_secrets,
                    "created_at": datetime.now(timezone.utc).isoformat(), "counts": counts,
                    "files": len(keys) - len(missing), "missing_files": missing, "sha256": checksums}
        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return manifest


def _read(path: str) -> tuple[dict, dict[str, bytes]]:
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
                    raise BackupError(f"unexpected archive member {member.name!r}")
                members[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"cannot read {path}: {exc}") from exc
    try:
        manifest = json.loads(members.pop("manifest.json"))
    except (KeyError, ValueError) as exc:
        raise BackupError("the archive has no valid manifest.json") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown archive format {manifest.get('format')!r}")
    for name, expected in manifest["sha256"].items():
        if name not in members:
            raise BackupError(f"{name} is listed in the manifest but missing from the archive")
        if hashlib.sha256(members[name]).hexdigest() != expected:
            raise BackupError(f"{name} does not match its checksum: the archive is damaged")
    return manifest, members


def plan_import(path: str) -> tuple[dict, list[str]]:
    """Read and verify the archive; return ``(manifest, conflicts)`` without writing anything."""
    manifest, members = _read(path)
    conflicts = []
    revision = _revision()
    if manifest.get("schema_revision") != revision:
        conflicts.append(f"schema: the archive is at {manifest.get('schema_revision')}, the database at {revision} "
                         "(run flask db upgrade, or restore into a matching version)")
    for name in TABLES:
        count = db.session.scalar(sa.select(sa.func.count()).select_from(_table(name)))
        if count:
            conflicts.append(f"table {name} already has {count} row(s): restore into an empty database")
    storage = get_storage()
    for name in members:
        if name.startswith("media/"):
            key = name[len("media/"):]
            try:
                storage.head(key)
            except ObjectMissing:
                continue
            conflicts.append(f"storage already holds {key}")
    return manifest, conflicts


def import_archive(path: str, *, progress: Progress | None = None) -> dict:
    """Restore the archive into an empty database and bucket. Raises BackupError listing the conflicts
    (nothing is written then). Commits once for all rows, after the files are stored."""
    manifest, conflicts = plan_import(path)
    if conflicts:
        raise BackupError("; ".join(conflicts))
    _manifest, members = _read(path)
    storage = get_storage()
    media_rows = {}
    deferred_updates: list[tuple[str, dict]] = []
    for name in TABLES:
        table = _table(name)
        rows = [json.loads(line) for line in members[f"tables/{name}.jsonl"].decode().splitlines() if line]
        late = DEFERRED.get(name, ())
        for row in rows:
            values = {k: _decode(v) for k, v in row.items() if k in table.c}
            if name == "users" and not values.get("password_hash"):
                values["password_hash"] = None
            if name == "users" and not values.get("session_token"):
                values["session_token"] = secrets.token_urlsafe(24)
            if name == "users" and not values.get("totp_secret"):  # exported without secrets
                values["totp_secret"] = values["totp_enabled_at"] = values["totp_last_step"] = None
            later = {k: values.pop(k) for k in late if values.get(k) is not None}
            if later:
                deferred_updates.append((name, {"id": values["id"], **later}))
            if name == "media":
                media_rows[values["storage_key"]] = values
            db.session.execute(table.insert().values(**values))
        if progress:
            progress(1)
    for name, values in deferred_updates:
        table = _table(name)
        row_id = values.pop("id")
        db.session.execute(table.update().where(table.c.id == row_id).values(**values))
    for member, data in members.items():
        if member.startswith("media/"):
            key = member[len("media/"):]
            row = media_rows.get(key)
            is_original = row is not None
            content_type = row["content_type"] if is_original else _guess_type(key)
            storage.put(key, data, content_type=content_type, inline=not is_original)
            if progress:
                progress(1)
    _reset_sequences()
    db.session.commit()
    return manifest


def _guess_type(key: str) -> str:
    if key.endswith(".webp"):
        return "image/webp"
    if key.endswith((".jpg", ".jpeg")):
        return "image/jpeg"
    return "application/octet-stream"


def _reset_sequences() -> None:
    """PostgreSQL: rows came with their ids, so move each id sequence past the largest one."""
    if db.engine.dialect.name != "postgresql":
        return
    for name in TABLES:
        table = _table(name)
        if "id" in table.c and table.c.id.autoincrement:
            db.session.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"))
