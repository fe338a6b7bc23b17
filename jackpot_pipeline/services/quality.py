"""Data-quality expectations for football-data files, run with Great Expectations 1.x.

Each check is a named GE expectation over one of the frames built from a parsed file:
``header`` (the source columns), ``matches`` (one row per match, with the goal cells as
text), ``odds`` (long prices) and ``overrounds`` (closing 1X2 overround Σ1/o − 1 per match
and bookmaker; the market-maximum aggregates are excluded, they are not a bookmaker's book).
Great Expectations (~10 s) and pandas are imported lazily, so the Dagster code location can
import the check specs cheaply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from jackpot_pipeline.core.seasons import season_bounds
from jackpot_pipeline.core.source_format import REQUIRED_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from jackpot_pipeline.core.football_data import ParsedFile

NOT_BOOKS = ("market_max", "betbrain_max")


@dataclass(frozen=True)
class CheckSpec:
    """One named expectation: which frame it reads, its severity and how to build it."""

    name: str
    frame: str
    severity: str  # "error" blocks downstream assets; "warning" does not
    description: str
    id_columns: tuple[str, ...]
    build: Callable[[Any, dict[str, Any]], Any]  # (gx.expectations module, params) → expectation


@dataclass(frozen=True)
class CheckOutcome:
    """Result of one check on one file: pass/fail and the failing rows."""

    spec: CheckSpec
    evaluated: int
    failures: pd.DataFrame  # id columns + "detail"

    @property
    def passed(self) -> bool:
        return self.failures.empty


HEADER_CHECK = CheckSpec(
    "required_columns_present",
    "header",
    "error",
    f"the file has the required columns {', '.join(REQUIRED_COLUMNS)}",
    ("column",),
    lambda E, p: E.ExpectTableColumnsToMatchSet(
        column_set=list(REQUIRED_COLUMNS), exact_match=False
    ),
)
CHECKS: tuple[CheckSpec, ...] = (
    HEADER_CHECK,
    CheckSpec(
        "goals_are_non_negative_integers",
        "matches",
        "error",
        "full-time goals are non-negative integers",
        ("match_id",),
        lambda E, p: E.ExpectColumnValuesToMatchRegex(
            column="goals_text", regex=r"^\d{1,2}-\d{1,2}$"
        ),
    ),
    CheckSpec(
        "result_agrees_with_goals",
        "matches",
        "error",
        "FTR (H/D/A) agrees with the full-time goals",
        ("match_id",),
        lambda E, p: E.ExpectColumnPairValuesToBeEqual(
            column_A="result", column_B="result_from_goals", ignore_row_if="either_value_is_missing"
        ),
    ),
    CheckSpec(
        "match_key_unique",
        "matches",
        "error",
        "(league, date, home, away) identifies one match",
        ("match_id", "source_row"),
        lambda E, p: E.ExpectCompoundColumnsToBeUnique(
            column_list=["league", "match_date", "home_team_id", "away_team_id"]
        ),
    ),
    CheckSpec(
        "dates_inside_season",
        "matches",
        "error",
        "match dates fall inside the season (1 July to 31 August of the next year)",
        ("match_id",),
        lambda E, p: E.ExpectColumnValuesToBeBetween(
            column="match_date", min_value=p["season_start"], max_value=p["season_end"]
        ),
    ),
    CheckSpec(
        "no_future_dates",
        "matches",
        "error",
        "no match is dated after today",
        ("match_id",),
        lambda E, p: E.ExpectColumnValuesToBeBetween(column="match_date", max_value=p["today"]),
    ),
    CheckSpec(
        "odds_in_range",
        "odds",
        "error",
        "every decimal price lies in [1.01, 1000]",
        ("match_id", "bookmaker", "market", "outcome", "phase"),
        lambda E, p: E.ExpectColumnValuesToBeBetween(
            column="price", min_value=1.01, max_value=1000
        ),
    ),
    CheckSpec(
        "closing_overround_in_range",
        "overrounds",
        "error",
        "each bookmaker's closing 1X2 overround lies in [0 %, 15 %]",
        ("match_id", "bookmaker"),
        lambda E, p: E.ExpectColumnValuesToBeBetween(
            column="overround", min_value=0.0, max_value=0.15
        ),
    ),
    CheckSpec(
        "closing_overround_typical",
        "overrounds",
        "warning",
        "each bookmaker's closing 1X2 overround lies in the typical [2 %, 15 %]",
        ("match_id", "bookmaker"),
        lambda E, p: E.ExpectColumnValuesToBeBetween(
            column="overround", min_value=0.02, max_value=0.15
        ),
    ),
)
CHECKS_BY_NAME: dict[str, CheckSpec] = {c.name: c for c in CHECKS}


def validation_frames(parsed: ParsedFile) -> dict[str, pd.DataFrame]:
    """The frames the checks read, built from a parsed file."""
    import pandas as pd

    matches = parsed.matches.copy()
    goals_text = parsed.raw["FTHG"].str.strip() + "-" + parsed.raw["FTAG"].str.strip()
    matches["goals_text"] = goals_text.to_numpy()
    diff = (matches["home_goals"] - matches["away_goals"]).astype("Float64")
    matches["result_from_goals"] = (
        pd.Series(pd.NA, index=matches.index, dtype="string")
        .mask(diff > 0, "H")
        .mask(diff == 0, "D")
        .mask(diff < 0, "A")
    )
    matches["result"] = matches["result"].replace("", pd.NA)
    odds = parsed.odds
    closing = odds[
        (odds["market"] == "1X2")
        & (odds["phase"] == "closing")
        & ~odds["bookmaker"].isin(NOT_BOOKS)
    ]
    books = closing.pivot_table(
        index=["match_id", "bookmaker"], columns="outcome", values="price", aggfunc="first"
    )
    books = books.reindex(columns=["home", "draw", "away"]).dropna()
    overrounds = (1.0 / books).sum(axis=1).sub(1.0).rename("overround").reset_index()
    return {
        "header": parsed.raw.head(1),
        "matches": matches,
        "odds": odds.reset_index(drop=True),
        "overrounds": overrounds,
    }


def check_header(header: list[str]) -> CheckOutcome:
    """The required-columns check on a file's header alone (for a file too broken to parse);
    a file without any header misses every required column."""
    import pandas as pd

    if not header:
        failures = pd.DataFrame({"column": list(REQUIRED_COLUMNS)})
        failures["detail"] = f"{HEADER_CHECK.description}: the file has no header"
        return CheckOutcome(HEADER_CHECK, 0, failures)
    return _run_one(HEADER_CHECK, pd.DataFrame([[""] * len(header)], columns=header), {})


def run_checks(parsed: ParsedFile, season: str, today: date) -> list[CheckOutcome]:
    """Run every check on one parsed file; returns one outcome per check, in CHECKS order."""
    import pandas as pd

    start, end = season_bounds(season)
    params = {
        "season_start": pd.Timestamp(start),
        "season_end": pd.Timestamp(end),
        "today": pd.Timestamp(today),
    }
    frames = validation_frames(parsed)
    return [_run_one(spec, frames[spec.frame], params) for spec in CHECKS]


def _run_one(spec: CheckSpec, frame: pd.DataFrame, params: dict[str, Any]) -> CheckOutcome:
    import pandas as pd

    empty = pd.DataFrame(columns=[*spec.id_columns, "detail"])
    if frame.empty:
        return CheckOutcome(spec, 0, empty)
    gx, batch_definition = _ge_batch_definition(spec.frame)
    expectation = spec.build(gx.expectations, params)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        expectation,
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": list(spec.id_columns),
        },
    )
    if result.success:
        return CheckOutcome(spec, len(frame), empty)
    missing = result.result.get("details", {}).get("mismatched", {}).get("missing")
    rows = result.result.get("unexpected_index_list") or [{"column": c} for c in missing or ()]
    if not rows:
        raise RuntimeError(f"check {spec.name} failed without row details: {result.result}")
    failures = pd.DataFrame(rows)
    value_columns = [c for c in failures.columns if c not in spec.id_columns]
    failures["detail"] = [
        f"{spec.description}: " + ", ".join(f"{c}={row[c]!r}" for c in value_columns)
        for _, row in failures.iterrows()
    ]
    return CheckOutcome(spec, len(frame), failures[[*spec.id_columns, "detail"]])


@cache
def _ge_batch_definition(frame_name: str) -> tuple[Any, Any]:
    """An ephemeral GE context with a pandas whole-dataframe batch definition per frame."""
    import great_expectations as gx

    context = _ge_context()
    source = context.data_sources.add_pandas(f"pandas_{frame_name}")
    asset = source.add_dataframe_asset(frame_name)
    return gx, asset.add_batch_definition_whole_dataframe(f"{frame_name}_whole")


@cache
def _ge_context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context
