"""Download of football-data.co.uk files over HTTP, conditional so an unchanged file costs nothing.

:func:`download` sends ``If-None-Match`` / ``If-Modified-Since`` with the validators (ETag,
Last-Modified) of the last download of the same address — only when that download's bytes are
still in the raw layer, so a 304 can always be answered with them. A 200 whose bytes have the
checksum of the last download counts as unchanged too (servers without validators). A 404 is
"no data yet" (the season's file is not published). Every downloaded payload is stored in the raw
layer before it is returned, so earlier versions of a growing file are all kept.

The validators of each address live in ``<state_dir>/<sha256(url)[:24]>.json`` (``url``, ``etag``,
``last_modified``, ``checksum``, ``fetched_at``); they are a cache, not raw data: losing them only
costs one full download.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from jackpot_pipeline.services.raw_store import blob_path, sha256, store_blob

NAMESPACE = "football-data"
SUFFIX = ".csv"
RETRY_STATUSES = (429, 500, 502, 503, 504)

DownloadStatus = Literal["changed", "unchanged", "missing"]


@dataclass(frozen=True)
class Validators:
    """What identifies the last download of an address."""

    url: str
    etag: str | None
    last_modified: str | None
    checksum: str
    fetched_at: str


@dataclass(frozen=True)
class Download:
    """The outcome of one download: ``changed`` (new bytes), ``unchanged`` (304 or the same
    checksum: ``data`` are the stored bytes) or ``missing`` (404: no file yet, ``data`` None)."""

    url: str
    status: DownloadStatus
    data: bytes | None
    http_status: int
    checksum: str | None


def session_with_retries(max_retries: int, backoff_s: float) -> requests.Session:
    """A session retrying GETs on connection errors and 429/5xx with exponential backoff
    (``backoff_s × 2^(n−1)`` seconds before retry n), honouring ``Retry-After``."""
    retry = Retry(
        total=max_retries,
        backoff_factor=backoff_s,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=("GET",),
        raise_on_status=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _state_path(state_dir: Path, url: str) -> Path:
    return state_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:24]}.json"


def load_validators(state_dir: Path, url: str) -> Validators | None:
    """The validators of the last download of ``url`` (None if never downloaded or unreadable)."""
    path = _state_path(state_dir, url)
    try:
        return Validators(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def save_validators(state_dir: Path, validators: Validators) -> None:
    """Write the validators atomically (temporary file, then rename)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = _state_path(state_dir, validators.url)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(validators), indent=1))
    tmp.replace(path)


def download(
    session: requests.Session,
    url: str,
    raw_dir: Path,
    state_dir: Path,
    timeout_s: float,
    now: datetime,
) -> Download:
    """GET ``url`` conditionally (see the module docstring); HTTP errors other than 404 and
    304 raise ``requests.HTTPError`` (after the session's retries)."""
    previous = load_validators(state_dir, url)
    stored = (
        blob_path(raw_dir, NAMESPACE, previous.checksum, SUFFIX) if previous is not None else None
    )
    headers = {}
    if previous is not None and stored is not None and stored.exists():
        if previous.etag:
            headers["If-None-Match"] = previous.etag
        if previous.last_modified:
            headers["If-Modified-Since"] = previous.last_modified
    response = session.get(url, timeout=timeout_s, headers=headers)
    if response.status_code == 404:
        return Download(url, "missing", None, 404, None)
    if response.status_code == 304 and headers:
        assert stored is not None and previous is not None
        return Download(url, "unchanged", stored.read_bytes(), 304, previous.checksum)
    response.raise_for_status()
    data = response.content
    checksum = sha256(data)
    store_blob(raw_dir, NAMESPACE, data, SUFFIX)
    save_validators(
        state_dir,
        Validators(
            url=url,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            checksum=checksum,
            fetched_at=now.isoformat(),
        ),
    )
    same = previous is not None and previous.checksum == checksum
    return Download(url, "unchanged" if same else "changed", data, response.status_code, checksum)
