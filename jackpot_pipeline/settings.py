"""One place for settings: modelling defaults and paths, overridable by environment variables.

Every setting has a default; ``Settings.from_env()`` reads ``JACKPOT_<FIELD>`` (upper case) to
override it, e.g. ``JACKPOT_WAREHOUSE_PATH=/tmp/w.duckdb`` or ``JACKPOT_STRICT_MODE=true``.
The Dagster code location reads them once, at load, into its resources
(``defs.resources.SettingsResource``); asset bodies never read the environment.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Settings:
    """Pipeline settings; modelling defaults follow the original engine's seeds."""

    # Storage
    data_dir: Path = DATA_DIR
    warehouse_path: Path = DATA_DIR / "warehouse.duckdb"
    raw_dir: Path = DATA_DIR / "raw"
    football_data_dir: Path = DATA_DIR / "football-data"
    lock_timeout_s: float = 60.0  # how long a command waits for a warehouse held by a writer
    leagues_path: Path = DATA_DIR / "leagues.csv"  # the league registry
    football_data_mode: str = "local"  # local: the shipped files; http: football-data.co.uk
    # Calendar
    season_boundary: str = "07-01"  # MM-DD on which a season starts
    today: str = ""  # ISO date pinning the clock (empty: the machine's UTC date)
    stale_history_days: int = 14  # fixtures this long after a league's last result are flagged
    margin_method: str = "shin"  # multiplicative | additive | power | shin
    jackpots_dir: Path | None = None  # inbox/processed/rejected/out; None: <data_dir>/jackpots
    # Dixon-Coles (ρ and the home advantage are maximum-likelihood estimates: no setting)
    xi: float = 0.0065  # ξ/day of a standalone fit; the pipeline selects ξ per league and season
    max_goals: int = 10  # score grid bound (0..max_goals); truncated mass is reported
    # Blending and calibration
    blend_alpha: float = 0.6  # model weight of set B until enough rows with odds to fit it
    max_market_weight: float = 0.7  # cap on the market's weight
    min_calibration_samples: int = 30
    calibration_bins: int = 10
    # Data quality
    # Strict (default): rows failing an error-severity check are rejected (and logged with
    # action "rejected"); off: they are kept, logged, and the failed blocking check stops
    # downstream assets.
    strict_mode: bool = True
    # Apply a football-data file even when it loses rows or stored matches of its partition
    # (refused by default; the deletion is logged).
    allow_shrink: bool = False
    # Strict mode: a blocking check fails when it rejects more than this share of a partition's
    # checked rows (the rest of the file is loaded either way).
    max_rejected_share: float = 0.05

    @property
    def jackpots_path(self) -> Path:
        """The jackpot folders' root."""
        return self.jackpots_dir or self.data_dir / "jackpots"

    def today_date(self) -> date:
        """The pipeline's clock: the ``today`` setting (ISO date) if given, else today in UTC."""
        return date.fromisoformat(self.today) if self.today else datetime.now(UTC).date()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Defaults overridden by ``JACKPOT_<FIELD>`` environment variables."""
        env = os.environ if environ is None else environ
        overrides: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = env.get(f"JACKPOT_{field.name.upper()}")
            if raw is None:
                continue
            overrides[field.name] = _coerce(raw, field.default)
        return cls(**overrides)


def _coerce(raw: str, default: object) -> object:
    """Convert an environment string to the type of the field's default."""
    if isinstance(default, bool):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"expected a boolean, got {raw!r}")
    if default is None or isinstance(default, Path):
        return Path(raw)
    return type(default)(raw)
