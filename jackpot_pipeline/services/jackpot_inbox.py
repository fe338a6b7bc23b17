"""Jackpot folders and coupon bytes (no pandas or DuckDB here).

Folders (:func:`jackpot_paths`): ``Settings.jackpots_path`` (``$JACKPOT_JACKPOTS_DIR``, else
``<data_dir>/jackpots``)
with ``inbox/``, ``processed/``, ``rejected/`` and ``out/``; coupon bytes are kept in the raw
layer under ``<Settings.raw_dir>/jackpots/`` (content-addressed).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from jackpot_pipeline.services.raw_store import sha256, store_blob
from jackpot_pipeline.settings import Settings

RAW_NAMESPACE = "jackpots"
IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")


@dataclass(frozen=True)
class JackpotPaths:
    """The jackpot folders: inbox (watched), processed, rejected, out (exports)."""

    base: Path

    @property
    def inbox(self) -> Path:
        return self.base / "inbox"

    @property
    def processed(self) -> Path:
        return self.base / "processed"

    @property
    def rejected(self) -> Path:
        return self.base / "rejected"

    @property
    def out(self) -> Path:
        return self.base / "out"


def jackpot_paths(settings: Settings | None = None) -> JackpotPaths:
    """The folders under ``settings.jackpots_path`` (default: the environment's settings)."""
    return JackpotPaths((settings or Settings.from_env()).jackpots_path)


def inbox_files(inbox: Path) -> list[Path]:
    """Files waiting in the inbox, by name; hidden and partial (``.tmp``, ``.part``) files are
    left alone (write a file elsewhere or under a temporary name, then rename it in)."""
    if not inbox.is_dir():
        return []
    return sorted(
        path
        for path in inbox.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and not path.name.lower().endswith(IGNORED_SUFFIXES)
    )


def store_coupon_bytes(raw_dir: Path, data: bytes, name: str) -> Path:
    """Keep a coupon's bytes in the raw layer (content-addressed, never rewritten)."""
    return store_blob(raw_dir, RAW_NAMESPACE, data, Path(name).suffix.lower()).path


def find_coupon_bytes(
    checksum: str, raw_dir: Path, paths: JackpotPaths | None = None
) -> tuple[bytes, Path]:
    """The bytes whose SHA-256 starts with ``checksum`` (a full digest or a prefix): from
    inbox/ first (so the run can move that file), else the raw layer, else processed/."""
    folder = raw_dir / RAW_NAMESPACE / checksum[:2]
    candidates = sorted(folder.glob(f"{checksum}*")) if folder.is_dir() else []
    if paths is not None:
        candidates = inbox_files(paths.inbox) + candidates
        if paths.processed.is_dir():
            candidates += sorted(p for p in paths.processed.iterdir() if p.is_file())
    for path in candidates:
        data = path.read_bytes()
        if sha256(data).startswith(checksum):
            return data, path
    raise FileNotFoundError(f"no coupon file with sha256 {checksum}… in {folder} or the folders")


def move_unique(path: Path, folder: Path, checksum: str) -> Path:
    """Move ``path`` into ``folder`` under its name, or ``<sha[:12]>_<name>`` if the name is
    taken by other content (a file with the same content already there is just removed)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        if target.is_file() and sha256(target.read_bytes()) == checksum:
            path.unlink()
            return target
        target = folder / f"{checksum[:12]}_{path.name}"
    shutil.move(str(path), target)
    return target


def reject_file(path: Path, folder: Path, checksum: str, report: str) -> tuple[Path, Path]:
    """Move an invalid coupon into ``folder`` with ``<name>.error.txt`` next to it."""
    target = move_unique(path, folder, checksum)
    report_path = target.with_name(target.name + ".error.txt")
    report_path.write_text(report, encoding="utf-8")
    return target, report_path
