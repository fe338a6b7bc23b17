"""One place for settings: modelling defaults and paths, overridable by environment variables.

Every setting has a default; ``Settings.from_env()`` reads ``JACKPOT_<FIELD>`` (upper case) to
override it, e.g. ``JACKPOT_WAREHOUSE_PATH=/tmp/w.duckdb`` or ``JACKPOT_STRICT_MODE=true``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
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
    margin_method: str = "shin"  # multiplicative | additive | power | shin
    # Dixon-Coles
    rho: float = -0.13  # initial dependence parameter
    xi: float = 0.0065  # ξ/day of a standalone fit; the pipeline selects ξ per league and season
    home_advantage: float = 0.35  # initial log-rate home advantage
    max_goals: int = 10  # score grid bound (0..max_goals); truncated mass is reported
    # Blending and calibration
    blend_alpha: float = 0.6  # default model weight in market-aware pools
    max_market_weight: float = 0.7  # cap on the market's weight
    min_calibration_samples: int = 30
    calibration_bins: int = 10
    # Data quality
    # Strict (default): rows failing an error-severity check are rejected (and logged with
    # action "rejected"); off: they are kept, logged, and the failed blocking check stops
    # downstream assets.
    strict_mode: bool = True

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
    if isinstance(default, Path):
        return Path(raw)
    return type(default)(raw)
