"""The warehouse schema, in one place: every table's DDL as numbered forward migrations.

``migrate`` records each applied migration in ``schema_version`` and applies only the newer ones,
so a warehouse built by an earlier version of the project is upgraded in place, never rebuilt.
Migration 1 is the baseline (``CREATE TABLE IF NOT EXISTS``): a warehouse made before the
version table existed adopts it unchanged. Add a change as a new migration at the end; never
edit one that has shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb


@dataclass(frozen=True)
class Migration:
    """One forward step of the schema."""

    version: int
    description: str
    sql: str


BASELINE_SQL = """
-- normalized layer
CREATE TABLE IF NOT EXISTS leagues (
    code VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    country VARCHAR NOT NULL,
    tier INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS teams (
    team_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    country VARCHAR NOT NULL,
    first_league VARCHAR
);
CREATE TABLE IF NOT EXISTS team_aliases (
    alias VARCHAR PRIMARY KEY,
    team_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ingestion_log (
    ingest_id VARCHAR PRIMARY KEY,
    source VARCHAR NOT NULL,
    league VARCHAR,
    season VARCHAR,
    uri VARCHAR,
    checksum VARCHAR,
    raw_path VARCHAR,
    parser_version VARCHAR NOT NULL,
    rows_loaded INTEGER NOT NULL,
    rows_inserted INTEGER NOT NULL,
    rows_updated INTEGER NOT NULL,
    rows_unchanged INTEGER NOT NULL,
    rows_skipped INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    message VARCHAR,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS matches (
    match_id VARCHAR PRIMARY KEY,
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    match_date DATE NOT NULL,
    kickoff_time VARCHAR,
    kickoff_utc TIMESTAMPTZ,
    home_team VARCHAR NOT NULL,
    away_team VARCHAR NOT NULL,
    home_team_id VARCHAR NOT NULL,
    away_team_id VARCHAR NOT NULL,
    home_goals INTEGER,
    away_goals INTEGER,
    result VARCHAR,
    ht_home_goals INTEGER,
    ht_away_goals INTEGER,
    ht_result VARCHAR,
    source_row INTEGER NOT NULL,
    odds_source VARCHAR,
    odds_home DOUBLE,
    odds_draw DOUBLE,
    odds_away DOUBLE,
    overround DOUBLE,
    margin_method VARCHAR,
    prob_home_market DOUBLE,
    prob_draw_market DOUBLE,
    prob_away_market DOUBLE,
    source_checksum VARCHAR NOT NULL,
    UNIQUE (league, match_date, home_team_id, away_team_id)
);
CREATE TABLE IF NOT EXISTS match_odds (
    match_id VARCHAR NOT NULL,
    bookmaker VARCHAR NOT NULL,
    market VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    phase VARCHAR NOT NULL,
    price DOUBLE NOT NULL,
    PRIMARY KEY (match_id, bookmaker, market, outcome, phase)
);
CREATE TABLE IF NOT EXISTS market_probabilities (
    match_id VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    odds_source VARCHAR NOT NULL,
    prob_home DOUBLE NOT NULL,
    prob_draw DOUBLE NOT NULL,
    prob_away DOUBLE NOT NULL,
    overround DOUBLE NOT NULL,
    PRIMARY KEY (match_id, method),
    CHECK (abs(prob_home + prob_draw + prob_away - 1) < 1e-9)
);
CREATE SEQUENCE IF NOT EXISTS data_quality_log_seq;
CREATE TABLE IF NOT EXISTS data_quality_log (
    id BIGINT PRIMARY KEY DEFAULT nextval('data_quality_log_seq'),
    source VARCHAR NOT NULL,
    league VARCHAR,
    season VARCHAR,
    checksum VARCHAR,
    check_name VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    issue_type VARCHAR NOT NULL,
    match_id VARCHAR,
    row_number INTEGER,
    detail VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    logged_at TIMESTAMPTZ NOT NULL
);
-- The Odds API (jackpot_pipeline/odds_store.py). No URL with a key and no key is ever stored.
-- fetch_log: one row per successful API call (quota bookkeeping; url is redacted, apiKey=***).
CREATE TABLE IF NOT EXISTS fetch_log (
    fetch_id VARCHAR PRIMARY KEY,
    sport VARCHAR,
    endpoint VARCHAR NOT NULL,
    tier VARCHAR,
    requested_at TIMESTAMPTZ NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL,
    http_status INTEGER NOT NULL,
    cost INTEGER NOT NULL,
    quota_remaining INTEGER,
    quota_used INTEGER,
    quota_last INTEGER,
    checksum VARCHAR NOT NULL,
    new_snapshot BOOLEAN NOT NULL,
    url VARCHAR NOT NULL,
    source VARCHAR
);
-- odds_snapshots: one row per distinct response body (raw layer blob) per sport and endpoint.
CREATE TABLE IF NOT EXISTS odds_snapshots (
    checksum VARCHAR NOT NULL,
    sport VARCHAR NOT NULL,
    endpoint VARCHAR NOT NULL,
    league VARCHAR,
    fetched_at TIMESTAMPTZ NOT NULL,
    tier VARCHAR,
    hours_to_commence DOUBLE,
    cost INTEGER NOT NULL,
    quota_remaining INTEGER,
    n_events INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    raw_path VARCHAR NOT NULL,
    source VARCHAR,
    stored_at TIMESTAMPTZ NOT NULL,
    events_loaded_at TIMESTAMPTZ,
    odds_loaded_at TIMESTAMPTZ,
    odds_rows INTEGER,
    PRIMARY KEY (checksum, sport, endpoint)
);
CREATE TABLE IF NOT EXISTS events (
    event_id VARCHAR PRIMARY KEY,
    sport VARCHAR NOT NULL,
    league VARCHAR,
    commence_time TIMESTAMPTZ NOT NULL,
    home_team VARCHAR NOT NULL,
    away_team VARCHAR NOT NULL,
    home_team_id VARCHAR,
    away_team_id VARCHAR,
    status VARCHAR NOT NULL,
    home_score INTEGER,
    away_score INTEGER,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    status_updated_at TIMESTAMPTZ NOT NULL,
    final_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS odds (
    snapshot_checksum VARCHAR NOT NULL,
    row_no INTEGER NOT NULL,
    event_id VARCHAR NOT NULL,
    sport VARCHAR NOT NULL,
    commence_time TIMESTAMPTZ,
    home_team VARCHAR,
    away_team VARCHAR,
    bookmaker VARCHAR NOT NULL,
    market VARCHAR NOT NULL,
    outcome VARCHAR,
    outcome_name VARCHAR,
    price DOUBLE,
    point DOUBLE,
    bookmaker_last_update TIMESTAMPTZ,
    market_last_update TIMESTAMPTZ,
    snapshot_time TIMESTAMPTZ NOT NULL,
    two_way_h2h BOOLEAN NOT NULL,
    PRIMARY KEY (snapshot_checksum, row_no)
);
CREATE TABLE IF NOT EXISTS closing_lines (
    event_id VARCHAR NOT NULL,
    sport VARCHAR NOT NULL,
    commence_time TIMESTAMPTZ,
    bookmaker VARCHAR NOT NULL,
    market VARCHAR NOT NULL,
    outcome VARCHAR,
    outcome_name VARCHAR,
    price DOUBLE,
    point DOUBLE,
    snapshot_time TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS market_consensus (
    event_id VARCHAR PRIMARY KEY,
    sport VARCHAR NOT NULL,
    league VARCHAR,
    commence_time TIMESTAMPTZ,
    home_team_id VARCHAR,
    away_team_id VARCHAR,
    prob_home DOUBLE,
    prob_draw DOUBLE,
    prob_away DOUBLE,
    n_bookmakers INTEGER,
    as_of TIMESTAMPTZ,
    pinnacle_home DOUBLE,
    pinnacle_draw DOUBLE,
    pinnacle_away DOUBLE,
    pinnacle_as_of TIMESTAMPTZ
);

-- model layer
CREATE TABLE IF NOT EXISTS models (
    model_id VARCHAR PRIMARY KEY,
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    model_type VARCHAR NOT NULL,
    as_of DATE NOT NULL,
    training_since DATE NOT NULL,
    n_matches INTEGER NOT NULL,
    xi DOUBLE NOT NULL,
    rho DOUBLE NOT NULL,
    home_advantage DOUBLE NOT NULL,
    log_likelihood DOUBLE NOT NULL,
    converged BOOLEAN NOT NULL,
    iterations INTEGER NOT NULL,
    params_version VARCHAR NOT NULL,
    code_version VARCHAR NOT NULL,
    data_version VARCHAR NOT NULL,
    prior VARCHAR NOT NULL,
    newcomers VARCHAR NOT NULL,
    UNIQUE (league, season, kind)
);
CREATE TABLE IF NOT EXISTS model_team_ratings (
    model_id VARCHAR NOT NULL,
    team_id VARCHAR NOT NULL,
    attack DOUBLE NOT NULL,
    defence DOUBLE NOT NULL,
    PRIMARY KEY (model_id, team_id)
);
CREATE TABLE IF NOT EXISTS xi_selections (
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    xi DOUBLE NOT NULL,
    validation_seasons VARCHAR NOT NULL,
    n_validation_matches INTEGER NOT NULL,
    scores VARCHAR NOT NULL,
    PRIMARY KEY (league, season)
);
CREATE TABLE IF NOT EXISTS oos_predictions (
    match_id VARCHAR PRIMARY KEY,
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    match_date DATE NOT NULL,
    as_of DATE NOT NULL,
    lambda_home DOUBLE NOT NULL,
    lambda_away DOUBLE NOT NULL,
    p_home DOUBLE NOT NULL,
    p_draw DOUBLE NOT NULL,
    p_away DOUBLE NOT NULL,
    xi DOUBLE NOT NULL,
    model_version VARCHAR NOT NULL,
    n_train_matches INTEGER NOT NULL,
    converged BOOLEAN NOT NULL,
    home_fallback BOOLEAN NOT NULL,
    away_fallback BOOLEAN NOT NULL,
    CHECK (abs(p_home + p_draw + p_away - 1) < 1e-6)
);

-- calibration and validation
CREATE TABLE IF NOT EXISTS calibration_curves (
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    selected BOOLEAN NOT NULL,
    trained_on_start DATE,
    trained_on_end DATE,
    trained_seasons VARCHAR NOT NULL,
    n_samples INTEGER NOT NULL,
    is_identity BOOLEAN NOT NULL,
    curve VARCHAR NOT NULL,
    breakpoints VARCHAR NOT NULL,
    bins VARCHAR NOT NULL,
    PRIMARY KEY (league, season, scope)
);
CREATE TABLE IF NOT EXISTS prediction_set_params (
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    pooling VARCHAR NOT NULL,
    trained_on_start DATE,
    trained_on_end DATE,
    trained_seasons VARCHAR NOT NULL,
    n_train INTEGER NOT NULL,
    n_train_with_market INTEGER NOT NULL,
    model_weight DOUBLE NOT NULL,
    temperature DOUBLE NOT NULL,
    kelly_scale DOUBLE NOT NULL,
    draw_boost DOUBLE NOT NULL,
    ensemble_weights VARCHAR NOT NULL,
    params VARCHAR NOT NULL,
    PRIMARY KEY (league, season)
);
CREATE TABLE IF NOT EXISTS prediction_sets (
    match_id VARCHAR NOT NULL,
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    match_date DATE NOT NULL,
    set_name VARCHAR NOT NULL,
    p_home DOUBLE NOT NULL,
    p_draw DOUBLE NOT NULL,
    p_away DOUBLE NOT NULL,
    entropy DOUBLE NOT NULL,
    fell_back_to_a BOOLEAN NOT NULL,
    PRIMARY KEY (match_id, set_name),
    CHECK (p_home > 0 AND p_home < 1 AND p_draw > 0 AND p_draw < 1 AND p_away > 0 AND p_away < 1),
    CHECK (abs(p_home + p_draw + p_away - 1) <= 1e-9)
);
CREATE TABLE IF NOT EXISTS validation_results (
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    forecast VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    n INTEGER NOT NULL,
    brier DOUBLE NOT NULL,
    log_loss DOUBLE NOT NULL,
    rps DOUBLE NOT NULL,
    accuracy DOUBLE NOT NULL,
    ece_home DOUBLE NOT NULL,
    ece_draw DOUBLE NOT NULL,
    ece_away DOUBLE NOT NULL,
    outcomes VARCHAR NOT NULL,
    reliability VARCHAR NOT NULL,
    PRIMARY KEY (league, season, forecast)
);

-- jackpots
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

NAME_MATCHES_SQL = """
-- JSON list of the fixture's team names resolved only approximately (fuzzy):
-- [{"side", "written", "matched", "team_id", "score"}]; '[]' when every name matched exactly.
ALTER TABLE jackpot_fixtures ADD COLUMN IF NOT EXISTS name_matches VARCHAR DEFAULT '[]';
"""

BACKTEST_SQL = """
-- One row per backtest configuration (run_id = hash of the configuration): headline figures,
-- the configuration, every metric and the breakdowns as JSON, the equity-curve PNG.
CREATE TABLE IF NOT EXISTS backtest_runs (
    run_id VARCHAR PRIMARY KEY,
    strategy VARCHAR NOT NULL,
    params VARCHAR NOT NULL,
    config VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    stake_method VARCHAR NOT NULL,
    n_bets INTEGER NOT NULL,
    stake DOUBLE NOT NULL,
    profit DOUBLE NOT NULL,
    roi DOUBLE,
    roi_low DOUBLE,
    roi_high DOUBLE,
    clv_mean DOUBLE,
    max_drawdown DOUBLE NOT NULL,
    max_drawdown_pct DOUBLE NOT NULL,
    summary VARCHAR NOT NULL,
    breakdowns VARCHAR NOT NULL,
    plot_path VARCHAR,
    created_at TIMESTAMPTZ NOT NULL
);
-- One row per bet of a run, in settlement order.
CREATE TABLE IF NOT EXISTS backtest_bets (
    run_id VARCHAR NOT NULL,
    bet_no INTEGER NOT NULL,
    match_id VARCHAR NOT NULL,
    league VARCHAR,
    season VARCHAR,
    kickoff TIMESTAMPTZ NOT NULL,
    decision_at TIMESTAMPTZ NOT NULL,
    settle_at TIMESTAMPTZ NOT NULL,
    home_team VARCHAR,
    away_team VARCHAR,
    market VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    bookmaker VARCHAR NOT NULL,
    price DOUBLE NOT NULL,
    probability DOUBLE NOT NULL,
    edge DOUBLE NOT NULL,
    stake DOUBLE NOT NULL,
    result VARCHAR NOT NULL,
    profit DOUBLE NOT NULL,
    bankroll_after DOUBLE NOT NULL,
    clv DOUBLE,
    rationale VARCHAR NOT NULL,
    PRIMARY KEY (run_id, bet_no),
    CHECK (result IN ('won', 'lost', 'void')),
    CHECK (price > 1 AND stake > 0)
);
"""

#: Issue 12 (one forecaster at decision time): each delivered set row records its decision
#: instant, which market it used (football-data pre-closing for history) and that market's
#: margin-free probabilities; every grid ξ's walk-forward log loss per league and season.
DECISION_TIME_SQL = """
ALTER TABLE prediction_sets ADD COLUMN decision_at TIMESTAMP;
ALTER TABLE prediction_sets ADD COLUMN market_source VARCHAR;
ALTER TABLE prediction_sets ADD COLUMN market_home DOUBLE;
ALTER TABLE prediction_sets ADD COLUMN market_draw DOUBLE;
ALTER TABLE prediction_sets ADD COLUMN market_away DOUBLE;
CREATE TABLE IF NOT EXISTS xi_scores (
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    xi DOUBLE NOT NULL,
    n INTEGER NOT NULL,
    log_loss DOUBLE NOT NULL,
    PRIMARY KEY (league, season, xi)
);
"""

STAGE_FINGERPRINTS_SQL = """
-- What each stage last computed a partition from (services.fingerprints): SHA-256 of the op,
-- its code version, the settings and the input data; a partition whose fingerprint is
-- unchanged is skipped. League and season are '' for unpartitioned assets.
CREATE TABLE IF NOT EXISTS stage_fingerprints (
    op VARCHAR NOT NULL,
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,
    run_id VARCHAR,
    recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (op, league, season)
);
"""

#: Issue 13 (stacked members): every member's walk-forward forecast per match (the odds-ratings
#: variants and Elo; Dixon-Coles stays in oos_predictions), the stack's choices per season (odds
#: variant, pool form, weights and intercepts — each chosen on earlier seasons) and the stacked
#: forecast that is set A's input; each jackpot fixture's member forecasts.
MEMBERS_SQL = """
CREATE TABLE IF NOT EXISTS member_predictions (
    match_id VARCHAR NOT NULL,
    member VARCHAR NOT NULL,
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    match_date DATE NOT NULL,
    as_of DATE NOT NULL,
    p_home DOUBLE NOT NULL,
    p_draw DOUBLE NOT NULL,
    p_away DOUBLE NOT NULL,
    PRIMARY KEY (match_id, member),
    CHECK (abs(p_home + p_draw + p_away - 1) < 1e-6)
);
CREATE TABLE IF NOT EXISTS stack_choices (
    season VARCHAR PRIMARY KEY,
    odds_variant VARCHAR NOT NULL,
    variant_scores VARCHAR NOT NULL,
    members VARCHAR NOT NULL,
    weights VARCHAR NOT NULL,
    form VARCHAR NOT NULL,
    form_scores VARCHAR NOT NULL,
    bias VARCHAR NOT NULL,
    n_train INTEGER NOT NULL,
    train_log_loss DOUBLE,
    version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS stacked_predictions (
    match_id VARCHAR PRIMARY KEY,
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    match_date DATE NOT NULL,
    as_of DATE NOT NULL,
    source VARCHAR NOT NULL,
    p_home DOUBLE NOT NULL,
    p_draw DOUBLE NOT NULL,
    p_away DOUBLE NOT NULL,
    CHECK (abs(p_home + p_draw + p_away - 1) < 1e-6)
);
ALTER TABLE jackpot_fixtures ADD COLUMN IF NOT EXISTS members VARCHAR;
"""

NESTED_PRIOR_SQL = """
CREATE TABLE IF NOT EXISTS prior_selections (
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    precision DOUBLE NOT NULL,
    newcomer_attack DOUBLE NOT NULL,
    newcomer_defence DOUBLE NOT NULL,
    newcomer_seasons INTEGER NOT NULL,
    validation_seasons VARCHAR NOT NULL,
    n_validation_matches INTEGER NOT NULL,
    scores VARCHAR NOT NULL,
    PRIMARY KEY (league, season)
);
CREATE TABLE IF NOT EXISTS precision_scores (
    league VARCHAR NOT NULL,
    season VARCHAR NOT NULL,
    precision DOUBLE NOT NULL,
    n INTEGER NOT NULL,
    log_loss DOUBLE NOT NULL,
    PRIMARY KEY (league, season, precision)
);
ALTER TABLE calibration_curves ADD COLUMN selection_log_loss DOUBLE;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "baseline: normalized, model, calibration and jackpot tables", BASELINE_SQL),
    Migration(2, "jackpot_fixtures.name_matches: fuzzy-resolved team names", NAME_MATCHES_SQL),
    Migration(
        3,
        "jackpot_fixtures.latest_result: the league's latest result before kickoff "
        "(stale_history flag)",
        "ALTER TABLE jackpot_fixtures ADD COLUMN IF NOT EXISTS latest_result DATE;",
    ),
    Migration(4, "backtests: backtest_runs and backtest_bets", BACKTEST_SQL),
    Migration(5, "decision time: prediction_sets market input, xi_scores", DECISION_TIME_SQL),
    Migration(6, "stage fingerprints for incremental reruns", STAGE_FINGERPRINTS_SQL),
    Migration(7, "stacked members: member forecasts, stack choices, set A input", MEMBERS_SQL),
    Migration(
        8,
        "nested choices: prior_selections, precision_scores, calibration selection_log_loss",
        NESTED_PRIOR_SQL,
    ),
)

VERSION_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);
"""


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest applied migration (0 for a warehouse without a version table)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    return int(con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration newer than the warehouse's version, each in its own transaction;
    returns the versions applied (none when the schema is current)."""
    applied: list[int] = []
    if current_version(con) >= MIGRATIONS[-1].version:
        return applied
    con.execute(VERSION_TABLE_SQL)
    for migration in MIGRATIONS:
        if migration.version <= current_version(con):
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                [migration.version, migration.description, datetime.now(UTC)],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
