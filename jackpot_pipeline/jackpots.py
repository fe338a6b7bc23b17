"""Jackpots: a coupon in, immutable calibrated predictions out (no Dagster here).

One code path serves the ``jackpot_predictions`` asset and the ``jackpot predict FILE`` command
(:func:`predict_coupon`, wrapped by :func:`predict_file`):

1. **Validate** the coupon (:func:`jackpot_pipeline.core.coupon.parse_coupon_bytes`): names go
   through the alias table (:func:`team_resolver`), league history comes from ``matches``.
2. **Plan** every fixture (:func:`plan_jackpot`) — nothing is fitted yet:

   * league: the coupon's, else the league the home team (then the away team) played its last
     match in before kickoff (flag ``league_inferred``);
   * model inputs: the league's played matches of the kickoff's season and the three before it
     (like the walk-forward), dated strictly before the kickoff date (a date-only kickoff counts
     as that day; the UTC date otherwise, so same-day earlier matches are left out too); ξ from
     ``xi_selections`` of the latest season ≤ the kickoff's season, else ``Settings.xi``;
   * ``model_id`` = ``dc1-`` + SHA-256 of those inputs (league, as-of, since, ξ, prior, max
     goals, Dixon-Coles code version and the training rows' data version);
   * calibration curve and set parameters from ``calibration_store.load_calibration`` /
     ``load_set_params`` (league, before = kickoff date); None → identity calibration (flag
     ``uncalibrated``, also for an identity curve) and default ``SetParams()`` (flag
     ``default_set_params``); each is identified by the SHA-256 of its content;
   * market (:func:`fixture_market`): the coupon's odds without margin
     (``Settings.margin_method``, Shin by default); for a fixture without coupon odds, the
     collected odds snapshots (:func:`snapshot_market`): the event with the same resolved team
     ids kicking off within ±1 day (the closest kickoff first), its board as known when the
     prediction is made and before kickoff — Pinnacle alone when it has a usable line, else the
     consensus of every usable bookmaker (flag ``market_from_odds_snapshot``); none otherwise
     (flag ``no_market_odds``). ``market_source`` records which: ``coupon``,
     ``odds_snapshot:<bookmakers> @ <latest snapshot time>`` or NULL.

3. **Version**: ``jackpot_version`` = ``jp-`` + SHA-256 of the version key (the coupon file's
   SHA-256, the margin method, this module's code version and every fixture's resolved team
   ids, league, model id, calibration version and set-parameter version, plus, for a market
   from the odds snapshots, the event and each used bookmaker's snapshot time and prices). The
   key determines every stored number, so:

   * asking again with the same inputs finds the version already stored and re-reads it —
     rows are inserted only when the version is new, in one transaction, and never updated
     or deleted;
   * a model or data update (new results before kickoff, another ξ, a new calibration, new
     set parameters or a newer odds snapshot) gives a new version, stored next to the old one.

4. **Compute** (only for a new version): one Dixon-Coles fit per (league, as-of date)
   (:func:`jackpot_pipeline.core.dixon_coles.fit` + ``predict``): λ, μ, raw 1X2, most likely
   score; calibration → set A; sets A–G (:func:`build_prediction_sets`) with per-set detail
   (model weight, draw boost, temperature, Kelly shares, ensemble weights).
5. **Report** (:func:`jackpot_report`): results from ``matches`` (league, teams, date ±1 day)
   or a results file; per set the argmax ticket, P(all correct), the exact correct-count
   distribution, P(≥ k − m), the optimal combination ticket for the budget and, with results,
   correct picks, Brier, log loss and whether the tickets won; a markdown table, a printable
   text and export files ``out/<coupon>_<version>.csv`` / ``.json`` (:func:`write_exports`).

Tables (created on first use): ``jackpots`` (one row per version), ``jackpot_fixtures`` (one
row per version and fixture: input, resolved ids, model inputs and ratings, λ, raw and
calibrated probabilities, market, flags) and ``predictions`` (one row per version, fixture and
set; probabilities sum to 1 by a CHECK constraint).

Every number can be traced: ratings (``home_attack``, ``away_defence``, ``home_advantage``, …
in ``jackpot_fixtures``) → λ, μ → ``dc_prob_*`` (Dixon-Coles score grid) → calibration curve
(``calibration_version``; its breakpoints in ``jackpots.calibrations``) → ``calibrated_prob_*``
= set A = ``predictions.model_prob_*`` → combined with ``market_prob_*`` (the coupon's
``odds_*`` without margin, or the odds snapshots named by ``market_source``; their data in
``jackpots.version_key``) by the set's rule (``predictions.blend_alpha`` and ``detail``; the set
parameters in ``jackpots.set_params``) → ``predictions.prob_*``.

Folders (:func:`jackpot_paths`): ``$JACKPOT_JACKPOTS_DIR`` or ``<Settings.data_dir>/jackpots``
with ``inbox/``, ``processed/``, ``rejected/`` and ``out/``; coupon bytes are kept in the raw
layer under ``<Settings.raw_dir>/jackpots/`` (content-addressed).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline import warehouse
from jackpot_pipeline.core.calibration import CalibrationCurve, apply_calibration
from jackpot_pipeline.core.coupon import (
    CouponFixture,
    CouponValidationError,
    ParsedCoupon,
    Resolve,
    parse_coupon_bytes,
)
from jackpot_pipeline.core.dixon_coles import (
    DEFAULT_PRIOR,
    MODEL_VERSION,
    DixonColesParams,
    fit,
    predict,
)
from jackpot_pipeline.core.jackpot_analytics import (
    DEFAULT_MISSES,
    OUTCOME_CODES,
    SetAnalysis,
    analyse_jackpot,
)
from jackpot_pipeline.core.margins import remove_margin
from jackpot_pipeline.core.odds import EventStatus, consensus_probs, odds_at, pinnacle_probs
from jackpot_pipeline.core.prediction_sets import (
    MARKET_DOMINANT_MODEL_WEIGHT,
    MEMBER_NAMES,
    PREDICTION_SETS,
    PredictionSet,
    SetInputs,
    SetParams,
    build_prediction_sets,
    kelly_fraction,
)
from jackpot_pipeline.core.teams import load_aliases
from jackpot_pipeline.model_store import data_version as training_data_version
from jackpot_pipeline.raw_store import sha256, store_blob
from jackpot_pipeline.settings import Settings

CODE_VERSION = "jackpots/1"  # in every version key: bump it when the numbers' logic changes
RAW_NAMESPACE = "jackpots"
JACKPOTS_DIR_ENV = "JACKPOT_JACKPOTS_DIR"
DEFAULT_BUDGET = 64
DEFAULT_SET = "G"
HISTORY_SEASONS = 3  # seasons before the kickoff's season in the training window
SEASON_START_MONTH = 7  # a date from July on belongs to the season starting that year
RESULT_WINDOW_DAYS = 1  # a result or odds event is matched within ±1 day of the kickoff date
ODDS_SNAPSHOT = "odds_snapshot"  # market_source prefix of a market from the odds snapshots
SHARP_BOOKMAKER = "pinnacle"  # preferred alone over the consensus when it has a usable line
SNAPSHOT_COLUMNS = "event_id, sport, bookmaker, market, outcome, price, snapshot_time, two_way_h2h"
THIN_HISTORY = 100  # fewer training matches than this: flag ``thin_history``
SET_NAMES: tuple[str, ...] = tuple(PREDICTION_SETS)
PICK_COLUMNS = {"1": "prob_home", "X": "prob_draw", "2": "prob_away"}
IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")

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
TRAINING_COLUMNS = (
    "match_id, league, season, match_date, home_team_id, away_team_id, home_goals, away_goals"
)


class JackpotError(RuntimeError):
    """A valid coupon that cannot be predicted (e.g. no league history before kickoff)."""


# --------------------------------------------------------------------------------- folders


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
    """``$JACKPOT_JACKPOTS_DIR`` if set, else ``<data_dir>/jackpots`` (``$JACKPOT_DATA_DIR``)."""
    override = os.environ.get(JACKPOTS_DIR_ENV)
    if override:
        return JackpotPaths(Path(override))
    return JackpotPaths((settings or Settings.from_env()).data_dir / "jackpots")


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
    """The bytes with SHA-256 ``checksum``: from the raw layer, else from processed/ or inbox/."""
    folder = raw_dir / RAW_NAMESPACE / checksum[:2]
    candidates = sorted(folder.glob(f"{checksum}*")) if folder.is_dir() else []
    if paths is not None:
        for where in (paths.processed, paths.inbox):
            if where.is_dir():
                candidates += sorted(p for p in where.iterdir() if p.is_file())
    for path in candidates:
        data = path.read_bytes()
        if sha256(data) == checksum:
            return data, path
    raise FileNotFoundError(f"no coupon file with sha256 {checksum} in {folder} or the folders")


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


# ------------------------------------------------------------------------------ validation


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the jackpot tables if missing."""
    con.execute(JACKPOT_SCHEMA_SQL)


def team_leagues(con: duckdb.DuckDBPyConnection) -> dict[str, frozenset[str]]:
    """team_id → league codes it has played in (from ``matches``)."""
    rows = con.execute(
        "SELECT team, list(DISTINCT league) FROM (SELECT home_team_id AS team, league FROM "
        "matches UNION ALL SELECT away_team_id, league FROM matches) GROUP BY team"
    ).fetchall()
    return {team: frozenset(leagues) for team, leagues in rows}


def team_resolver(aliases_path: Path | None = None) -> Resolve:
    """``(name, league) → team_id`` through the alias table (exact, normalized, fuzzy)."""
    resolver = load_aliases() if aliases_path is None else load_aliases(aliases_path)
    return lambda name, league: resolver.resolve(name, league).team_id


def validate_coupon(
    con: duckdb.DuckDBPyConnection, data: bytes, source: str, resolve: Resolve | None = None
) -> ParsedCoupon:
    """Parse and validate coupon bytes; raises :class:`CouponValidationError`."""
    return parse_coupon_bytes(data, source, resolve or team_resolver(), team_leagues(con))


# ---------------------------------------------------------------------------------- plan


@dataclass(frozen=True, eq=False)
class FixturePlan:
    """Everything decided about one fixture before fitting; it fixes the fixture's numbers."""

    fixture: CouponFixture
    league: str
    league_inferred: bool
    match_date: date
    season: str
    training: pd.DataFrame
    since: date
    xi: float
    xi_source: str
    data_version: str
    model_id: str
    calibration: CalibrationCurve | None
    calibration_version: str
    set_params: SetParams
    set_params_default: bool
    set_params_version: str
    market: np.ndarray  # (3,), NaN without odds
    overround: float | None
    max_goals: int
    market_source: str | None = None  # 'coupon', 'odds_snapshot:… @ …' or None
    market_data: dict[str, Any] | None = None  # the snapshot data used (in the version key)

    @property
    def as_of(self) -> date:
        """The fit date: only matches strictly before it are seen."""
        return self.match_date


@dataclass(frozen=True, eq=False)
class JackpotPlan:
    """A validated coupon, its fixture plans and the resulting version."""

    coupon: ParsedCoupon
    source: str
    margin_method: str
    fixtures: tuple[FixturePlan, ...]
    version_key: dict[str, Any]
    version: str


def season_of(day: date) -> str:
    """Season label of a date: ``2025-04-12`` → ``2024-25``, ``2025-08-16`` → ``2025-26``."""
    year = day.year if day.month >= SEASON_START_MONTH else day.year - 1
    return f"{year}-{(year + 1) % 100:02d}"


def fixture_date(kickoff: datetime | date) -> date:
    """Kickoff date: a bare date itself, a datetime's UTC date."""
    if isinstance(kickoff, datetime):
        return kickoff.astimezone(UTC).date()
    return kickoff


def plan_jackpot(
    con: duckdb.DuckDBPyConnection,
    coupon: ParsedCoupon,
    source: str,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> JackpotPlan:
    """Plan every fixture and derive the jackpot version (reads the warehouse, fits nothing).

    ``now`` (default: the clock) is when the prediction is made: odds snapshots stamped later
    are not seen."""
    settings = settings or Settings.from_env()
    now = now or datetime.now(UTC)
    calibration_loader, set_params_loader = calibration_loaders()
    markets = market_probabilities(coupon.fixtures, settings.margin_method)
    plans = []
    for fixture, coupon_market in zip(coupon.fixtures, markets, strict=True):
        market = fixture_market(con, fixture, coupon_market, now)
        match_date = fixture_date(fixture.kickoff)
        league, inferred = fixture_league(con, fixture, match_date)
        season = season_of(match_date)
        training = training_matches(con, league, season, match_date)
        if training.empty:
            raise JackpotError(
                f"row {fixture.row}: no {league} results before {match_date} in the warehouse "
                f"(seasons {first_season(season)} to {season}); ingest the league first"
            )
        since = training["match_date"].min().date()
        xi, xi_source = select_xi(con, league, season, settings.xi)
        data_ver = training_data_version(training)
        curve = calibration_loader(con, league, match_date)
        params = set_params_loader(con, league, match_date)
        plans.append(
            FixturePlan(
                fixture=fixture,
                league=league,
                league_inferred=inferred,
                match_date=match_date,
                season=season,
                training=training,
                since=since,
                xi=xi,
                xi_source=xi_source,
                data_version=data_ver,
                model_id=model_id(league, match_date, since, xi, data_ver, settings.max_goals),
                calibration=curve,
                calibration_version=content_version(curve.to_dict()) if curve else "none",
                set_params=params or SetParams(),
                set_params_default=params is None,
                set_params_version=content_version(set_params_dict(params or SetParams())),
                market=market.probs,
                overround=market.overround,
                max_goals=settings.max_goals,
                market_source=market.source,
                market_data=market.data,
            )
        )
    key = {
        "code_version": CODE_VERSION,
        "coupon_sha256": coupon.content_sha256,
        "margin_method": settings.margin_method,
        "fixtures": [
            {
                "row": p.fixture.row,
                "home_team_id": p.fixture.home_id,
                "away_team_id": p.fixture.away_id,
                "league": p.league,
                "model_id": p.model_id,
                "calibration_version": p.calibration_version,
                "set_params_version": p.set_params_version,
                **({"market": p.market_data} if p.market_data is not None else {}),
            }
            for p in plans
        ],
    }
    return JackpotPlan(
        coupon=coupon,
        source=source,
        margin_method=settings.margin_method,
        fixtures=tuple(plans),
        version_key=key,
        version="jp-" + content_version(key),
    )


def calibration_loaders() -> tuple[
    Callable[[duckdb.DuckDBPyConnection, str, date], CalibrationCurve | None],
    Callable[[duckdb.DuckDBPyConnection, str, date], SetParams | None],
]:
    """``calibration_store.load_calibration`` and ``load_set_params`` (imported lazily), each
    answering None where their tables do not exist yet."""
    from jackpot_pipeline import calibration_store

    def guarded(load: Callable[..., Any]) -> Callable[..., Any]:
        def call(con: duckdb.DuckDBPyConnection, league: str, before: date) -> Any:
            try:
                return load(con, league, before)
            except duckdb.CatalogException:
                return None

        return call

    return (
        guarded(calibration_store.load_calibration),
        guarded(calibration_store.load_set_params),
    )


def fixture_league(
    con: duckdb.DuckDBPyConnection, fixture: CouponFixture, before: date
) -> tuple[str, bool]:
    """The coupon's league, else the league of the home (then away) team's last match."""
    if fixture.league is not None:
        return fixture.league, False
    for team in (fixture.home_id, fixture.away_id):
        row = con.execute(
            "SELECT league FROM matches WHERE (home_team_id = ? OR away_team_id = ?) "
            "AND match_date < ? ORDER BY match_date DESC, match_id LIMIT 1",
            [team, team, before],
        ).fetchone()
        if row is not None:
            return str(row[0]), True
    raise JackpotError(
        f"row {fixture.row}: no league given and neither {fixture.home_id} nor "
        f"{fixture.away_id} has played before {before}; give the league"
    )


def first_season(season: str) -> str:
    """The first season of the training window ending with ``season``."""
    start = int(season[:4]) - HISTORY_SEASONS
    return f"{start}-{(start + 1) % 100:02d}"


def training_matches(
    con: duckdb.DuckDBPyConnection, league: str, season: str, before: date
) -> pd.DataFrame:
    """Played matches of ``league`` in the window's seasons dated strictly before ``before``."""
    frame = con.execute(
        f"SELECT {TRAINING_COLUMNS} FROM matches WHERE league = ? AND season >= ? AND "
        "season <= ? AND match_date < ? AND home_goals IS NOT NULL AND away_goals IS NOT NULL "
        "ORDER BY match_date, match_id",
        [league, first_season(season), season, before],
    ).df()
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    return frame.astype({"home_goals": "int64", "away_goals": "int64"})


def select_xi(
    con: duckdb.DuckDBPyConnection, league: str, season: str, default: float
) -> tuple[float, str]:
    """ξ of the league's latest ``xi_selections`` season ≤ ``season``, else ``default``."""
    if _has_table(con, "xi_selections"):
        row = con.execute(
            "SELECT xi, season FROM xi_selections WHERE league = ? AND season <= ? "
            "ORDER BY season DESC LIMIT 1",
            [league, season],
        ).fetchone()
        if row is not None:
            return float(row[0]), f"xi_selections {league} {row[1]}"
    return float(default), "settings"


def model_id(
    league: str, as_of: date, since: date, xi: float, data_ver: str, max_goals: int
) -> str:
    """``dc1-`` + SHA-256 of a fit's inputs (the fit is deterministic in them)."""
    prior = dataclasses.asdict(DEFAULT_PRIOR)
    key = {
        "model": MODEL_VERSION,
        "league": league,
        "as_of": as_of.isoformat(),
        "since": since.isoformat(),
        "xi": xi,
        "prior": prior,
        "max_goals": max_goals,
        "data_version": data_ver,
    }
    return f"{MODEL_VERSION}-{content_version(key)}"


def content_version(content: object) -> str:
    """First 16 hex digits of the SHA-256 of canonical JSON."""
    text = json.dumps(content, sort_keys=True, default=_json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def set_params_dict(params: SetParams) -> dict[str, Any]:
    """JSON-ready set parameters."""
    return {
        "pooling": params.pooling,
        "model_weight": params.model_weight,
        "temperature": params.temperature,
        "kelly_scale": params.kelly_scale,
        "draw_boost": {str(k): float(v) for k, v in sorted(params.draw_boost.items())},
        "pooled_draw_boost": params.pooled_draw_boost,
        "ensemble_weights": dict(
            zip(MEMBER_NAMES, map(float, params.ensemble_weights), strict=True)
        ),
        "n_train": params.n_train,
        "n_train_with_market": params.n_train_with_market,
    }


def market_probabilities(
    fixtures: Sequence[CouponFixture], method: str
) -> list[tuple[np.ndarray, float | None]]:
    """Margin-free probabilities (NaN without odds) and overround of every fixture."""
    odds = np.array(
        [[f.odds.home, f.odds.draw, f.odds.away] if f.odds else [np.nan] * 3 for f in fixtures],
        dtype=np.float64,
    ).reshape(len(fixtures), 3)
    fair = remove_margin(odds, method)
    return [
        (fair.probabilities[i].copy(), None if f.odds is None else float(fair.overround[i]))
        for i, f in enumerate(fixtures)
    ]


@dataclass(frozen=True, eq=False)
class FixtureMarket:
    """A fixture's margin-free market 1X2 (NaN without one), its overround and its source.

    ``data`` (a market from the odds snapshots only) names the event and each used bookmaker's
    snapshot time and prices; it enters the version key."""

    probs: np.ndarray
    overround: float | None = None
    source: str | None = None
    data: dict[str, Any] | None = None


def fixture_market(
    con: duckdb.DuckDBPyConnection,
    fixture: CouponFixture,
    coupon_market: tuple[np.ndarray, float | None],
    now: datetime,
) -> FixtureMarket:
    """The coupon's odds when given, else the odds snapshots as known at ``now``, else none."""
    probs, overround = coupon_market
    if fixture.odds is not None:
        return FixtureMarket(probs, overround, "coupon")
    return snapshot_market(con, fixture, now) or FixtureMarket(probs)


def snapshot_market(
    con: duckdb.DuckDBPyConnection, fixture: CouponFixture, now: datetime
) -> FixtureMarket | None:
    """A fixture's market 1X2 from the stored odds snapshots (``events`` and ``odds``).

    The event is :func:`fixture_event`. Its h2h rows stamped strictly before the kickoff (the
    earlier of the event's and the coupon's) go through :func:`~jackpot_pipeline.core.odds.
    odds_at` at ``now``: each bookmaker's latest snapshot as known then, nothing stamped later.
    The probabilities are the core's: Pinnacle alone (:func:`~jackpot_pipeline.core.odds.
    pinnacle_probs`, the sharp reference) when its line is usable (complete, plausible
    overround), else the mean over every usable bookmaker (:func:`~jackpot_pipeline.core.odds.
    consensus_probs`); both remove the margin multiplicatively, as ``market_consensus`` does
    (``Settings.margin_method`` applies to coupon odds). The overround is the mean over the
    bookmakers used. None without the tables, a matching event or a usable line.
    """
    if not (_has_table(con, "events") and _has_table(con, "odds")):
        return None
    event = fixture_event(con, fixture)
    if event is None:
        return None
    event_id, commence = event
    kickoff = min(commence, fixture.kickoff) if isinstance(fixture.kickoff, datetime) else commence
    rows = con.execute(
        f"SELECT {SNAPSHOT_COLUMNS} FROM odds WHERE event_id = ? AND market = 'h2h' "
        "AND snapshot_time < ? ORDER BY snapshot_time, bookmaker, outcome",
        [event_id, kickoff],
    ).df()
    rows["snapshot_time"] = pd.to_datetime(rows["snapshot_time"], utc=True)
    rows["two_way_h2h"] = rows["two_way_h2h"].astype(bool)
    board = odds_at(rows, event_id, now)
    # Every bookmaker as its own "event": the usable books and their margin-free lines.
    usable = consensus_probs(board.assign(event_id=board["bookmaker"])).set_index("event_id")
    if usable.empty:
        return None
    sharp = SHARP_BOOKMAKER in usable.index
    chosen = pinnacle_probs(board) if sharp else consensus_probs(board)
    books = [SHARP_BOOKMAKER] if sharp else sorted(usable.index)
    prices = board[board["bookmaker"].isin(books)].pivot_table(
        index="bookmaker", columns="outcome", values="price", aggfunc="first"
    )[["home", "draw", "away"]]
    latest = pd.Timestamp(usable.loc[books, "as_of"].max())
    label = SHARP_BOOKMAKER if sharp else f"consensus({','.join(books)})"
    data = {
        "source": ODDS_SNAPSHOT,
        "event_id": event_id,
        "method": SHARP_BOOKMAKER if sharp else "consensus",
        "bookmakers": {
            book: {
                "snapshot_time": pd.Timestamp(usable.loc[book, "as_of"]).isoformat(),
                "prices": [float(v) for v in prices.loc[book]],
            }
            for book in books
        },
    }
    return FixtureMarket(
        probs=chosen[["home", "draw", "away"]].to_numpy(dtype=np.float64)[0],
        overround=float((1.0 / prices).sum(axis=1).mean() - 1.0),
        source=f"{ODDS_SNAPSHOT}:{label} @ {latest.isoformat()}",
        data=data,
    )


def fixture_event(
    con: duckdb.DuckDBPyConnection, fixture: CouponFixture
) -> tuple[str, datetime] | None:
    """(event id, kickoff) of the odds event of a fixture: same resolved home and away team
    ids, not cancelled, kicking off within ±1 day of the fixture's date (UTC); the closest to
    the coupon's kickoff (an exact match first; noon UTC for a date-only kickoff)."""
    day = fixture_date(fixture.kickoff)
    start = datetime.combine(day - timedelta(days=RESULT_WINDOW_DAYS), time.min, UTC)
    end = datetime.combine(day + timedelta(days=RESULT_WINDOW_DAYS + 1), time.min, UTC)
    found = con.execute(
        "SELECT event_id, commence_time FROM events WHERE home_team_id = ? AND away_team_id = ? "
        "AND commence_time >= ? AND commence_time < ? AND status <> ?",
        [fixture.home_id, fixture.away_id, start, end, EventStatus.CANCELLED.value],
    ).fetchall()
    target = (
        fixture.kickoff
        if isinstance(fixture.kickoff, datetime)
        else datetime.combine(day, time(12), UTC)
    )
    best = min(found, key=lambda e: (abs(e[1] - target), e[1], e[0]), default=None)
    return None if best is None else (str(best[0]), best[1])


# ------------------------------------------------------------------------------- compute


@dataclass(frozen=True, eq=False)
class ComputedJackpot:
    """The rows of a new version, ready to insert."""

    jackpot: pd.DataFrame
    fixtures: pd.DataFrame
    predictions: pd.DataFrame


def compute_jackpot(
    plan: JackpotPlan, raw_path: Path | None = None, now: datetime | None = None
) -> ComputedJackpot:
    """Fit, predict, calibrate and build sets A–G for every fixture of a plan."""
    now = now or datetime.now(UTC)
    fits: dict[str, DixonColesParams] = {}
    fixture_rows, prediction_rows = [], []
    for plan_row in plan.fixtures:
        if plan_row.model_id not in fits:
            fits[plan_row.model_id] = fit(
                plan_row.training,
                plan_row.as_of,
                xi=plan_row.xi,
                since=plan_row.since,
                prior=DEFAULT_PRIOR,
            )
        params = fits[plan_row.model_id]
        row, sets = _fixture_row(plan.version, plan_row, params)
        fixture_rows.append(row)
        prediction_rows += _prediction_rows(plan.version, plan_row, row, sets, now)
    fixtures = pd.DataFrame(fixture_rows)
    fixtures["kickoff_utc"] = pd.to_datetime(fixtures["kickoff_utc"], utc=True)  # NaT: date only
    predictions = pd.DataFrame(prediction_rows)
    jackpot = pd.DataFrame([_jackpot_row(plan, fixtures, raw_path, now)])
    return ComputedJackpot(jackpot, fixtures, predictions)


def _fixture_row(
    version: str, plan: FixturePlan, params: DixonColesParams
) -> tuple[dict[str, Any], dict[str, PredictionSet]]:
    """The ``jackpot_fixtures`` row of one fixture and its sets A–G."""
    fixture = plan.fixture
    forecast = predict(params, [fixture.home_id], [fixture.away_id], max_goals=plan.max_goals)
    raw = np.array([forecast.p_home[0], forecast.p_draw[0], forecast.p_away[0]])
    calibrated = (
        raw / raw.sum()
        if plan.calibration is None
        else apply_calibration(plan.calibration, raw[None, :])[0]
    )
    sets = build_prediction_sets(
        SetInputs(model=calibrated[None, :], market=plan.market[None, :], league=[plan.league]),
        plan.set_params,
    )
    top = forecast.most_likely_score[0]
    index = {team: i for i, team in enumerate(params.teams)}
    strengths = {
        side: (
            (float(params.attack[index[team]]), float(params.defence[index[team]]))
            if team in index
            else (params.fallback_attack, params.fallback_defence)
        )
        for side, team in (("home", fixture.home_id), ("away", fixture.away_id))
    }
    has_market = bool(np.isfinite(plan.market).all())
    row = {
        "jackpot_version": version,
        "match_order": fixture.row,
        "home_team": fixture.home,
        "away_team": fixture.away,
        "home_team_id": fixture.home_id,
        "away_team_id": fixture.away_id,
        "league": plan.league,
        "league_inferred": plan.league_inferred,
        "kickoff": fixture.kickoff.isoformat(),
        "kickoff_utc": fixture.kickoff if isinstance(fixture.kickoff, datetime) else None,
        "match_date": plan.match_date,
        "season": plan.season,
        "odds_home": fixture.odds.home if fixture.odds else None,
        "odds_draw": fixture.odds.draw if fixture.odds else None,
        "odds_away": fixture.odds.away if fixture.odds else None,
        "overround": plan.overround,
        "market_source": plan.market_source,
        **_triple("market_prob", plan.market if has_market else None),
        "model_id": plan.model_id,
        "params_version": params.version,
        "data_version": plan.data_version,
        "model_as_of": params.as_of,
        "training_since": plan.since,
        "n_train_matches": params.n_matches,
        "xi": params.xi,
        "xi_source": plan.xi_source,
        "rho": params.rho,
        "home_advantage": params.home_advantage,
        "converged": params.converged,
        "home_attack": strengths["home"][0],
        "home_defence": strengths["home"][1],
        "away_attack": strengths["away"][0],
        "away_defence": strengths["away"][1],
        "lambda_home": float(forecast.lambda_home[0]),
        "lambda_away": float(forecast.lambda_away[0]),
        **_triple("dc_prob", raw),
        "truncated_mass": float(forecast.truncated_mass[0]),
        "likely_home_goals": int(top[0]),
        "likely_away_goals": int(top[1]),
        "likely_score_prob": float(forecast.grid[0, top[0], top[1]]),
        "calibration_version": plan.calibration_version,
        "calibrated": plan.calibration is not None and not plan.calibration.is_identity,
        **_triple("calibrated_prob", calibrated),
        "set_params_version": plan.set_params_version,
        "flags": json.dumps(_fixture_flags(plan, params, forecast, has_market)),
    }
    return row, sets


def _fixture_flags(
    plan: FixturePlan, params: DixonColesParams, forecast: Any, has_market: bool
) -> list[str]:
    """Why a fixture's numbers deserve a second look."""
    fixture = plan.fixture
    checks = [
        ("uncalibrated", plan.calibration is None or plan.calibration.is_identity),
        ("default_set_params", plan.set_params_default),
        ("no_market_odds", not has_market),
        ("market_from_odds_snapshot", plan.market_data is not None),
        ("league_inferred", plan.league_inferred),
        ("date_only_kickoff", not isinstance(fixture.kickoff, datetime)),
        ("home_team_unseen", bool(forecast.home_fallback[0])),
        ("away_team_unseen", bool(forecast.away_fallback[0])),
        ("home_team_new_to_league", fixture.home_id in params.newcomers),
        ("away_team_new_to_league", fixture.away_id in params.newcomers),
        ("not_converged", not params.converged),
        ("thin_history", params.n_matches < THIN_HISTORY),
    ]
    return [name for name, on in checks if on]


def _prediction_rows(
    version: str,
    plan: FixturePlan,
    fixture_row: Mapping[str, Any],
    sets: Mapping[str, PredictionSet],
    now: datetime,
) -> list[dict[str, Any]]:
    """The seven ``predictions`` rows (sets A–G) of one fixture."""
    model = np.array([fixture_row[f"calibrated_prob_{k}"] for k in ("home", "draw", "away")])
    has_market = bool(np.isfinite(plan.market).all())
    rows = []
    for name in SET_NAMES:
        built = sets[name]
        probs = built.probs[0]
        fell_back = bool(built.fell_back_to_a[0])
        alpha, detail = _set_detail(name, plan, model, fell_back)
        rows.append(
            {
                "jackpot_version": version,
                "match_order": plan.fixture.row,
                "set_id": name,
                "model_id": plan.model_id,
                **_triple("prob", probs),
                "pick": OUTCOME_CODES[int(np.argmax(probs))],
                "entropy": float(built.entropy[0]),
                "lambda_home": fixture_row["lambda_home"],
                "lambda_away": fixture_row["lambda_away"],
                **_triple("model_prob", model),
                **_triple("market_prob", plan.market if has_market else None),
                "blend_alpha": alpha,
                "fell_back_to_a": fell_back,
                "detail": json.dumps(detail, sort_keys=True),
                "created_at": now,
            }
        )
    return rows


def _set_detail(
    name: str, plan: FixturePlan, model: np.ndarray, fell_back: bool
) -> tuple[float | None, dict[str, Any]]:
    """(model weight where one applies, the set's parameters for this fixture)."""
    params = plan.set_params
    if fell_back:
        return 1.0, {"fell_back_to_a": True, "reason": "no market odds"}
    if name == "A":
        return 1.0, {"formula": "calibrated model"}
    if name in ("B", "E"):
        detail: dict[str, Any] = {"model_weight": params.model_weight, "pooling": params.pooling}
        if name == "E":
            detail["temperature"] = params.temperature
        return params.model_weight, detail
    if name == "C":
        return MARKET_DOMINANT_MODEL_WEIGHT, {
            "model_weight": MARKET_DOMINANT_MODEL_WEIGHT,
            "pooling": params.pooling,
        }
    if name == "D":
        scope = plan.league if plan.league in params.draw_boost else "pooled"
        strength = params.draw_boost.get(plan.league, params.pooled_draw_boost)
        return 1.0, {"draw_boost": float(strength), "draw_boost_scope": scope}
    if name == "F":
        share = np.minimum(1.0, params.kelly_scale * kelly_fraction(model, plan.market))
        return None, {
            "kelly_scale": params.kelly_scale,
            "model_share": [float(v) for v in share],
        }
    weights = dict(zip(MEMBER_NAMES, map(float, params.ensemble_weights), strict=True))
    return None, {"ensemble_weights": weights}


def _jackpot_row(
    plan: JackpotPlan, fixtures: pd.DataFrame, raw_path: Path | None, now: datetime
) -> dict[str, Any]:
    """The ``jackpots`` row of a new version."""
    flags = sorted({flag for text in fixtures["flags"] for flag in json.loads(text)})
    calibrations = {
        p.calibration_version: _curve_summary(p.calibration)
        for p in plan.fixtures
        if p.calibration is not None
    }
    set_params = {p.set_params_version: set_params_dict(p.set_params) for p in plan.fixtures}
    coupon = plan.coupon
    return {
        "jackpot_version": plan.version,
        "coupon_id": coupon.id,
        "coupon_name": coupon.name,
        "content_sha256": coupon.content_sha256,
        "source": plan.source,
        "raw_path": None if raw_path is None else str(raw_path),
        "n_fixtures": len(plan.fixtures),
        "leagues": ",".join(sorted({p.league for p in plan.fixtures})),
        "model_version": json.dumps(sorted({p.model_id for p in plan.fixtures})),
        "data_version": content_version(sorted({p.data_version for p in plan.fixtures})),
        "calibration_version": content_version(
            sorted({p.calibration_version for p in plan.fixtures})
        ),
        "set_params_version": content_version(
            sorted({p.set_params_version for p in plan.fixtures})
        ),
        "code_version": CODE_VERSION,
        "margin_method": plan.margin_method,
        "version_key": json.dumps(plan.version_key, sort_keys=True),
        "calibrations": json.dumps(calibrations, sort_keys=True),
        "set_params": json.dumps(set_params, sort_keys=True),
        "flags": json.dumps(flags),
        "notes": json.dumps(list(coupon.notes)),
        "status": "finalized",
        "created_at": now,
        "finalized_at": now,
    }


def _curve_summary(curve: CalibrationCurve) -> dict[str, Any]:
    """The mapping of a calibration curve (breakpoints per outcome), without reliability."""
    return {
        "scope": curve.scope,
        "trained_on_end": None if curve.trained_on_end is None else str(curve.trained_on_end),
        "n_samples": curve.n_samples,
        "is_identity": curve.is_identity,
        "outcomes": {c.outcome: {"x": list(c.x), "y": list(c.y)} for c in curve.outcomes},
    }


def _triple(prefix: str, values: Sequence[float] | np.ndarray | None) -> dict[str, float | None]:
    """``{prefix}_home/draw/away`` columns."""
    keys = (f"{prefix}_home", f"{prefix}_draw", f"{prefix}_away")
    if values is None:
        return dict.fromkeys(keys)
    return {key: float(v) for key, v in zip(keys, values, strict=True)}


# ------------------------------------------------------------------------------- storage


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
    """The outcome of :func:`predict_coupon`: the stored version and whether it is new."""

    coupon: ParsedCoupon
    stored: StoredJackpot
    created: bool

    @property
    def version(self) -> str:
        return self.stored.version


def predict_coupon(
    con: duckdb.DuckDBPyConnection,
    data: bytes,
    source: str,
    *,
    settings: Settings | None = None,
    raw_dir: Path | None = None,
    resolve: Resolve | None = None,
    now: datetime | None = None,
) -> JackpotRun:
    """The one prediction path: keep the bytes in the raw layer, validate, plan, and compute
    and store the version unless it is stored already; returns the stored rows.

    ``now`` (default: the clock) is the prediction's time: its ``created_at`` and the limit of
    the odds snapshots it may read."""
    settings = settings or Settings.from_env()
    now = now or datetime.now(UTC)
    ensure_schema(con)
    raw_path = store_coupon_bytes(raw_dir or settings.raw_dir, data, source)
    coupon = validate_coupon(con, data, source, resolve)
    plan = plan_jackpot(con, coupon, Path(source).name, settings, now)
    created = False
    if not version_exists(con, plan.version):
        created = store_jackpot(con, compute_jackpot(plan, raw_path, now))
    return JackpotRun(coupon, load_jackpot(con, plan.version), created)


# ------------------------------------------------------------------------------- results


def fixture_results(con: duckdb.DuckDBPyConnection, fixtures: pd.DataFrame) -> list[str | None]:
    """Each stored fixture's result (``H``/``D``/``A``) from ``matches``: same league and team
    ids, played within ±1 day of the kickoff date (closest first); None if not played yet."""
    results: list[str | None] = []
    for row in fixtures.itertuples(index=False):
        day = pd.Timestamp(row.match_date).date()
        found = con.execute(
            "SELECT home_goals, away_goals FROM matches WHERE league = ? AND home_team_id = ? "
            "AND away_team_id = ? AND match_date BETWEEN ? AND ? AND home_goals IS NOT NULL "
            "AND away_goals IS NOT NULL ORDER BY abs(date_diff('day', match_date, ?::DATE)) "
            "LIMIT 1",
            [
                row.league,
                row.home_team_id,
                row.away_team_id,
                day - timedelta(days=RESULT_WINDOW_DAYS),
                day + timedelta(days=RESULT_WINDOW_DAYS),
                day,
            ],
        ).fetchone()
        results.append(None if found is None else _result_of(int(found[0]), int(found[1])))
    return results


def read_results_file(
    path: str | Path, fixtures: pd.DataFrame, resolve: Resolve | None = None
) -> list[str | None]:
    """Results from a CSV file, aligned with the stored fixtures (None where absent).

    Columns: ``row`` (the coupon's fixture number) or ``home`` + ``away`` (names as in the
    coupon or any alias), and ``result`` (H/D/A or 1/X/2) or ``home_goals`` + ``away_goals``.
    """
    text = Path(path).read_text(encoding="utf-8-sig")
    records = list(csv.DictReader(io.StringIO(text)))
    resolver = resolve or team_resolver()
    by_row = {int(r.match_order): i for i, r in enumerate(fixtures.itertuples(index=False))}
    results: list[str | None] = [None] * len(fixtures)
    for number, record in enumerate(records, start=1):
        record = {k.strip().lower(): (v or "").strip() for k, v in record.items() if k}
        index = _results_index(record, fixtures, by_row, resolver)
        if index is None:
            raise ValueError(f"{path}: results row {number} matches no fixture: {record}")
        results[index] = _record_result(record, f"{path}: results row {number}")
    return results


def _results_index(
    record: Mapping[str, str],
    fixtures: pd.DataFrame,
    by_row: Mapping[int, int],
    resolve: Resolve,
) -> int | None:
    if record.get("row"):
        return by_row.get(int(record["row"]))
    for i, fixture in enumerate(fixtures.itertuples(index=False)):
        names = (record.get("home", ""), record.get("away", ""))
        written = (fixture.home_team.casefold(), fixture.away_team.casefold())
        if tuple(n.casefold() for n in names) == written:
            return i
        try:
            ids = tuple(resolve(n, fixture.league) for n in names)
        except ValueError:
            continue
        if ids == (fixture.home_team_id, fixture.away_team_id):
            return i
    return None


def _record_result(record: Mapping[str, str], where: str) -> str | None:
    value = record.get("result", "").upper()
    if value:
        result = {"1": "H", "X": "D", "2": "A"}.get(value, value)
        if result not in ("H", "D", "A"):
            raise ValueError(f"{where}: result {value!r} is not H/D/A or 1/X/2")
        return result
    if record.get("home_goals") and record.get("away_goals"):
        return _result_of(int(record["home_goals"]), int(record["away_goals"]))
    return None


def _result_of(home_goals: int, away_goals: int) -> str:
    return "H" if home_goals > away_goals else "D" if home_goals == away_goals else "A"


# -------------------------------------------------------------------------------- report


@dataclass(frozen=True, eq=False)
class JackpotReport:
    """A stored version with its analytics for one budget, and its known results."""

    stored: StoredJackpot
    created: bool
    budget: int
    set_name: str
    results: tuple[str | None, ...]
    analyses: dict[str, SetAnalysis]
    exports: tuple[Path, ...] = field(default=())

    @property
    def version(self) -> str:
        return self.stored.version

    def __str__(self) -> str:
        return self.text()

    @property
    def n_known(self) -> int:
        return sum(r is not None for r in self.results)

    def set_figures(self) -> pd.DataFrame:
        """One row per set: argmax ticket, its P(all correct) and tiers, the combination
        ticket, and with results the score."""
        rows = []
        k = len(self.stored.fixtures)
        for name, analysis in self.analyses.items():
            ticket, combo = analysis.argmax, analysis.combination
            row: dict[str, Any] = {
                "set": name,
                "label": PREDICTION_SETS[name].label,
                "argmax_ticket": " ".join(ticket.codes),
                "p_all_correct": ticket.p_all_correct,
                "expected_correct": ticket.expected_correct,
                **{
                    f"p_at_least_{t}": p
                    for t, p in sorted(ticket.p_at_least.items(), reverse=True)
                    if t < k
                },
                "combination_ticket": " ".join(combo.codes),
                "combination_lines": combo.lines,
                "combination_p_all_correct": combo.p_all_correct,
            }
            if analysis.score is not None and analysis.score.n_known:
                score = analysis.score
                row |= {
                    "n_known": score.n_known,
                    "correct_picks": score.correct_picks,
                    "brier": score.brier,
                    "log_loss": score.log_loss,
                    "argmax_won": score.argmax_won,
                    "combination_won": score.combination_won,
                }
            rows.append(row)
        return pd.DataFrame(rows)

    def fixture_table(self) -> pd.DataFrame:
        """One row per fixture: A, B, G and the chosen set's pick, entropy, flags, result."""
        fixtures = self.stored.fixtures
        chosen = self.stored.predictions[self.stored.predictions["set_id"] == self.set_name]
        chosen = chosen.set_index("match_order")
        rows = []
        for i, row in enumerate(fixtures.itertuples(index=False)):
            pick = chosen.loc[row.match_order]
            line: dict[str, Any] = {
                "#": row.match_order,
                "fixture": f"{row.home_team} v {row.away_team}",
                "league": row.league,
                "kickoff": row.kickoff,
            }
            for name in ("A", "B", "G"):
                line[name] = _probs_text(self.stored.set_probs(name)[i])
            line |= {
                f"pick {self.set_name}": pick["pick"],
                f"p(pick) {self.set_name}": float(pick[PICK_COLUMNS[pick["pick"]]]),
                f"entropy {self.set_name}": float(pick["entropy"]),
                "likely score": f"{row.likely_home_goals}-{row.likely_away_goals}",
                "flags": ", ".join(json.loads(row.flags)),
                "result": self.results[i] or "",
            }
            rows.append(line)
        return pd.DataFrame(rows)

    def markdown(self) -> str:
        """Fixture table and jackpot-level figures in markdown."""
        head = self._header_lines()
        fixtures = self.fixture_table().to_markdown(index=False, floatfmt=".3f")
        figures = self.set_figures().to_markdown(index=False, floatfmt=".4g")
        return "\n".join([*head, "", fixtures, "", "Jackpot figures per set:", "", figures])

    def text(self) -> str:
        """A printable report (for the command line)."""
        head = self._header_lines()
        with pd.option_context("display.width", 200, "display.max_columns", 50):
            fixtures = self.fixture_table().to_string(index=False, float_format="%.3f")
            figures = _formatted(self.set_figures()).set_index("set").T.to_string()
        analysis = self.analyses[self.set_name]
        chosen = [
            f"Set {self.set_name} ({PREDICTION_SETS[self.set_name].label}): argmax ticket "
            f"{' '.join(analysis.argmax.codes)}, P(all correct) = "
            f"{analysis.argmax.p_all_correct:.3g} (1 in {_one_in(analysis.argmax.p_all_correct)})",
            f"Best {analysis.combination.lines}-line ticket for a budget of {self.budget}: "
            f"{' '.join(analysis.combination.codes)}, P(all correct) = "
            f"{analysis.combination.p_all_correct:.3g}",
        ]
        if analysis.score is not None and analysis.score.n_known:
            chosen.append(
                f"Results known for {analysis.score.n_known}/{len(self.results)}: "
                f"{analysis.score.correct_picks} correct picks, argmax ticket won: "
                f"{_won_text(analysis.score.argmax_won)}, combination ticket won: "
                f"{_won_text(analysis.score.combination_won)}"
            )
        return "\n".join([*head, "", fixtures, "", *chosen, "", "All sets:", figures, ""])

    def _header_lines(self) -> list[str]:
        jackpot = self.stored.jackpot
        name = jackpot["coupon_name"] or jackpot["coupon_id"]
        return [
            f"Jackpot {name} — version {self.version} "
            f"({'new' if self.created else 'stored earlier, re-read'})",
            f"Coupon {jackpot['coupon_id']} ({jackpot['source']}, sha256 "
            f"{jackpot['content_sha256'][:12]}…), {jackpot['n_fixtures']} fixtures, leagues "
            f"{jackpot['leagues']}",
            f"Models: {', '.join(json.loads(jackpot['model_version']))}",
            f"Flags: {', '.join(json.loads(jackpot['flags'])) or 'none'}",
            "Probabilities are estimates, not betting advice.",
        ]

    def summary(self) -> dict[str, Any]:
        """JSON-ready report: the version, every fixture's decomposition, every set's
        predictions and figures, results."""
        jackpot = {k: _plain(v) for k, v in self.stored.jackpot.items()}
        for key in ("model_version", "version_key", "calibrations", "set_params", "flags", "notes"):
            jackpot[key] = json.loads(jackpot[key])
        fixtures = []
        for i, row in enumerate(self.stored.fixtures.to_dict(orient="records")):
            record = {k: _plain(v) for k, v in row.items()}
            record["flags"] = json.loads(record["flags"])
            record["result"] = self.results[i]
            sets = self.stored.predictions[
                self.stored.predictions["match_order"] == row["match_order"]
            ]
            record["sets"] = {
                s["set_id"]: {
                    "probs": [s["prob_home"], s["prob_draw"], s["prob_away"]],
                    "pick": s["pick"],
                    "entropy": s["entropy"],
                    "blend_alpha": _plain(s["blend_alpha"]),
                    "fell_back_to_a": bool(s["fell_back_to_a"]),
                    "detail": json.loads(s["detail"]),
                }
                for s in sets.to_dict(orient="records")
            }
            fixtures.append(record)
        figures = [
            {k: _plain(v) for k, v in row.items()}
            for row in self.set_figures().to_dict(orient="records")
        ]
        for row, analysis in zip(figures, self.analyses.values(), strict=True):
            row["correct_distribution"] = list(analysis.argmax.correct_distribution)
            row["p_at_least"] = {str(t): p for t, p in analysis.argmax.p_at_least.items()}
        return {
            "jackpot": jackpot,
            "budget": self.budget,
            "set": self.set_name,
            "results_known": self.n_known,
            "fixtures": fixtures,
            "sets": figures,
            "disclaimer": "Probability estimates, not betting advice.",
        }


def jackpot_report(
    con: duckdb.DuckDBPyConnection,
    run: JackpotRun | StoredJackpot,
    *,
    budget: int = DEFAULT_BUDGET,
    set_name: str = DEFAULT_SET,
    results_file: str | Path | None = None,
    misses: Sequence[int] = DEFAULT_MISSES,
) -> JackpotReport:
    """Analytics of a stored version: results from ``matches``, overridden by a results file."""
    if set_name not in PREDICTION_SETS:
        raise ValueError(f"unknown set {set_name!r}; sets: {', '.join(SET_NAMES)}")
    stored = run.stored if isinstance(run, JackpotRun) else run
    results = fixture_results(con, stored.fixtures)
    if results_file is not None:
        from_file = read_results_file(results_file, stored.fixtures)
        results = [f if f is not None else m for f, m in zip(from_file, results, strict=True)]
    outcomes = results if any(r is not None for r in results) else None
    analyses = analyse_jackpot(stored.probability_sets(), budget, misses, outcomes)
    return JackpotReport(
        stored=stored,
        created=run.created if isinstance(run, JackpotRun) else False,
        budget=budget,
        set_name=set_name,
        results=tuple(results),
        analyses=analyses,
    )


# ------------------------------------------------------------------------------- exports


def export_stem(stored: StoredJackpot) -> str:
    """``<coupon id slug>_<version>``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", str(stored.jackpot["coupon_id"])).strip("-.")
    return f"{slug[:60] or 'coupon'}_{stored.version}"


def write_exports(report: JackpotReport, out_dir: Path) -> tuple[Path, Path]:
    """``<stem>.csv`` (one row per fixture and set, from the stored rows) and ``<stem>.json``
    (:meth:`JackpotReport.summary`), each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = export_stem(report.stored)
    csv_path, json_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.json"
    _atomic_write(csv_path, export_frame(report).to_csv(index=False, float_format="%.10g"))
    _atomic_write(json_path, json.dumps(report.summary(), indent=2, default=_json_default))
    return csv_path, json_path


def export_frame(report: JackpotReport) -> pd.DataFrame:
    """Long export: fixture × set with probabilities, pick, entropy and the decomposition."""
    fixtures = report.stored.fixtures.assign(result=list(report.results))
    keep = [
        "jackpot_version", "match_order", "home_team", "away_team", "home_team_id",
        "away_team_id", "league", "kickoff", "likely_home_goals", "likely_away_goals",
        "dc_prob_home", "dc_prob_draw", "dc_prob_away", "calibrated", "calibration_version",
        "xi", "n_train_matches", "flags", "result",
    ]  # fmt: skip
    fixtures = fixtures[keep]
    predictions = report.stored.predictions.drop(columns=["created_at"])
    frame = fixtures.merge(predictions, on=["jackpot_version", "match_order"])
    return frame.sort_values(["match_order", "set_id"]).reset_index(drop=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------- CLI


def predict_file(
    path: str | Path,
    set_name: str = DEFAULT_SET,
    budget: int = DEFAULT_BUDGET,
    *,
    results_file: str | Path | None = None,
    settings: Settings | None = None,
) -> JackpotReport:
    """``jackpot predict FILE [--set G] [--budget N]``: validate, predict through the asset's
    path (same immutable rows), export, and return the report (print ``report.text()``).

    Raises :class:`CouponValidationError` (print ``error.report()``) for an invalid file."""
    settings = settings or Settings.from_env()
    path = Path(path)
    data = path.read_bytes()
    con = warehouse.connect(settings.warehouse_path)
    try:
        run = predict_coupon(con, data, path.name, settings=settings)
        report = jackpot_report(
            con, run, budget=budget, set_name=set_name, results_file=results_file
        )
    finally:
        con.close()
    exports = write_exports(report, jackpot_paths(settings).out)
    return dataclasses.replace(report, exports=exports)


# ------------------------------------------------------------------------------- helpers


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


def _formatted(frame: pd.DataFrame) -> pd.DataFrame:
    """Floats as 4 significant digits, booleans and None as yes/no/undecided (for text)."""

    def cell(value: Any) -> str:
        if isinstance(value, bool | np.bool_) or value is None:
            return _won_text(None if value is None else bool(value))
        if isinstance(value, float | np.floating):
            return "" if math.isnan(value) else f"{value:.4g}"
        return str(value)

    return frame.map(cell)


def _probs_text(probs: Sequence[float]) -> str:
    return "/".join(f"{p:.2f}" for p in probs)


def _one_in(p: float) -> str:
    return f"{1 / p:,.0f}" if p > 0 else "∞"


def _won_text(won: bool | None) -> str:
    return "undecided" if won is None else "yes" if won else "no"


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar (timestamps and dates as ISO text, NaN as None)."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Collection) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


__all__ = [
    "CODE_VERSION",
    "DEFAULT_BUDGET",
    "DEFAULT_SET",
    "JACKPOT_TABLES",
    "CouponValidationError",
    "JackpotError",
    "JackpotPaths",
    "JackpotPlan",
    "JackpotReport",
    "JackpotRun",
    "StoredJackpot",
    "compute_jackpot",
    "ensure_schema",
    "find_coupon_bytes",
    "fixture_results",
    "inbox_files",
    "jackpot_paths",
    "jackpot_report",
    "jackpot_versions",
    "load_jackpot",
    "plan_jackpot",
    "predict_coupon",
    "predict_file",
    "read_results_file",
    "reject_file",
    "store_coupon_bytes",
    "store_jackpot",
    "team_leagues",
    "team_resolver",
    "validate_coupon",
    "write_exports",
]
