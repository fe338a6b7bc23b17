"""Jackpot reports: results, ticket figures per set, markdown, and export files.

The report of a stored version (:func:`jackpot_report`): results from ``matches`` (league,
teams, date ±1 day) or a results file; per set the argmax ticket, P(all correct), the exact
correct-count distribution, P(≥ k − m), the optimal combination ticket for the budget and, with
results, correct picks, Brier, log loss and whether the tickets won; a markdown table (the
Dagster UI; the terminal view is :mod:`cli.predict`) and export files
``out/<coupon>_<version>.csv`` / ``.json`` (:func:`write_exports`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.coupon import Resolve, team_id_of
from jackpot_pipeline.core.jackpot_analytics import DEFAULT_MISSES, SetAnalysis, analyse_jackpot
from jackpot_pipeline.core.prediction_sets import PREDICTION_SETS
from jackpot_pipeline.services.jackpot_model import RESULT_WINDOW_DAYS, json_default, team_resolver
from jackpot_pipeline.services.jackpot_store import SET_NAMES, JackpotRun, StoredJackpot

DEFAULT_BUDGET = 64
DEFAULT_SET = "G"
PICK_COLUMNS = {"1": "prob_home", "X": "prob_draw", "2": "prob_away"}

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
            ids = tuple(team_id_of(resolve(n, fixture.league)) for n in names)
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
                "flags": _flags_text(row),
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
            record["name_matches"] = json.loads(record.get("name_matches") or "[]")
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
        from_file = read_results_file(results_file, stored.fixtures, team_resolver(con=con))
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


def _flags_text(row: Any) -> str:
    """A fixture's flags, ``stale_history`` with the date of the league's latest result."""
    return ", ".join(
        f"{flag} (latest result {row.latest_result:%Y-%m-%d})" if flag == "stale_history" else flag
        for flag in json.loads(row.flags)
    )


def write_exports(report: JackpotReport, out_dir: Path) -> tuple[Path, Path]:
    """``<stem>.csv`` (one row per fixture and set, from the stored rows) and ``<stem>.json``
    (:meth:`JackpotReport.summary`), each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = export_stem(report.stored)
    csv_path, json_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.json"
    _atomic_write(csv_path, export_frame(report).to_csv(index=False, float_format="%.10g"))
    _atomic_write(json_path, json.dumps(report.summary(), indent=2, default=json_default))
    return csv_path, json_path


def export_frame(report: JackpotReport) -> pd.DataFrame:
    """Long export: fixture × set with probabilities, pick, entropy and the decomposition."""
    fixtures = report.stored.fixtures.assign(result=list(report.results))
    keep = [
        "jackpot_version", "match_order", "home_team", "away_team", "home_team_id",
        "away_team_id", "league", "kickoff", "likely_home_goals", "likely_away_goals",
        "dc_prob_home", "dc_prob_draw", "dc_prob_away", "calibrated", "calibration_version",
        "xi", "n_train_matches", "latest_result", "market_source", "flags", "result",
    ]  # fmt: skip
    fixtures = fixtures[keep]
    predictions = report.stored.predictions.drop(columns=["created_at"])
    frame = fixtures.merge(predictions, on=["jackpot_version", "match_order"])
    return frame.sort_values(["match_order", "set_id"]).reset_index(drop=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------- helpers


def _probs_text(probs: Sequence[float]) -> str:
    return "/".join(f"{p:.2f}" for p in probs)


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
