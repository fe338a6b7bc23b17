"""Dagster resources: the DuckDB warehouse and the football-data.co.uk source."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from jackpot_pipeline.core.seasons import season_code
from jackpot_pipeline.settings import Settings

if TYPE_CHECKING:
    import duckdb

DEFAULTS = Settings.from_env()
FOOTBALL_DATA_URL = "https://www.football-data.co.uk/mmz4281"


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file; connections are short-lived (one writer process at a time)."""

    path: str = str(DEFAULTS.warehouse_path)
    lock_timeout_s: float = 120.0

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with the schema in place, closed on exit."""
        from jackpot_pipeline.services import warehouse  # duckdb + pandas: not paid at code load

        con = warehouse.connect(Path(self.path), read_only, self.lock_timeout_s)
        try:
            yield con
        finally:
            con.close()


@dataclass(frozen=True)
class SourceFile:
    """The bytes of one football-data file and where they came from (``changed`` False: the
    source said the file is the one already downloaded, 304 or same checksum)."""

    league: str
    season: str
    uri: str
    data: bytes
    changed: bool = True


class FootballDataSource(dg.ConfigurableResource):
    """football-data.co.uk CSVs: the shipped local folder by default, or HTTP when ``mode`` is
    ``"http"``: GET ``<base_url>/<SEASON>/<DIV>.csv`` with a timeout, retries with exponential
    backoff on 429/5xx and connection errors, and a conditional request (ETag / Last-Modified
    of the last download, see :mod:`jackpot_pipeline.services.football_data_http`); every
    downloaded version is kept in the raw layer under ``raw_dir``."""

    mode: str = DEFAULTS.football_data_mode
    local_dir: str = str(DEFAULTS.football_data_dir)
    base_url: str = FOOTBALL_DATA_URL
    raw_dir: str = ""  # empty: the raw_dir setting (JACKPOT_RAW_DIR) when fetching
    timeout_s: float = 30.0
    max_retries: int = 3
    backoff_s: float = 1.0

    def url(self, league: str, season: str) -> str:
        """Download address of ``league`` × ``season``."""
        return f"{self.base_url.rstrip('/')}/{season_code(season)}/{league}.csv"

    def local_path(self, league: str, season: str) -> Path:
        """Path of ``league`` × ``season`` in the local folder."""
        return Path(self.local_dir) / season_code(season) / f"{league}.csv"

    def has_data(self, league: str, season: str) -> bool:
        """Whether a local file exists (HTTP mode always tries the download)."""
        return self.mode == "http" or self.local_path(league, season).exists()

    def fetch(self, league: str, season: str) -> SourceFile | None:
        """The file's bytes, or None when the source has no file for this partition yet."""
        if self.mode == "local":
            path = self.local_path(league, season)
            if not path.exists():
                return None
            return SourceFile(league, season, path.as_uri(), path.read_bytes())
        if self.mode != "http":
            raise ValueError(f"unknown football-data source mode {self.mode!r}: local or http")
        from jackpot_pipeline.services import football_data_http as http  # requests: at run time

        raw_dir = Path(self.raw_dir or Settings.from_env().raw_dir)
        with http.session_with_retries(self.max_retries, self.backoff_s) as session:
            result = http.download(
                session,
                self.url(league, season),
                raw_dir,
                raw_dir / "http-validators",
                self.timeout_s,
                datetime.now(UTC),
            )
        if result.data is None:
            return None
        return SourceFile(league, season, result.url, result.data, result.status == "changed")
