"""Ingestion into a real DuckDB file: raw layer, idempotence, updates, broken files, strict
mode, rollback and the stored market probabilities.

A module fixture ingests the real 2023-24 Premier League file once into a warehouse + raw
store in a temporary folder; each test works on its own copy of that folder.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core.football_data import FootballDataError, parse_football_data
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.services.ingestion import PARSER_VERSION, IngestSummary, ingest, ingest_id
from jackpot_pipeline.services.partition_guard import PartitionRefusedError
from jackpot_pipeline.services.raw_store import blob_path
from jackpot_pipeline_tests._corpus import (
    BASE_CODE,
    BASE_LEAGUE,
    BASE_SEASON,
    DATE_ROW,
    DUPLICATE_ROW,
    GOALS_ROW,
    LATIN1_ROW,
    BrokenCase,
    TmpWarehouse,
    broken_corpus,
    cell,
    copy_state,
    dump_tables,
    make_request,
    manifest_row,
    real_bytes,
    set_cell,
    sha256,
    snapshot_dir,
)

N = manifest_row(BASE_CODE, BASE_LEAGUE).rows  # 380
CORPUS = broken_corpus()
MATCH_TABLES = ("matches", "match_odds", "market_probabilities", "teams")
CHANGED_ROW = GOALS_ROW  # West Ham 3-1 Chelsea (H): 4-1 keeps FTR consistent
CHANGED_ID = "E0-20230820-eng-west-ham-eng-chelsea"


@dataclass
class State(TmpWarehouse):
    """A warehouse file and raw folder (copied from the module baseline)."""

    def ingest(self, data: bytes, **kwargs) -> IngestSummary:
        con = warehouse.connect(self.db)
        try:
            return ingest(con, make_request(data, self.raw, **kwargs))
        finally:
            con.close()

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return self.frame(sql, params)

    def dump(self) -> dict[str, list[tuple]]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return dump_tables(con)
        finally:
            con.close()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, IngestSummary]:
    root = tmp_path_factory.mktemp("baseline")
    summary = State(root).ingest(real_bytes())
    return root, summary


@pytest.fixture
def state(baseline, tmp_path) -> Iterator[State]:
    copy_state(baseline[0], tmp_path / "state")
    yield State(tmp_path / "state")


def _assert_consistent(state: State) -> None:
    """No orphans: child rows belong to stored matches; every priced match has 4 methods."""
    orphans = state.query(
        "SELECT count(*) AS n FROM (SELECT match_id FROM match_odds UNION ALL "
        "SELECT match_id FROM market_probabilities) WHERE match_id NOT IN "
        "(SELECT match_id FROM matches)"
    )
    assert orphans["n"].iloc[0] == 0
    priced = state.query(
        "SELECT m.match_id, count(p.method) AS methods FROM matches m "
        "LEFT JOIN market_probabilities p USING (match_id) "
        "WHERE m.odds_source IS NOT NULL GROUP BY m.match_id"
    )
    assert (priced["methods"] == 4).all()
    dups = state.query(
        "SELECT count(*) - count(DISTINCT match_id) AS n FROM matches WHERE league = ? "
        "AND season = ?",
        [BASE_LEAGUE, BASE_SEASON],
    )
    assert dups["n"].iloc[0] == 0


# ---------------------------------------------------------------------------------------------
# (a) first load, (b) same bytes again, (c) a corrected file
# ---------------------------------------------------------------------------------------------


def test_first_ingest_loads_every_row_and_stores_the_raw_blob(baseline, state):
    data = real_bytes()
    checksum = sha256(data)
    assert checksum == manifest_row(BASE_CODE, BASE_LEAGUE).sha256
    summary = baseline[1]
    assert summary.status == "loaded"
    assert (summary.rows_loaded, summary.rows_inserted) == (N, N)
    assert (summary.rows_updated, summary.rows_unchanged, summary.rows_skipped) == (0, 0, 0)

    matches = state.query("SELECT * FROM matches")
    assert len(matches) == N
    assert set(matches["league"]) == {BASE_LEAGUE} and set(matches["season"]) == {BASE_SEASON}
    assert set(matches["source_checksum"]) == {checksum}
    parsed = parse_football_data(data, BASE_LEAGUE, BASE_SEASON)
    assert sorted(matches["match_id"]) == sorted(parsed.matches["match_id"])
    odds = state.query("SELECT count(*) AS n FROM match_odds")["n"].iloc[0]
    assert odds == summary.odds_rows == len(parsed.odds)
    assert len(state.query("SELECT * FROM teams")) == 20

    log = state.query("SELECT * FROM ingestion_log")
    assert len(log) == 1
    row = log.iloc[0]
    assert row["status"] == "loaded"
    assert row["ingest_id"] == ingest_id(make_request(data, state.raw), checksum)
    assert (row["checksum"], row["parser_version"]) == (checksum, PARSER_VERSION)
    assert (row["rows_loaded"], row["rows_inserted"]) == (N, N)
    assert (row["rows_updated"], row["rows_unchanged"], row["rows_skipped"]) == (0, 0, 0)

    blob = blob_path(state.raw, "football-data", checksum, ".csv")
    assert row["raw_path"] == str(blob_path(baseline[0] / "raw", "football-data", checksum, ".csv"))
    assert blob.name == f"{checksum}.csv" and blob.parent.name == checksum[:2]
    assert blob.read_bytes() == data
    assert stat.S_IMODE(blob.stat().st_mode) & 0o222 == 0  # read-only
    assert list(snapshot_dir(state.raw)) == [str(blob.relative_to(state.raw))]
    _assert_consistent(state)


def test_same_bytes_again_change_nothing(state):
    before, raw_before = state.dump(), snapshot_dir(state.raw)
    assert set(before) >= {"matches", "match_odds", "ingestion_log", "data_quality_log"}
    summary = state.ingest(real_bytes())
    assert summary.status == "unchanged"
    assert (summary.rows_inserted, summary.rows_updated, summary.rows_unchanged) == (0, 0, N)
    assert state.dump() == before
    assert snapshot_dir(state.raw) == raw_before


def test_a_corrected_goal_updates_one_row_and_keeps_the_old_blob(state):
    original = real_bytes()
    assert cell(original, CHANGED_ROW, "FTHG") == b"3"
    changed = set_cell(original, CHANGED_ROW, "FTHG", b"4")
    raw_before = snapshot_dir(state.raw)

    summary = state.ingest(changed)
    assert summary.status == "loaded"
    assert (summary.rows_inserted, summary.rows_updated, summary.rows_unchanged) == (0, 1, N - 1)

    raw_after = snapshot_dir(state.raw)
    new_blob = str(blob_path(Path(), "football-data", sha256(changed), ".csv"))
    assert set(raw_after) == {*raw_before, new_blob}
    assert {k: raw_after[k] for k in raw_before} == raw_before  # old blob untouched
    assert raw_after[new_blob][3] == sha256(changed)

    matches = state.query("SELECT * FROM matches")
    assert len(matches) == N and not matches["match_id"].duplicated().any()
    row = matches.set_index("match_id").loc[CHANGED_ID]
    assert (row["home_goals"], row["away_goals"], row["result"]) == (4, 1, "H")
    assert row["source_checksum"] == sha256(changed)
    log = state.query("SELECT * FROM ingestion_log ORDER BY rows_updated")
    assert log["status"].tolist() == ["loaded", "loaded"]
    assert log[["rows_inserted", "rows_updated", "rows_unchanged"]].iloc[1].tolist() == [
        0,
        1,
        N - 1,
    ]
    _assert_consistent(state)


# ---------------------------------------------------------------------------------------------
# (d) the broken-file corpus through ingest
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n, c in CORPUS.items() if c.unusable])
def test_unusable_file_writes_nothing_but_the_failure_logs(state, name):
    case: BrokenCase = CORPUS[name]
    before = state.dump()
    with pytest.raises(FootballDataError, match=case.message):
        state.ingest(case.data)
    after = state.dump()
    for table in MATCH_TABLES:
        assert after[table] == before[table], table

    checksum = sha256(case.data)
    log = state.query("SELECT * FROM ingestion_log WHERE checksum = ?", [checksum])
    assert log["status"].tolist() == ["failed"]
    assert case.message in log["message"].iloc[0]
    assert log[["rows_loaded", "rows_inserted", "rows_updated"]].iloc[0].tolist() == [0, 0, 0]
    dq = state.query("SELECT * FROM data_quality_log WHERE checksum = ?", [checksum])
    assert len(dq) == 1
    record = dq.iloc[0]
    assert (record["check_name"], record["issue_type"]) == ("parse", "unusable_file")
    assert (record["severity"], record["action"]) == ("error", "rejected")
    assert record["detail"] == log["message"].iloc[0]
    assert (record["league"], record["season"]) == (BASE_LEAGUE, BASE_SEASON)
    # The raw layer keeps what was received, even unusable bytes.
    assert blob_path(state.raw, "football-data", checksum, ".csv").read_bytes() == case.data

    # The same bytes again fail again without logging the failure twice.
    logged = state.dump()
    with pytest.raises(FootballDataError):
        state.ingest(case.data)
    assert state.dump() == logged


def _dq(state: State, checksum: str) -> pd.DataFrame:
    return state.query("SELECT * FROM data_quality_log WHERE checksum = ?", [checksum])


def _one(frame: pd.DataFrame, **equal) -> pd.Series:
    hit = frame
    for column, value in equal.items():
        hit = hit[hit[column] == value]
    assert len(hit) == 1, (equal, frame)
    return hit.iloc[0]


def test_text_goals_row_losing_a_stored_match_is_refused_then_allowed(state):
    case = CORPUS["text_goals"]
    before = state.dump()
    with pytest.raises(PartitionRefusedError, match=r"would delete 1 of the 380 stored matches"):
        state.ingest(case.data)
    for table in MATCH_TABLES:
        assert state.dump()[table] == before[table], table
    refused = _one(_dq(state, sha256(case.data)), check_name="partition_guard")
    assert (refused["issue_type"], refused["action"]) == ("shrink", "refused")
    summary = state.ingest(case.data, allow_shrink=True)
    allowed = _dq(state, sha256(case.data))
    assert _one(allowed, action="allowed")["detail"].startswith("applied with allow_shrink")
    assert summary.status == "loaded" and summary.rows_skipped == 1
    record = _one(_dq(state, sha256(case.data)), check_name="goals_are_non_negative_integers")
    assert (record["match_id"], record["severity"], record["action"]) == (
        CHANGED_ID,
        "error",
        "rejected",
    )
    assert "two-1" in record["detail"]
    ids = set(state.query("SELECT match_id FROM matches")["match_id"])
    assert len(ids) == N - 1 and CHANGED_ID not in ids
    _assert_consistent(state)


def test_duplicated_row_is_dropped_and_logged(state):
    case = CORPUS["duplicate_row"]
    before = state.dump()
    summary = state.ingest(case.data)
    assert summary.rows_loaded == N + 1 and summary.rows_skipped == 1
    assert summary.rows_unchanged == N
    record = _one(_dq(state, sha256(case.data)), check_name="match_key_unique")
    assert record["match_id"] == "E0-20230916-eng-man-united-eng-brighton"
    assert (record["row_number"], record["action"]) == (N + 2, "rejected")
    matches = state.query("SELECT match_id, source_row FROM matches").set_index("match_id")
    assert len(matches) == N
    assert matches.loc[record["match_id"], "source_row"] == DUPLICATE_ROW + 2  # first kept
    after = state.dump()
    for table in ("match_odds", "market_probabilities"):
        assert after[table] == before[table], table  # the copy's prices are not stored twice
    _assert_consistent(state)


def test_duplicated_key_with_other_contents_is_refused_quoting_both_rows(state):
    data = set_cell(CORPUS["duplicate_row"].data, N, "B365H", b"9.99")  # the appended copy
    assert cell(data, DUPLICATE_ROW, "B365H") == b"2.15"
    before = state.dump()
    with pytest.raises(PartitionRefusedError) as caught:
        state.ingest(data)
    message = str(caught.value)
    assert "E0-20230916-eng-man-united-eng-brighton" in message
    assert f"line {DUPLICATE_ROW + 2}: 'E0,16/09/2023" in message
    assert f"line {N + 2}: 'E0,16/09/2023" in message and ",9.99," in message
    after = state.dump()
    for table in MATCH_TABLES:
        assert after[table] == before[table], table
    assert _one(_dq(state, sha256(data)), check_name="partition_guard")["action"] == "refused"


def test_blank_rows_are_logged_and_nothing_changes(state):
    case = CORPUS["blank_rows"]
    before = state.dump()
    summary = state.ingest(case.data)
    assert (summary.rows_loaded, summary.rows_unchanged, summary.rows_skipped) == (N, N, 0)
    record = _one(_dq(state, sha256(case.data)), issue_type="blank_rows")
    assert (record["check_name"], record["severity"], record["action"]) == (
        "parse",
        "info",
        "logged",
    )
    assert record["detail"] == "3 blank row(s) dropped"
    after = state.dump()
    assert after["match_odds"] == before["match_odds"]
    assert after["market_probabilities"] == before["market_probabilities"]
    _assert_consistent(state)


def test_latin1_file_is_loaded_with_an_encoding_warning(state):
    case = CORPUS["latin1"]
    summary = state.ingest(case.data)
    assert (summary.rows_updated, summary.rows_unchanged) == (1, N - 1)
    record = _one(_dq(state, sha256(case.data)), issue_type="encoding")
    assert (record["check_name"], record["severity"], record["action"]) == (
        "parse",
        "warning",
        "logged",
    )
    row = state.query("SELECT * FROM matches WHERE source_row = ?", [LATIN1_ROW + 2]).iloc[0]
    assert row["home_team"] == "Sh\u00e9ffield United"
    assert row["home_team_id"] == "eng-sheffield-united"
    assert len(state.query("SELECT * FROM matches")) == N
    _assert_consistent(state)


def test_bad_date_row_is_dropped_and_logged(state):
    case = CORPUS["bad_date"]
    dropped = "E0-20231029-eng-man-united-eng-man-city"
    with pytest.raises(PartitionRefusedError, match=dropped):
        state.ingest(case.data)
    summary = state.ingest(case.data, allow_shrink=True)
    assert (summary.rows_loaded, summary.rows_skipped) == (N, 1)
    record = _one(_dq(state, sha256(case.data)), issue_type="bad_date")
    assert (record["check_name"], record["severity"]) == ("parse", "error")
    assert record["row_number"] == DATE_ROW + 2
    assert "'2023-08-11'" in record["detail"]
    for table in ("matches", "match_odds", "market_probabilities"):
        gone = state.query(f"SELECT count(*) AS n FROM {table} WHERE match_id = ?", [dropped])
        assert gone["n"].iloc[0] == 0, table
    assert len(state.query("SELECT * FROM matches")) == N - 1
    _assert_consistent(state)


# ---------------------------------------------------------------------------------------------
# (e) strict vs non-strict, (f) rollback
# ---------------------------------------------------------------------------------------------

BAD_PRICE_ID = "E0-20230811-eng-burnley-eng-man-city"


@pytest.mark.parametrize(("strict", "action"), [(True, "rejected"), (False, "logged")])
def test_out_of_range_price_strict_and_non_strict(state, strict, action):
    assert cell(real_bytes(), 0, "B365H") == b"8"
    data = set_cell(real_bytes(), 0, "B365H", b"0.5")
    summary = state.ingest(data, strict=strict)
    assert summary.status == "loaded"
    odds = state.query(
        "SELECT outcome, price FROM match_odds WHERE match_id = ? AND bookmaker = 'bet365' "
        "AND market = '1X2' AND phase = 'opening'",
        [BAD_PRICE_ID],
    ).set_index("outcome")["price"]
    if strict:
        assert "home" not in odds.index
    else:
        assert odds["home"] == 0.5
    assert {"draw", "away"} <= set(odds.index)  # only the bad price is affected
    record = _one(_dq(state, sha256(data)), check_name="odds_in_range")
    assert (record["match_id"], record["severity"], record["action"]) == (
        BAD_PRICE_ID,
        "error",
        action,
    )
    assert len(state.query("SELECT * FROM matches")) == N
    _assert_consistent(state)


@pytest.mark.parametrize(
    "failing_table",
    # match_odds as in a crash mid-load; the log tables are written after matches was replaced.
    ["match_odds", "market_probabilities", "matches", "data_quality_log", "ingestion_log"],
)
def test_failure_inside_the_transaction_rolls_everything_back(state, monkeypatch, failing_table):
    changed = set_cell(real_bytes(), CHANGED_ROW, "FTHG", b"4")
    before = state.dump()
    real_insert = warehouse.insert_frame

    def failing_insert(con, table, frame):
        if table == failing_table:
            raise RuntimeError(f"disk full while writing {table}")
        return real_insert(con, table, frame)

    with monkeypatch.context() as patch:
        patch.setattr(warehouse, "insert_frame", failing_insert)
        with pytest.raises(RuntimeError, match="disk full"):
            state.ingest(changed)
    assert state.dump() == before  # every table, matches included, as before the attempt
    goals = state.query("SELECT home_goals FROM matches WHERE match_id = ?", [CHANGED_ID])
    assert goals["home_goals"].tolist() == [3]

    # Nothing recorded the failed attempt as done: the same bytes load on retry.
    summary = state.ingest(changed)
    assert (summary.status, summary.rows_updated) == ("loaded", 1)


# ---------------------------------------------------------------------------------------------
# (g) market probabilities
# ---------------------------------------------------------------------------------------------


def test_market_probabilities_sum_to_one_and_shin_is_on_matches(state):
    # A second partition with closing-odds gaps (2020-21 E1 rows 400/402 lack Pinnacle).
    summary = state.ingest(real_bytes("2021", "E1"), league="E1", season="2020-21")
    assert summary.status == "loaded"
    matches = state.query("SELECT * FROM matches").set_index("match_id")
    probs = state.query("SELECT * FROM market_probabilities")
    assert len(matches) == N + 552
    assert matches["odds_source"].notna().all()  # every shipped match here has odds
    assert set(probs["match_id"]) == set(matches.index)
    assert (
        probs.groupby("match_id")["method"].apply(frozenset)
        == frozenset({"multiplicative", "additive", "power", "shin"})
    ).all()
    total = probs[["prob_home", "prob_draw", "prob_away"]].sum(axis=1)
    np.testing.assert_allclose(total, 1.0, atol=1e-9)
    assert (probs[["prob_home", "prob_draw", "prob_away"]] > 0).all().all()
    assert (probs["odds_source"] == matches.loc[probs["match_id"], "odds_source"].to_numpy()).all()

    shin = probs[probs["method"] == "shin"].set_index("match_id").loc[matches.index]
    assert (matches["margin_method"] == "shin").all()
    for side in ("home", "draw", "away"):
        np.testing.assert_allclose(
            matches[f"prob_{side}_market"], shin[f"prob_{side}"], rtol=0, atol=1e-12
        )
    book = 1 / matches[["odds_home", "odds_draw", "odds_away"]]
    np.testing.assert_allclose(shin["overround"], book.sum(axis=1) - 1, atol=1e-12)
    sources = matches[matches["league"] == "E1"]["odds_source"].value_counts().to_dict()
    assert sources.get("market_avg_closing", 0) >= 2
