"""Immutable raw layer: every received file stored once, content-addressed by SHA-256.

Layout: ``<raw_dir>/<namespace>/<sha256[:2]>/<sha256><suffix>``. A blob is written through a
temporary file and an atomic rename, then made read-only; storing the same bytes again is a
no-op, and an existing blob whose bytes no longer match its name raises instead of being
overwritten.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path


class RawStoreCorruptionError(RuntimeError):
    """A stored blob's content does not match its checksum name."""


@dataclass(frozen=True)
class StoredBlob:
    """Where a payload lives in the raw layer and whether this call created it."""

    checksum: str
    path: Path
    size: int
    created: bool


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def blob_path(raw_dir: Path, namespace: str, checksum: str, suffix: str) -> Path:
    """Path of the blob with ``checksum`` in ``namespace``."""
    return raw_dir / namespace / checksum[:2] / f"{checksum}{suffix}"


def store_blob(raw_dir: Path, namespace: str, data: bytes, suffix: str) -> StoredBlob:
    """Store ``data`` content-addressed; never rewrites an existing blob."""
    checksum = sha256(data)
    path = blob_path(raw_dir, namespace, checksum, suffix)
    if path.exists():
        if sha256(path.read_bytes()) != checksum:
            raise RawStoreCorruptionError(f"raw blob {path} does not match its checksum")
        return StoredBlob(checksum, path, len(data), created=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o444)
    os.replace(tmp, path)
    return StoredBlob(checksum, path, len(data), created=True)
