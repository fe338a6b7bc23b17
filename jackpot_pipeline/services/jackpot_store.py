"""Jackpot tables: the schema, a version's one-time insert, and reading versions back.

Tables (DDL in :mod:`services.schema`): ``jackpots`` (one row per version),
``jackpot_fixtures`` (one row per version and fixture: input, resolved ids, model inputs and
ratings, λ, raw and calibrated probabilities, market, flags) and ``predictions`` (one row per
version, fixture and set; probabilities sum to 1 by a CHECK constraint).

Every number can be traced: ratings (``home_attack``, ``away_defence``, ``home_advantage``, …
in ``jackpot_fixtures``) → λ, μ → ``dc_prob_*`` (Dixon-Coles score grid) → calibration curve
(``calibration_version``; its breakpoints in ``jackpots.calibrations``) → ``calibrated_prob_*``
= set A = ``predictions.model_prob_*`` → combined with ``market_prob_*`` (the coupon's
``odds_*`` without margin, or the odds snapshots named by ``market_source``; their data in
``jackpots.version_key``) by the set's rule (``predictions.blend_alpha`` and ``detail``; the set
parameters in ``jackpots.set_params``) → ``predictions.prob_*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.coupon import ParsedCoupon
from jackpot_pipeline.core.prediction_sets import PREDICTION_SETS
from jackpot_pipeline.services import warehouse

SET_NAMES: tuple[str, ...] = tuple(PREDICTION_SETS)

JACKPOT_TABLES = ("jackpots", "jackpot_fixtures", "predictions")


@dataclass(frozen=True, eq=False)
class ComputedJackpot:
    """The rows of a new version, ready to insert."""

    jackpot: pd.DataFrame
    fixtures: pd.DataFrame
    predictions: pd.DataFrame


@dataclass(frozen=True, eq=False)
class StoredJackpot:
    """One stored version: its ``jackpots`` row and its fixture and prediction rows."""

    jackpot: dict[str, Any]
    fixtures: pd.DataFrame
    predictions: pd.DataFrame

    @property
    def version(self) -> str:
        return str(self.jackpot["jackpot_version"])

    def set_probs(self, name: str) -> np.ndarray:
        """Probabilities (k, 3) of set ``name`` in fixture order."""
        rows = self.predictions[self.predictions["set_id"] == name].sort_values("match_order")
        return rows[["prob_home", "prob_draw", "prob_away"]].to_numpy(dtype=np.float64)

    def probability_sets(self) -> dict[str, np.ndarray]:
        """Every set's probabilities, A–G."""
        return {name: self.set_probs(name) for name in SET_NAMES}


def version_exists(con: duckdb.DuckDBPyConnection, version: str) -> bool:
    """Whether a jackpot version is stored."""
    row = con.execute(
        "SELECT count(*) FROM jackpots WHERE jackpot_version = ?", [version]
    ).fetchone()
    return bool(row and row[0])


def store_jackpot(con: duckdb.DuckDBPyConnection, computed: ComputedJackpot) -> bool:
    """Insert a new version's rows in one transaction; False (nothing written) if it exists."""
    version = str(computed.jackpot["jackpot_version"].iloc[0])
    with warehouse.transaction(con):
        if version_exists(con, version):
            return False
        warehouse.insert_frame(con, "jackpots", computed.jackpot)
        warehouse.insert_frame(con, "jackpot_fixtures", computed.fixtures)
        warehouse.insert_frame(con, "predictions", computed.predictions)
    return True


def load_jackpot(con: duckdb.DuckDBPyConnection, version: str) -> StoredJackpot:
    """A stored version (KeyError if unknown)."""
    frame = con.execute("SELECT * FROM jackpots WHERE jackpot_version = ?", [version]).df()
    if frame.empty:
        raise KeyError(f"no stored jackpot version {version}")
    fixtures = con.execute(
        "SELECT * FROM jackpot_fixtures WHERE jackpot_version = ? ORDER BY match_order",
        [version],
    ).df()
    predictions = con.execute(
        "SELECT * FROM predictions WHERE jackpot_version = ? ORDER BY match_order, set_id",
        [version],
    ).df()
    return StoredJackpot(frame.iloc[0].to_dict(), fixtures, predictions)


def jackpot_versions(con: duckdb.DuckDBPyConnection, content_sha256: str) -> pd.DataFrame:
    """Every stored version of a coupon file, oldest first."""
    return con.execute(
        "SELECT jackpot_version, created_at, model_version, data_version, calibration_version, "
        "set_params_version FROM jackpots WHERE content_sha256 = ? ORDER BY created_at",
        [content_sha256],
    ).df()


@dataclass(frozen=True, eq=False)
class JackpotRun:
    """The outcome of :func:`jackpot_pipeline.services.jackpots.predict_coupon`: the stored version
    and whether it is new."""

    coupon: ParsedCoupon
    stored: StoredJackpot
    created: bool

    @property
    def version(self) -> str:
        return self.stored.version
