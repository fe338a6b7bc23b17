"""Jackpot tables: the schema, a version's one-time insert, and reading versions back.

Tables (created on first use, :func:`ensure_schema`): ``jackpots`` (one row per version),
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

from jackpot_pipeline import warehouse
from jackpot_pipeline.core.coupon import ParsedCoupon
from jackpot_pipeline.core.prediction_sets import PREDICTION_SETS

SET_NAMES: tuple[str, ...] = tuple(PREDICTION_SETS)

JACKPOT_SCHEMA_SQL = """
-- One row per jackpot version: jp- + sha256(version_key)[:16]; never updated.
CREATE TABLE IF NOT EXISTS jackpots (
    jackpot_version VARCHAR PRIMARY KEY,
    coupon_id VARCHAR NOT NULL,
    coupon_name VARCHAR,
    content_sha256 VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    raw_path VARCHAR,
    n_fixtures INTEGER NOT NULL,
    leagues VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,        -- JSON list of the fixtures' model ids (locked)
    data_version VARCHAR NOT NULL,         -- hash of the fixtures' training-data versions
    calibration_version VARCHAR NOT NULL,  -- hash of the fixtures' calibration versions
    set_params_version VARCHAR NOT NULL,   -- hash of the fixtures' set-parameter versions
    code_version VARCHAR NOT NULL,
    margin_method VARCHAR NOT NULL,
    version_key VARCHAR NOT NULL,          -- the JSON the version hashes
    calibrations VARCHAR NOT NULL,         -- JSON {calibration_version: breakpoints}
    set_params VARCHAR NOT NULL,           -- JSON {set_params_version: SetParams}
    flags VARCHAR NOT NULL,
    notes VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    finalized_at TIMESTAMPTZ,
    CHECK (status IN ('calculating', 'finalized')),
    CHECK (n_fixtures >= 1)
);
-- One row per version and fixture: input, model inputs and ratings, λ, probabilities, flags.
CREATE TABLE IF NOT EXISTS jackpot_fixtures (
    jackpot_version VARCHAR NOT NULL,
    match_order INTEGER NOT NULL,
    home_team VARCHAR NOT NULL,
    away_team VARCHAR NOT NULL,
    home_team_id VARCHAR NOT NULL,
    away_team_id VARCHAR NOT NULL,
    league VARCHAR NOT NULL,
    league_inferred BOOLEAN NOT NULL,
    kickoff VARCHAR NOT NULL,              -- ISO: UTC datetime, or a bare date
    kickoff_utc TIMESTAMPTZ,               -- NULL for a date-only kickoff
    match_date DATE NOT NULL,              -- kickoff date (UTC); the model's as-of date
    season VARCHAR NOT NULL,
    odds_home DOUBLE,
    odds_draw DOUBLE,
    odds_away DOUBLE,
    overround DOUBLE,
    market_source VARCHAR,
    market_prob_home DOUBLE,
    market_prob_draw DOUBLE,
    market_prob_away DOUBLE,
    model_id VARCHAR NOT NULL,             -- dc1- + hash of the fit's inputs
    params_version VARCHAR NOT NULL,       -- DixonColesParams.version of the fitted model
    data_version VARCHAR NOT NULL,         -- hash of the training rows (ids, dates, goals)
    model_as_of DATE NOT NULL,
    training_since DATE NOT NULL,
    n_train_matches INTEGER NOT NULL,
    xi DOUBLE NOT NULL,
    xi_source VARCHAR NOT NULL,
    rho DOUBLE NOT NULL,
    home_advantage DOUBLE NOT NULL,
    converged BOOLEAN NOT NULL,
    home_attack DOUBLE NOT NULL,
    home_defence DOUBLE NOT NULL,
    away_attack DOUBLE NOT NULL,
    away_defence DOUBLE NOT NULL,
    lambda_home DOUBLE NOT NULL,
    lambda_away DOUBLE NOT NULL,
    dc_prob_home DOUBLE NOT NULL,          -- Dixon-Coles 1X2 before calibration
    dc_prob_draw DOUBLE NOT NULL,
    dc_prob_away DOUBLE NOT NULL,
    truncated_mass DOUBLE NOT NULL,
    likely_home_goals INTEGER NOT NULL,
    likely_away_goals INTEGER NOT NULL,
    likely_score_prob DOUBLE NOT NULL,
    calibration_version VARCHAR NOT NULL,
    calibrated BOOLEAN NOT NULL,
    calibrated_prob_home DOUBLE NOT NULL,  -- after calibration = set A
    calibrated_prob_draw DOUBLE NOT NULL,
    calibrated_prob_away DOUBLE NOT NULL,
    set_params_version VARCHAR NOT NULL,
    flags VARCHAR NOT NULL,                -- JSON list
    PRIMARY KEY (jackpot_version, match_order),
    CHECK (abs(dc_prob_home + dc_prob_draw + dc_prob_away - 1) < 1e-6),
    CHECK (abs(calibrated_prob_home + calibrated_prob_draw + calibrated_prob_away - 1) < 1e-6)
);
-- One row per version, fixture and set A-G.
CREATE TABLE IF NOT EXISTS predictions (
    jackpot_version VARCHAR NOT NULL,
    match_order INTEGER NOT NULL,
    set_id VARCHAR NOT NULL,
    model_id VARCHAR NOT NULL,
    prob_home DOUBLE NOT NULL,
    prob_draw DOUBLE NOT NULL,
    prob_away DOUBLE NOT NULL,
    pick VARCHAR NOT NULL,
    entropy DOUBLE NOT NULL,
    lambda_home DOUBLE NOT NULL,
    lambda_away DOUBLE NOT NULL,
    model_prob_home DOUBLE NOT NULL,       -- calibrated model (A) before blending
    model_prob_draw DOUBLE NOT NULL,
    model_prob_away DOUBLE NOT NULL,
    market_prob_home DOUBLE,               -- margin-free market (market_source); NULL without
    market_prob_draw DOUBLE,
    market_prob_away DOUBLE,
    blend_alpha DOUBLE,                    -- model weight where the set has one
    fell_back_to_a BOOLEAN NOT NULL,       -- the set needs odds the fixture lacks
    detail VARCHAR NOT NULL,               -- JSON: the set's parameters for this fixture
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (jackpot_version, match_order, set_id),
    CHECK (set_id IN ('A', 'B', 'C', 'D', 'E', 'F', 'G')),
    CHECK (pick IN ('1', 'X', '2')),
    CHECK (abs((prob_home + prob_draw + prob_away) - 1.0) < 1e-6)
);
"""
JACKPOT_TABLES = ("jackpots", "jackpot_fixtures", "predictions")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the jackpot tables if missing."""
    con.execute(JACKPOT_SCHEMA_SQL)


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
    ensure_schema(con)
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
    ensure_schema(con)
    return con.execute(
        "SELECT jackpot_version, created_at, model_version, data_version, calibration_version, "
        "set_params_version FROM jackpots WHERE content_sha256 = ? ORDER BY created_at",
        [content_sha256],
    ).df()


@dataclass(frozen=True, eq=False)
class JackpotRun:
    """The outcome of :func:`jackpot_pipeline.jackpots.predict_coupon`: the stored version
    and whether it is new."""

    coupon: ParsedCoupon
    stored: StoredJackpot
    created: bool

    @property
    def version(self) -> str:
        return self.stored.version
