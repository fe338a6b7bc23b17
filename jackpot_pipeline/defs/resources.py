"""Dagster resources: the DuckDB warehouse and the football-data.co.uk source."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from jackpot_pipeline.core.seasons import season_code
from jackpot_pipeline.settings import Settings

if TYPE_CHECKING:
    import duckdb
    import requests

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
    """The bytes of one football-data file and where they came from."""

    league: str
    season: str
    uri: str
    data: bytes


class FootballDataSource(dg.ConfigurableResource):
    """football-data.co.uk CSVs: the shipped local folder by default, or HTTP when ``mode`` is
    ``"http"`` (GET ``<base_url>/<SEASON>/<DIV>.csv`` with a timeout and retries with
    exponential backoff on 429/5xx and connection errors)."""

    mode: str = "local"
    local_dir: str = str(DEFAULTS.football_data_dir)
    base_url: str = FOOTBALL_DATA_URL
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
        """The file's bytes, or None when the source has no file for this partition."""
        if self.mode == "local":
            path = self.local_path(league, season)
            if not path.exists():
                return None
            return SourceFile(league, season, path.as_uri(), path.read_bytes())
        if self.mode != "http":
            raise ValueError(f"unknown football-data source mode {self.mode!r}: local or http")
        url = self.url(league, season)
        with self._session() as session:
            response = session.get(url, timeout=self.timeout_s)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return SourceFile(league, season, url, response.content)

    def _session(self) -> requests.Session:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        retry = Retry(
            total=self.max_retries,
            backoff_factor=self.backoff_s,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=("GET",),
            raise_on_status=True,
        )
        session = requests.Session()
        session.mount("https://", HTTPAdapter(max_retries=retry))
        session.mount("http://", HTTPAdapter(max_retries=retry))
        return session
