"""Dagster resources: the pipeline settings, the DuckDB warehouse and the football-data.co.uk
source.

Defaults come from :class:`jackpot_pipeline.settings.Settings`. ``from_env`` builds each
resource when the code location loads. A setting of ``SettingsResource`` given as
``JACKPOT_<NAME>`` becomes a ``dg.EnvVar`` (text and integer fields: Dagster resolves it when a
run starts and the UI shows where it came from) or, for booleans and fractions (no Dagster env
source), the value read at load; the warehouse path and the football-data folder are plain
values (the CLI uses those two resources outside runs too). Asset bodies read settings only
through these resources, and run config can override every field.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from jackpot_pipeline.core.seasons import season_code
from jackpot_pipeline.settings import Settings

if TYPE_CHECKING:
    import duckdb

DEFAULTS = Settings()
FOOTBALL_DATA_URL = "https://www.football-data.co.uk/mmz4281"
ENV_PREFIX = "JACKPOT_"


def env_overrides(
    fields_by_setting: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
    env_vars: bool = True,
) -> dict[str, Any]:
    """Resource fields (values of ``fields_by_setting``) whose setting is given in the
    environment as ``JACKPOT_<SETTING>``: from the process environment (and ``env_vars``) an
    ``EnvVar`` for text and integer fields, else (booleans, fractions, or a given ``environ``)
    the coerced value."""
    live = environ is None and env_vars
    env = os.environ if environ is None else environ
    parsed = Settings.from_env({k: v for k, v in env.items() if k.startswith(ENV_PREFIX)})
    overrides: dict[str, Any] = {}
    for setting, field in fields_by_setting.items():
        var = f"{ENV_PREFIX}{setting.upper()}"
        if var not in env:
            continue
        value = getattr(parsed, setting)
        if live and isinstance(value, int) and not isinstance(value, bool):
            overrides[field] = dg.EnvVar.int(var)
        elif isinstance(value, bool | int | float):
            overrides[field] = value
        else:
            overrides[field] = dg.EnvVar(var) if live else str(value)
    return overrides


class SettingsResource(dg.ConfigurableResource):
    """Modelling, data-quality and folder settings (see ``jackpot_pipeline.settings``)."""

    data_dir: str = str(DEFAULTS.data_dir)
    raw_dir: str = str(DEFAULTS.raw_dir)
    jackpots_dir: str = ""  # empty: <data_dir>/jackpots
    margin_method: str = DEFAULTS.margin_method
    xi: float = DEFAULTS.xi
    max_goals: int = DEFAULTS.max_goals
    blend_alpha: float = DEFAULTS.blend_alpha
    max_market_weight: float = DEFAULTS.max_market_weight
    min_calibration_samples: int = DEFAULTS.min_calibration_samples
    calibration_bins: int = DEFAULTS.calibration_bins
    strict_mode: bool = DEFAULTS.strict_mode
    allow_shrink: bool = DEFAULTS.allow_shrink
    max_rejected_share: float = DEFAULTS.max_rejected_share

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SettingsResource:
        """Defaults overridden by ``JACKPOT_<NAME>`` (see the module docstring)."""
        return cls(**env_overrides({name: name for name in cls.model_fields}, environ))

    def settings(self) -> Settings:
        """The plain settings object the services take."""
        values: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(Settings) if hasattr(self, f.name)
        }
        for name in ("data_dir", "raw_dir"):
            values[name] = Path(values[name])
        values["jackpots_dir"] = Path(self.jackpots_dir) if self.jackpots_dir else None
        return Settings(**values)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file; connections are short-lived (one writer process at a time)."""

    path: str = str(DEFAULTS.warehouse_path)
    lock_timeout_s: float = 120.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WarehouseResource:
        """The warehouse at ``$JACKPOT_WAREHOUSE_PATH`` when set (the value, not an ``EnvVar``:
        the CLI also opens this resource outside runs)."""
        return cls(**env_overrides({"warehouse_path": "path"}, environ, env_vars=False))

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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FootballDataSource:
        """The local folder at ``$JACKPOT_FOOTBALL_DATA_DIR`` when set (the value: the CLI also
        asks this resource which partitions have data, outside runs)."""
        return cls(**env_overrides({"football_data_dir": "local_dir"}, environ, env_vars=False))

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
