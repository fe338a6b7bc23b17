"""A coupon's jackpot version: validate, plan, version, compute (reads the warehouse only).

1. **Validate** the coupon (:func:`jackpot_pipeline.core.coupon.parse_coupon_bytes`): names go
   through the alias table (:func:`team_resolver`), league history comes from ``matches``.
2. **Plan** every fixture (:func:`plan_jackpot`):

   * league: the coupon's, else the league the home team (then the away team) played its last
     match in before kickoff (flag ``league_inferred``);
   * decision day: the earlier of the kickoff date and the prediction time's date: only
     results before it are used;
   * model (:func:`jackpot_pipeline.services.forecaster.models_for`, the one forecaster): the
     league's walk-forward refit made by the decision day whose block covers the kickoff — the
     stored refit that predicted the walk-forward's matches of that block — or else the
     walk's next refit as of the kickoff date (same window, league prior, season's ξ, warm
     start); ``model_id`` is its ``models.model_id`` (code version, parameters and training
     data version);
   * calibration curve and set parameters from ``calibration_store.load_calibration`` /
     ``load_set_params`` (league, before = kickoff date); None → identity calibration (flag
     ``uncalibrated``, also for an identity curve) and default ``SetParams()`` (flag
     ``default_set_params``); each is identified by the SHA-256 of its content;
   * market (:func:`fixture_market`): the coupon's odds without margin
     (``Settings.margin_method``, Shin by default); for a fixture without coupon odds, the
     collected odds snapshots (:func:`snapshot_market`): the event with the same resolved team
     ids kicking off within ±1 day (the closest kickoff first), its board as known when the
     prediction is made and before kickoff — Pinnacle alone when it has a usable line, else the
     consensus of every usable bookmaker (flag ``market_from_odds_snapshot``); else, for a
     recorded match, football-data's pre-closing line (:func:`recorded_market`); never a
     closing price; none otherwise (flag ``no_market_odds``). ``market_source`` records which.

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

4. **Compute** (only for a new version): the planned model's ``predict``: λ, μ, raw 1X2, most
   likely score; calibration and sets A–G through ``forecaster.deliver`` (the function the
   validation's stored sets come from) with per-set detail (model weight, draw boost,
   temperature, Kelly shares, ensemble weights).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.calibration import NO_CALIBRATION, CalibrationCurve
from jackpot_pipeline.core.coupon import CouponFixture, ParsedCoupon, Resolve, parse_coupon_bytes
from jackpot_pipeline.core.decision_market import DECISION_SOURCES, choose_market
from jackpot_pipeline.core.dixon_coles import DixonColesParams, predict
from jackpot_pipeline.core.jackpot_analytics import OUTCOME_CODES
from jackpot_pipeline.core.margins import remove_margin
from jackpot_pipeline.core.odds import EventStatus, consensus_probs, odds_at, pinnacle_probs
from jackpot_pipeline.core.prediction_sets import (
    MARKET_DOMINANT_MODEL_WEIGHT,
    MEMBER_NAMES,
    PredictionSet,
    SetParams,
    kelly_fraction,
)
from jackpot_pipeline.core.seasons import season_of
from jackpot_pipeline.core.teams import ALIASES_PATH
from jackpot_pipeline.core.walk_forward import BlockFit
from jackpot_pipeline.services import forecaster, warehouse
from jackpot_pipeline.services.calibration_store import load_triples
from jackpot_pipeline.services.jackpot_store import SET_NAMES, ComputedJackpot
from jackpot_pipeline.settings import Settings

CODE_VERSION = "jackpots/2"  # in every version key: bump it when the numbers' logic changes
RESULT_WINDOW_DAYS = 1  # a result or odds event is matched within ±1 day of the kickoff date
ODDS_SNAPSHOT = "odds_snapshot"  # market_source prefix of a market from the odds snapshots
SHARP_BOOKMAKER = "pinnacle"  # preferred alone over the consensus when it has a usable line
SNAPSHOT_COLUMNS = "event_id, sport, bookmaker, market, outcome, price, snapshot_time, two_way_h2h"
THIN_HISTORY = 100  # fewer training matches than this: flag ``thin_history``


class JackpotError(RuntimeError):
    """A valid coupon that cannot be predicted (e.g. no league history before kickoff)."""


# ------------------------------------------------------------------------------ validation


def team_leagues(con: duckdb.DuckDBPyConnection) -> dict[str, frozenset[str]]:
    """team_id → league codes it has played in (from ``matches``)."""
    rows = con.execute(
        "SELECT team, list(DISTINCT league) FROM (SELECT home_team_id AS team, league FROM "
        "matches UNION ALL SELECT away_team_id, league FROM matches) GROUP BY team"
    ).fetchall()
    return {team: frozenset(leagues) for team, leagues in rows}


def team_resolver(
    aliases_path: Path | None = None, con: duckdb.DuckDBPyConnection | None = None
) -> Resolve:
    """``(name, league) →`` the club's resolution through the alias table (exact, normalized,
    fuzzy; its score is reported for fuzzy matches), plus the football-data names of the clubs in
    ``teams`` when a connection is given."""
    from jackpot_pipeline.services.team_names import warehouse_resolver

    return warehouse_resolver(con, aliases_path or ALIASES_PATH).resolve


def validate_coupon(
    con: duckdb.DuckDBPyConnection, data: bytes, source: str, resolve: Resolve | None = None
) -> ParsedCoupon:
    """Parse and validate coupon bytes; raises :class:`CouponValidationError`."""
    resolve = resolve or team_resolver(con=con)
    return parse_coupon_bytes(data, source, resolve, team_leagues(con))


# ---------------------------------------------------------------------------------- plan


@dataclass(frozen=True, eq=False)
class FixturePlan:
    """Everything decided about one fixture before fitting; it fixes the fixture's numbers."""

    fixture: CouponFixture
    league: str
    league_inferred: bool
    match_date: date
    season: str
    decision_day: date
    model: BlockFit
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
    latest_result: date | None = None  # the league's latest result before kickoff
    stale_history: bool = False  # kickoff > Settings.stale_history_days after latest_result
    members: forecaster.MemberInputs | None = None  # set A's other members and their stack

    @property
    def as_of(self) -> date:
        """The model's as-of date: only matches strictly before it are seen."""
        return self.model.params.as_of


@dataclass(frozen=True, eq=False)
class JackpotPlan:
    """A validated coupon, its fixture plans and the resulting version."""

    coupon: ParsedCoupon
    source: str
    margin_method: str
    fixtures: tuple[FixturePlan, ...]
    version_key: dict[str, Any]
    version: str


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
    located = [locate(con, fixture, now) for fixture in coupon.fixtures]
    try:
        models = forecaster.models_for(
            con,
            [
                (league, day, fixture_date(fixture.kickoff))
                for fixture, (league, _, day) in zip(coupon.fixtures, located, strict=True)
            ],
        )
    except forecaster.NoHistory as error:
        raise JackpotError(f"{error}; ingest the league first") from error
    member_inputs = forecaster.member_inputs(
        con,
        [
            (league, day, f.home_id, f.away_id, models[(league, day, fixture_date(f.kickoff))])
            for f, (league, _, day) in zip(coupon.fixtures, located, strict=True)
        ],
    )
    plans = []
    for fixture, coupon_market, (league, inferred, day), members in zip(
        coupon.fixtures, markets, located, member_inputs, strict=True
    ):
        market = fixture_market(con, fixture, coupon_market, now, settings.margin_method)
        match_date = fixture_date(fixture.kickoff)
        season = season_of(match_date)
        block = models[(league, day, match_date)]
        curve = calibration_loader(con, league, match_date)
        params = set_params_loader(con, league, match_date)
        plans.append(
            FixturePlan(
                fixture=fixture,
                league=league,
                league_inferred=inferred,
                match_date=match_date,
                season=season,
                decision_day=day,
                model=block,
                since=pd.Timestamp(np.datetime64(int(block.since), "D")).date(),
                xi=block.params.xi,
                xi_source=f"walk-forward {league} {block.season}",
                data_version=block.data_version,
                model_id=block.model_id,
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
                members=members,
                **history_freshness(con, league, match_date, settings.stale_history_days),
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
                **({"members": p.members.version_key()} if p.members is not None else {}),
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


def history_freshness(
    con: duckdb.DuckDBPyConnection, league: str, match_date: date, stale_days: int
) -> dict[str, Any]:
    """``latest_result`` (the league's last played match before ``match_date``) and
    ``stale_history``: the fixture lies more than ``stale_days`` days after it (history has not
    caught up with the season), or the league has no result at all."""
    (latest,) = con.execute(
        "SELECT max(match_date) FROM matches WHERE league = ? AND match_date < ? "
        "AND result IS NOT NULL",
        [league, match_date],
    ).fetchone()
    if latest is None:
        return {"latest_result": None, "stale_history": True}
    return {"latest_result": latest, "stale_history": (match_date - latest).days > stale_days}


def calibration_loaders() -> tuple[
    Callable[[duckdb.DuckDBPyConnection, str, date], CalibrationCurve | None],
    Callable[[duckdb.DuckDBPyConnection, str, date], SetParams | None],
]:
    """``calibration_store.load_calibration`` and ``load_set_params`` (imported lazily), each
    answering None where their tables do not exist yet."""
    from jackpot_pipeline.services import calibration_store

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


def locate(
    con: duckdb.DuckDBPyConnection, fixture: CouponFixture, now: datetime
) -> tuple[str, bool, date]:
    """League (inferred or not) and decision day of a fixture: the earlier of the kickoff date
    and ``now``'s date (the model sees results strictly before it)."""
    match_date = fixture_date(fixture.kickoff)
    league, inferred = fixture_league(con, fixture, match_date)
    return league, inferred, min(match_date, now.astimezone(UTC).date())


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


def content_version(content: object) -> str:
    """First 16 hex digits of the SHA-256 of canonical JSON."""
    text = json.dumps(content, sort_keys=True, default=json_default, separators=(",", ":"))
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
    method: str,
) -> FixtureMarket:
    """The coupon's odds when given, else the odds snapshots as known at ``now``, else — when
    ``now`` is on or after the kickoff date (a replay of a past round) — the recorded match's
    football-data pre-closing line (its snapshot time is not recorded, so a prediction made
    before the kickoff day never reads it), else none; never a closing price."""
    probs, overround = coupon_market
    if fixture.odds is not None:
        return FixtureMarket(probs, overround, "coupon")
    replay = now.astimezone(UTC).date() >= fixture_date(fixture.kickoff)
    return (
        snapshot_market(con, fixture, now)
        or (recorded_market(con, fixture, method) if replay else None)
        or FixtureMarket(probs)
    )


def recorded_market(
    con: duckdb.DuckDBPyConnection, fixture: CouponFixture, method: str
) -> FixtureMarket | None:
    """The football-data pre-closing line (``DECISION_SOURCES``) of the recorded match with
    the fixture's team ids within ±1 day of its date; None without one."""
    day = fixture_date(fixture.kickoff)
    found = con.execute(
        "SELECT match_id FROM matches WHERE home_team_id = ? AND away_team_id = ? "
        "AND match_date BETWEEN ? AND ? ORDER BY abs(date_diff('day', match_date, ?)) LIMIT 1",
        [
            fixture.home_id,
            fixture.away_id,
            day - timedelta(days=RESULT_WINDOW_DAYS),
            day + timedelta(days=RESULT_WINDOW_DAYS),
            day,
        ],
    ).fetchone()
    if found is None:
        return None
    chosen = choose_market(load_triples(con, [found[0]]), [found[0]], DECISION_SOURCES, method)
    if chosen["source"].iloc[0] is None:
        return None
    probs = chosen[["p_home", "p_draw", "p_away"]].to_numpy(dtype=np.float64)[0]
    source = str(chosen["source"].iloc[0])
    data = {"source": source, "match_id": str(found[0]), "probs": [float(p) for p in probs]}
    return FixtureMarket(probs, None, f"{source} ({found[0]})", data)


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
    if not (warehouse.table_exists(con, "events") and warehouse.table_exists(con, "odds")):
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


def compute_jackpot(
    plan: JackpotPlan, raw_path: Path | None = None, now: datetime | None = None
) -> ComputedJackpot:
    """Fit, predict, calibrate and build sets A–G for every fixture of a plan."""
    now = now or datetime.now(UTC)
    fixture_rows, prediction_rows = [], []
    for plan_row in plan.fixtures:
        params = plan_row.model.params
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
    model = plan.members.stack(raw)[0] if plan.members is not None else raw
    calibrated, sets = forecaster.deliver(
        model[None, :], plan.market[None, :], [plan.league], plan.calibration, plan.set_params
    )
    calibrated = calibrated[0]
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
        "name_matches": json.dumps([dataclasses.asdict(m) for m in fixture.name_matches]),
        "members": json.dumps(plan.members.describe(raw)) if plan.members is not None else None,
        "latest_result": plan.latest_result,
    }
    return row, sets


def uncalibrated(curve: CalibrationCurve | None) -> bool:
    """No curve, or the identity for want of rows (not the identity chosen by validation)."""
    return curve is None or (curve.is_identity and curve.scope != NO_CALIBRATION)


def _fixture_flags(
    plan: FixturePlan, params: DixonColesParams, forecast: Any, has_market: bool
) -> list[str]:
    """Why a fixture's numbers deserve a second look."""
    fixture = plan.fixture
    checks = [
        ("uncalibrated", uncalibrated(plan.calibration)),
        ("default_set_params", plan.set_params_default),
        ("no_market_odds", not has_market),
        ("market_from_odds_snapshot", (plan.market_source or "").startswith(ODDS_SNAPSHOT)),
        ("league_inferred", plan.league_inferred),
        ("date_only_kickoff", not isinstance(fixture.kickoff, datetime)),
        ("home_team_unseen", bool(forecast.home_fallback[0])),
        ("away_team_unseen", bool(forecast.away_fallback[0])),
        ("home_team_new_to_league", fixture.home_id in params.newcomers),
        ("away_team_new_to_league", fixture.away_id in params.newcomers),
        ("not_converged", not params.converged),
        ("thin_history", params.n_matches < THIN_HISTORY),
        ("stale_history", plan.stale_history),
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


# ------------------------------------------------------------------------------- helpers


def json_default(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Collection) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
