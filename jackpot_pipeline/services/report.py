"""Validation of the probabilities: forecasts side by side, metrics, tables, reliability diagram.

Every forecast is scored on the same out-of-sample matches: walk-forward Dixon-Coles
predictions that have a result, every set stored and a decision-time (pre-closing) market
line. Forecasts: the prediction sets A–G as delivered, the uncalibrated Dixon-Coles model, the
decision-time market (the market input of sets B, C, E, F, G), the closing market (the
benchmark; scored on the matches that have a closing line, paired comparisons too) and a
base-rate baseline (each league × season predicted by the league's outcome frequencies in
earlier seasons, or every league's when the league has no earlier season).
:func:`comparison` gives per set, pooled and per league, the paired difference against both
markets with a 95 % block-bootstrap interval (blocks: weeks). :func:`pooled_report` reads the
pooled summary stored by the ``validation_report_pooled`` asset (both in ``jackpot report``).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.bootstrap import block_bootstrap, week_blocks
from jackpot_pipeline.core.calibration import apply_walk_forward, fit_walk_forward_curves
from jackpot_pipeline.core.metrics import (
    DEFAULT_BINS,
    LOG_LOSS_EPS,
    N_OUTCOMES,
    OUTCOMES,
    MetricReport,
    encode_results,
    evaluate,
    one_hot,
)
from jackpot_pipeline.core.prediction_sets import (
    MAX_MARKET_WEIGHT,
    PREDICTION_SETS,
    SetInputs,
    build_walk_forward_sets,
    fit_walk_forward_params,
)
from jackpot_pipeline.defs.partitions import LEAGUE_CODES, SEASONS
from jackpot_pipeline.services import calibration_store as store
from jackpot_pipeline.services import warehouse

SET_NAMES: tuple[str, ...] = tuple(PREDICTION_SETS)
BLENDED_SETS: tuple[str, ...] = tuple(n for n, s in PREDICTION_SETS.items() if s.needs_market)
DIXON_COLES = "dixon_coles_uncalibrated"
ODDS_RATINGS = "odds_ratings"
ELO = "elo"
STACK = "stack_uncalibrated"
#: Set A's members and their stack before calibration (set A is the stack calibrated).
MEMBERS = (DIXON_COLES, ODDS_RATINGS, ELO, STACK)
MARKET = "market"
CLOSING = "closing_market"
BASE_RATE = "base_rate"
REFERENCES = (DIXON_COLES, MARKET, CLOSING, BASE_RATE)
LABELS: dict[str, str] = {
    **{name: f"{name} {spec.label}" for name, spec in PREDICTION_SETS.items()},
    DIXON_COLES: "Dixon-Coles uncalibrated",
    ODDS_RATINGS: "odds ratings (earlier matches' market goals)",
    ELO: "Elo + ordered logit",
    STACK: "stack of the members, uncalibrated",
    MARKET: "decision-time market (pre-closing, Shin)",
    CLOSING: "closing market (Shin)",
    BASE_RATE: "base rate",
}
#: The pooled walk-forward evaluation: these seasons of the enabled leagues.
REPORT_SEASONS: tuple[str, ...] = tuple(s for s in SEASONS if "2015-16" <= s <= "2024-25")
REPORT_WINDOW = f"{REPORT_SEASONS[0]}..{REPORT_SEASONS[-1]}"
POOLED = "pooled"
#: Forecasts drawn in the reliability diagram and listed in the per-season table.
HEADLINE = ("A", "B", "G", DIXON_COLES, MARKET, BASE_RATE)
TARGET_A_GAP = 0.015
TARGET_ECE = 0.01
#: Scores closer than this count as equal (e.g. a set that reduces to the market).
TIE = 1e-6
#: Bins with fewer matches are left out of the diagram (they still count in the ECE).
MIN_BIN_COUNT = 20
METRIC_COLUMNS = ["n", "rps", "log_loss", "brier", "accuracy", "ece_home", "ece_draw", "ece_away"]


# ---------------------------------------------------------------------------------------------
# Forecasts on one sample
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forecasts:
    """Matches (match_id, league, season, match_date, result) and, per forecast name, an
    aligned (n, 3) array of probabilities (NaN rows: the forecast is unavailable there)."""

    matches: pd.DataFrame
    probs: Mapping[str, np.ndarray]

    def take(self, mask: np.ndarray) -> Forecasts:
        """The forecasts of the rows in boolean ``mask``."""
        return Forecasts(
            self.matches[mask].reset_index(drop=True),
            {name: p[mask] for name, p in self.probs.items()},
        )

    def evaluate(self, n_bins: int = DEFAULT_BINS) -> dict[str, MetricReport]:
        """Metrics of every forecast on its available rows (all rows for sets and models)."""
        y = self.matches["result"].to_numpy()
        reports = {}
        for name, probs in self.probs.items():
            rows = np.isfinite(probs).all(axis=1)
            if rows.any():
                reports[name] = evaluate(probs[rows], y[rows], n_bins)
        return reports


def load_forecasts(
    con: duckdb.DuckDBPyConnection, leagues: Sequence[str], seasons: Sequence[str]
) -> Forecasts:
    """Every forecast for the played out-of-sample matches of ``leagues`` × ``seasons`` that
    have all prediction sets stored."""
    oos = store.load_oos(con, max(seasons), leagues, min(seasons))
    oos = oos[oos["season"].isin(list(seasons)) & oos["result"].isin(["H", "D", "A"])]
    sets = store.load_prediction_sets(con, leagues, seasons)
    sets = sets[sets["set_name"].isin(SET_NAMES)]
    per_match = sets.groupby("match_id")["set_name"].nunique()
    complete = per_match.index[per_match == len(SET_NAMES)]
    oos = oos[oos["match_id"].isin(complete) & oos["market_source"].notna()]
    oos = oos.reset_index(drop=True)
    wide = sets.pivot(index="match_id", columns="set_name", values=list(store.SET_COLUMNS))
    probs: dict[str, np.ndarray] = {}
    for name in SET_NAMES:
        columns = [(c, name) for c in store.SET_COLUMNS]
        probs[name] = (
            wide.loc[oos["match_id"], columns].to_numpy(dtype=np.float64)
            if len(oos)
            else np.empty((0, 3))
        )
    probs.update(member_probs(con, oos))
    probs[MARKET] = store.probs_of(oos, store.MARKET_COLUMNS)
    probs[CLOSING] = store.probs_of(oos, store.CLOSING_COLUMNS)
    probs[BASE_RATE] = base_rates(store.outcome_counts(con), oos)
    matches = oos[["match_id", "league", "season", "match_date", "result"]]
    return Forecasts(matches, probs)


def member_probs(con: duckdb.DuckDBPyConnection, oos: pd.DataFrame) -> dict[str, np.ndarray]:
    """The members' out-of-sample forecasts of ``oos``'s matches (NaN where absent): the
    Dixon-Coles walk, the odds-ratings variant each season applied, Elo, and the stack (the
    model forecast of ``oos`` itself)."""
    con.register("wanted", oos[["match_id"]])
    members = "member_predictions" if warehouse.table_exists(con, "stack_choices") else None
    long = con.execute(
        f"SELECT match_id, '{DIXON_COLES}' AS member, p_home, p_draw, p_away "
        "FROM oos_predictions JOIN wanted USING (match_id)"
        + (
            ""
            if members is None
            else " UNION ALL SELECT p.match_id, CASE WHEN p.member = c.odds_variant "
            f"THEN '{ODDS_RATINGS}' ELSE p.member END, p.p_home, p.p_draw, p.p_away "
            f"FROM {members} p JOIN wanted USING (match_id) "
            "LEFT JOIN stack_choices c ON c.season = p.season "
            f"WHERE p.member = '{ELO}' OR p.member = c.odds_variant"
        )
    ).df()
    con.unregister("wanted")
    out = {STACK: store.probs_of(oos)}
    for name in (DIXON_COLES, ODDS_RATINGS, ELO):
        rows = long[long["member"] == name].set_index("match_id")
        out[name] = rows.reindex(oos["match_id"])[list(store.SET_COLUMNS)].to_numpy(
            dtype=np.float64
        )
    return out


def base_rates(counts: pd.DataFrame, matches: pd.DataFrame) -> np.ndarray:
    """Base-rate forecast per match: outcome frequencies of its league's earlier seasons
    (every league's if the league has none; NaN if there is no earlier season at all)."""
    out = np.full((len(matches), 3), np.nan)
    totals = counts[["home", "draw", "away"]].to_numpy(dtype=np.float64)
    for (league, season), rows in matches.groupby(["league", "season"]).indices.items():
        earlier = (counts["season"] < season).to_numpy()
        own = earlier & (counts["league"] == league).to_numpy()
        for chosen in (own, earlier):
            summed = totals[chosen].sum(axis=0)
            if summed.sum() > 0:
                out[rows] = summed / summed.sum()
                break
    return out


def kind_of(name: str) -> str:
    """'set', 'reference' or 'alternative' (a design variant such as 'B|pooling=linear')."""
    if name in SET_NAMES:
        return "set"
    return "reference" if name in REFERENCES else "alternative"


def validation_rows(
    reports: Mapping[str, MetricReport], league: str, season: str
) -> list[dict[str, object]]:
    """``validation_results`` rows of ``reports`` for one sample."""
    return [
        store.validation_row(report, league, season, name, kind_of(name))
        for name, report in reports.items()
    ]


# ---------------------------------------------------------------------------------------------
# Design choices, re-validated on the data
# ---------------------------------------------------------------------------------------------


def design_alternatives(
    oos: pd.DataFrame,
    seasons: Sequence[str] = REPORT_SEASONS,
    *,
    min_samples: int = 30,
    n_bins: int = DEFAULT_BINS,
    max_market_weight: float = MAX_MARKET_WEIGHT,
) -> Forecasts:
    """The chosen design and its alternatives, rebuilt walk-forward in memory from ``oos``
    (every league, every season up to the last of ``seasons``; played matches only):

    ``A|calibration=pooled`` / ``A|calibration=league`` — isotonic curves fitted on every
    league's earlier rows vs the league's own; sets B, C, E, F, G with logarithmic vs linear
    pooling (``X|pooling=log``/``X|pooling=linear``, parameters pooled over leagues); and
    ``X|params=league`` — parameters fitted on the league's own earlier rows (log pooling).
    Rows of ``seasons`` are returned."""
    played = oos[oos["result"].isin(["H", "D", "A"]) & (oos["season"] <= max(seasons))]
    played = played.reset_index(drop=True)
    frame = played.rename(columns={"match_date": "date"})
    y = played["result"].to_numpy()
    periods = played["season"].to_numpy()
    market = store.probs_of(played, store.MARKET_COLUMNS)
    leagues = played["league"].to_numpy()
    probs: dict[str, np.ndarray] = {}
    calibrated = {}
    for scope in ("pooled", "league"):
        curves = fit_walk_forward_curves(
            frame, "season", scope=scope, min_samples=min_samples, n_bins=n_bins
        )
        calibrated[scope] = apply_walk_forward(frame, curves, "season", scope=scope)
        probs[f"A|calibration={scope}"] = calibrated[scope]
    model = calibrated[store.CALIBRATION_SCOPE]
    fit = {"min_samples": min_samples, "max_market_weight": max_market_weight}
    inputs = SetInputs(model, market, leagues)
    for pooling in ("log", "linear"):
        params = fit_walk_forward_params(inputs, y, periods, pooling=pooling, **fit)
        sets = build_walk_forward_sets(inputs, periods, params)
        for name in BLENDED_SETS:
            probs[f"{name}|pooling={pooling}"] = sets[name].probs
    by_league = {name: np.empty_like(model) for name in BLENDED_SETS}
    for league in np.unique(leagues):
        rows = leagues == league
        sub = inputs.take(rows)
        params = fit_walk_forward_params(sub, y[rows], periods[rows], pooling="log", **fit)
        sets = build_walk_forward_sets(sub, periods[rows], params)
        for name in BLENDED_SETS:
            by_league[name][rows] = sets[name].probs
    probs.update({f"{name}|params=league": p for name, p in by_league.items()})
    keep = np.isin(periods, list(seasons))
    matches = played[["match_id", "league", "season", "match_date", "result"]]
    return Forecasts(matches, probs).take(keep)


def choices_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Alternative designs side by side (RPS, log loss, ECE) from validation rows."""
    alternatives = rows[rows["kind"] == "alternative"].copy()
    if alternatives.empty:
        return alternatives
    split = alternatives["forecast"].str.split("|", expand=True)
    alternatives["set"] = split[0]
    alternatives["variant"] = split[1]
    return alternatives[
        ["set", "variant", "n", "rps", "log_loss", "ece_home", "ece_draw", "ece_away"]
    ].sort_values(["set", "variant"])


#: (what, set, chosen variant, alternative) compared in the report.
CHOICE_PAIRS: tuple[tuple[str, str, str, str], ...] = (
    ("calibration scope", "A", "calibration=pooled", "calibration=league"),
    ("pooling", "B", "pooling=log", "pooling=linear"),
    ("pooling", "C", "pooling=log", "pooling=linear"),
    ("pooling", "E", "pooling=log", "pooling=linear"),
    ("parameter scope", "E", "pooling=log", "params=league"),
    ("parameter scope", "G", "pooling=log", "params=league"),
)


def per_match_scores(probs: np.ndarray, outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-match log loss and RPS (their means are ``log_loss`` and ``rps`` of metrics)."""
    y = encode_results(outcomes)
    observed = np.maximum(probs[np.arange(len(y)), y], LOG_LOSS_EPS)
    cumulative = np.cumsum(probs - one_hot(y), axis=1)[:, :-1]
    return -np.log(observed), np.sum(cumulative**2, axis=1) / (N_OUTCOMES - 1)


def choice_statements(rows: pd.DataFrame, alternatives: Forecasts | None = None) -> list[str]:
    """One line per design choice: both variants' log loss and RPS and the difference
    (chosen − alternative); with ``alternatives`` (the per-match forecasts) also its standard
    error, paired over matches."""
    by_name = rows.set_index("forecast")
    lines = []
    for what, name, chosen, other in CHOICE_PAIRS:
        first, second = f"{name}|{chosen}", f"{name}|{other}"
        if first not in by_name.index or second not in by_name.index:
            continue
        a, b = by_name.loc[first], by_name.loc[second]
        errors = {"log_loss": "", "rps": ""}
        if alternatives is not None and first in alternatives.probs:
            y = alternatives.matches["result"].to_numpy()
            scores_a = per_match_scores(alternatives.probs[first], y)
            scores_b = per_match_scores(alternatives.probs[second], y)
            for metric, da, db in zip(errors, scores_a, scores_b, strict=True):
                diff = da - db
                errors[metric] = f" ± {diff.std(ddof=1) / np.sqrt(len(diff)):.6f}"
        lines.append(
            f"{what} (set {name}): {chosen} log loss {a['log_loss']:.5f}, RPS {a['rps']:.5f} "
            f"vs {other} {b['log_loss']:.5f}, {b['rps']:.5f}: difference log loss "
            f"{a['log_loss'] - b['log_loss']:+.6f}{errors['log_loss']}, "
            f"RPS {a['rps'] - b['rps']:+.6f}{errors['rps']}"
        )
    return lines


# ---------------------------------------------------------------------------------------------
# Tables and statements
# ---------------------------------------------------------------------------------------------


def metrics_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Sets A–G and the references of one sample: metrics and the RPS gap to the market."""
    main = rows[rows["kind"] != "alternative"].set_index("forecast")
    order = [n for n in (*SET_NAMES, *REFERENCES) if n in main.index]
    table = main.loc[order, METRIC_COLUMNS].copy()
    if MARKET in main.index:
        market_rps = float(main.loc[MARKET, "rps"])
        table.insert(2, "rps_vs_market_%", 100 * (table["rps"] / market_rps - 1))
    table.index = [LABELS.get(n, n) for n in order]
    table.index.name = "forecast"
    return table


def best_set_lines(rows: pd.DataFrame) -> list[str]:
    """Which set is best by RPS and by log loss, and how far from the market."""
    main = rows[rows["kind"] != "alternative"].set_index("forecast")
    sets = main.loc[[n for n in SET_NAMES if n in main.index]]
    if sets.empty:
        return ["No prediction sets evaluated."]
    lines = []
    for metric, label in (("rps", "RPS"), ("log_loss", "log loss")):
        best = sets[metric].idxmin()
        value = float(sets.loc[best, metric])
        tied = [n for n in sets.index if n != best and sets.loc[n, metric] - value <= TIE]
        line = f"Best set by {label}: {LABELS[best]} ({value:.5f})"
        if tied:
            line += f", tied with {', '.join(tied)}"
        if MARKET in main.index:
            market = float(main.loc[MARKET, metric])
            gap = value - market
            verdict = "equals" if abs(gap) <= TIE else "beats" if gap < 0 else "trails"
            line += (
                f" — {verdict} the decision-time market ({market:.5f}): difference {gap:+.6f} "
                f"({100 * gap / market:+.2f} %)"
            )
        lines.append(line)
    return lines


def target_lines(rows: pd.DataFrame) -> list[str]:
    """The three targets: A within 1.5 % of the market's RPS, the best blended set at or
    below the market's RPS, ECE < 0.01 for every outcome of the calibrated model A."""
    main = rows[rows["kind"] != "alternative"].set_index("forecast")
    if MARKET not in main.index or "A" not in main.index:
        return []
    market = float(main.loc[MARKET, "rps"])
    a = main.loc["A"]
    gap = float(a["rps"]) / market - 1
    blended = main.loc[[n for n in BLENDED_SETS if n in main.index], "rps"]
    best = blended.idxmin()
    eces = [float(a[f"ece_{o}"]) for o in OUTCOMES]
    ok = {True: "met", False: "NOT met"}
    return [
        f"Target A within {100 * TARGET_A_GAP:.1f} % of the market's RPS: A {a['rps']:.5f} vs "
        f"market {market:.5f} ({100 * gap:+.2f} %) — {ok[gap <= TARGET_A_GAP]}",
        f"Target best blended set at or below the market's RPS: {LABELS[best]} "
        f"{blended[best]:.5f} vs {market:.5f} ({blended[best] - market:+.6f}) — "
        + (
            "met"
            if blended[best] < market - TIE
            else "met only as a tie (the set reduces to the market)"
            if blended[best] <= market + TIE
            else "NOT met"
        ),
        "Target ECE < 0.01 for every outcome after calibration (A): "
        + ", ".join(f"{o} {e:.4f}" for o, e in zip(OUTCOMES, eces, strict=True))
        + f" — {ok[max(eces) < TARGET_ECE]}",
    ]


def by_sample_table(rows: pd.DataFrame, key: str, names: Sequence[str] = HEADLINE) -> pd.DataFrame:
    """RPS per sample (``key`` = 'season' or 'league') × forecast."""
    chosen = rows[rows["forecast"].isin(list(names))]
    table = chosen.pivot(index=key, columns="forecast", values="rps")
    return table[[n for n in names if n in table.columns]].sort_index()


def formatted(table: pd.DataFrame, digits: int = 5) -> pd.DataFrame:
    """Numbers as strings: counts with thousands separators, percentages signed with two
    decimals, everything else with ``digits`` decimals (blank when missing)."""
    out = table.astype(object).copy()
    for column in table.columns:
        values = table[column]
        if not pd.api.types.is_numeric_dtype(values):
            continue
        if column == "n":
            pattern = "{:,.0f}"
        elif str(column).endswith("%"):
            pattern = "{:+.2f}"
        else:
            pattern = f"{{:.{digits}f}}"
        out[column] = [("" if pd.isna(v) else pattern.format(v)) for v in values]
    return out


def markdown(table: pd.DataFrame, digits: int = 5) -> str:
    """A markdown table of ``formatted`` numbers."""
    return formatted(table, digits).to_markdown(disable_numparse=True)


# ---------------------------------------------------------------------------------------------
# Reliability diagram
# ---------------------------------------------------------------------------------------------


def reliability_png(
    rows: pd.DataFrame, title: str, names: Sequence[str] = HEADLINE, dpi: int = 72
) -> bytes:
    """PNG bytes: one panel per outcome, observed frequency vs mean predicted probability per
    bin (marker area ∝ matches in the bin; bins under ``MIN_BIN_COUNT`` matches left out) for
    ``names``, with the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    by_name = rows.set_index("forecast")
    figure, axes = plt.subplots(1, 3, figsize=(12, 4.2), sharey=True)
    try:
        for k, (axis, outcome) in enumerate(zip(axes, OUTCOMES, strict=True)):
            axis.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1)
            for name in names:
                if name not in by_name.index or name == BASE_RATE:
                    continue
                curve = json.loads(by_name.loc[name, "reliability"])[k]
                ece = float(by_name.loc[name, f"ece_{outcome}"])
                counts = np.asarray(curve["count"], dtype=float)
                dense = counts >= MIN_BIN_COUNT
                curve = {
                    k: np.asarray(curve[k])[dense] for k in ("mean_predicted", "observed_frequency")
                }
                counts = counts[dense]
                axis.plot(
                    curve["mean_predicted"],
                    curve["observed_frequency"],
                    marker="o",
                    markersize=3,
                    linewidth=1.2,
                    label=f"{LABELS.get(name, name)} (ECE {ece:.4f})",
                )
                axis.scatter(
                    curve["mean_predicted"],
                    curve["observed_frequency"],
                    s=40 * counts / max(counts.max(initial=0.0), 1.0),  # no dense bin: empty
                    alpha=0.25,
                )
            axis.set_title(outcome)
            axis.set_xlabel("mean predicted probability")
            axis.set_xlim(0, 1)
            axis.set_ylim(0, 1)
            axis.legend(fontsize=7, loc="upper left")
            axis.grid(alpha=0.3)
        axes[0].set_ylabel("observed frequency")
        figure.suptitle(title)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(figure)
    return buffer.getvalue()


def image_markdown(png: bytes, alt: str) -> str:
    """The PNG as a markdown image with a base64 data URI."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def save_png(png: bytes, reports_dir: Path, name: str) -> Path:
    """Write the PNG to ``reports_dir/name`` and return the path."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / name
    path.write_bytes(png)
    return path


# ---------------------------------------------------------------------------------------------
# The pooled report as text (``jackpot report``) and markdown (Dagster UI)
# ---------------------------------------------------------------------------------------------


def pooled_sections(rows: pd.DataFrame, alternatives: Forecasts | None = None) -> dict[str, object]:
    """The pooled report's parts from all stored validation rows of the evaluation window."""
    window = rows[rows["season"] == REPORT_WINDOW]
    pooled = window[window["league"] == POOLED]
    seasons = rows[(rows["league"] == POOLED) & rows["season"].isin(REPORT_SEASONS)]
    leagues = window[window["league"] != POOLED]
    return {
        "table": metrics_table(pooled),
        "best": best_set_lines(pooled),
        "targets": target_lines(pooled),
        "by_season": by_sample_table(seasons, "season"),
        "by_league": by_sample_table(leagues, "league"),
        "choices": choices_table(pooled),
        "choice_lines": choice_statements(pooled, alternatives),
    }


def choice_summary() -> str:
    """The design and how its choices are made (the numbers follow in ``choice_statements``)."""
    return (
        f"Calibration curves fitted on every league's earlier rows ({store.CALIBRATION_SCOPE}), "
        f"set parameters fitted on every league's earlier rows ({store.PARAMS_SCOPE}); pooling "
        "of model and market chosen per season from the earlier seasons' out-of-sample log "
        "loss of set B (log vs linear), ξ per league and season from the two earlier seasons. "
        "The alternatives below are the same walk-forward with the other variant throughout."
    )


def pooled_markdown(
    rows: pd.DataFrame, image: str = "", alternatives: Forecasts | None = None
) -> str:
    """The pooled report in markdown (Dagster metadata); ``alternatives`` adds standard
    errors to the design-choice differences."""
    parts = pooled_sections(rows, alternatives)
    n = int(parts["table"]["n"].max()) if len(parts["table"]) else 0
    lines = [
        f"### Walk-forward validation {REPORT_WINDOW}, {len(LEAGUE_CODES)} leagues, {n:,} matches",
        "",
        *[f"- {line}" for line in (*parts["best"], *parts["targets"])],
        "",
        markdown(parts["table"]),
        "",
        "#### RPS by season (pooled over leagues)",
        markdown(parts["by_season"]),
        "",
        "#### RPS by league (pooled over seasons)",
        markdown(parts["by_league"]),
        "",
        "#### Design choices (walk-forward alternatives)",
        choice_summary(),
        "",
        *[f"- {line}" for line in parts["choice_lines"]],
        "",
        markdown(parts["choices"].set_index("set")) if len(parts["choices"]) else "",
    ]
    if image:
        lines += ["", "#### Reliability (10 equal-width bins)", image]
    return "\n".join(lines)


def pooled_report(con: duckdb.DuckDBPyConnection) -> dict[str, object] | None:
    """The stored pooled validation (``jackpot report``): :func:`pooled_sections` plus the
    window, the league count and ``n`` matches; None before ``validation_report_pooled`` ran."""
    if not warehouse.table_exists(con, "validation_results"):
        return None
    rows = store.load_validation(con)
    if rows.empty or not ((rows["league"] == POOLED) & (rows["season"] == REPORT_WINDOW)).any():
        return None
    parts = pooled_sections(rows)
    n = int(parts["table"]["n"].max())
    return {"window": REPORT_WINDOW, "leagues": len(LEAGUE_CODES), "n": n, **parts}


# ---------------------------------------------------------------------------------------------
# Paired comparisons against the two reference markets, with block-bootstrap intervals
# ---------------------------------------------------------------------------------------------

#: Sets whose market input makes them, by construction, at best as good as that market's
#: information plus the model's (they cannot "beat" a market they are built on by more than
#: the model adds); A and D never see a price.
MARKET_INPUT_NOTE = (
    "B, C, E, F and G take the decision-time market as an input: against that market they "
    "measure what the model adds to it; A and D never see a price."
)
REDUCTION_TOL = 1e-4  # mean |Δp| below which a set counts as equal to another forecast


def per_match(probs: np.ndarray, outcomes: np.ndarray) -> dict[str, np.ndarray]:
    """Per-match RPS, log loss and Brier (means are the metrics' values)."""
    log_loss, rps = per_match_scores(probs, outcomes)
    brier = np.sum((probs - one_hot(encode_results(outcomes))) ** 2, axis=1)
    return {"rps": rps, "log_loss": log_loss, "brier": brier}


def sample_comparison(forecasts: Forecasts, bins: int = DEFAULT_BINS) -> dict[str, object]:
    """One sample: metrics of every forecast and, per set, the paired difference (set −
    market) of RPS, log loss and Brier with a 95 % week-block bootstrap interval against the
    decision-time market (every match of the sample) and the closing market (the matches
    with a closing line); plus which sets reduce to another forecast."""
    y = forecasts.matches["result"].to_numpy()
    blocks = week_blocks(forecasts.matches["match_date"].to_numpy())
    scores = {name: per_match(p, y) for name, p in forecasts.probs.items()}
    metrics = {}
    for name, report in forecasts.evaluate(bins).items():
        metrics[name] = {
            "n": report.n_matches,
            "rps": report.rps,
            "log_loss": report.log_loss,
            "brier": report.brier,
            **{f"ece_{o}": e for o, e in zip(OUTCOMES, report.ece, strict=True)},
        }
    differences: dict[str, dict[str, object]] = {}
    for name in (*SET_NAMES, *(m for m in MEMBERS if m in forecasts.probs)):
        differences[name] = {}
        for reference in (MARKET, CLOSING):
            rows = np.isfinite(forecasts.probs[reference]).all(axis=1) & np.isfinite(
                forecasts.probs[name]
            ).all(axis=1)
            if not rows.any():
                continue
            differences[name][reference] = {
                metric: asdict(
                    block_bootstrap(
                        scores[name][metric][rows] - scores[reference][metric][rows],
                        blocks[rows],
                    )
                )
                for metric in ("rps", "log_loss", "brier")
            }
    return {
        "n": len(y),
        "metrics": metrics,
        "vs": differences,
        "reduces_to": reductions(forecasts),
    }


def reductions(forecasts: Forecasts) -> dict[str, str]:
    """Sets whose forecasts equal another forecast's (mean |Δp| < ``REDUCTION_TOL``)."""
    out = {}
    others = [*SET_NAMES, MARKET, DIXON_COLES]
    for name in SET_NAMES:
        for other in others:
            if other == name or (
                other in SET_NAMES and SET_NAMES.index(other) > SET_NAMES.index(name)
            ):
                continue
            gap = np.abs(forecasts.probs[name] - forecasts.probs[other])
            rows = np.isfinite(gap).all(axis=1)
            if rows.any() and gap[rows].mean() < REDUCTION_TOL:
                out[name] = other
                break
    return out


def comparison(con: duckdb.DuckDBPyConnection, bins: int = DEFAULT_BINS) -> dict[str, object]:
    """The report of the stored out-of-sample rows of the evaluation window: pooled over the
    leagues and per league (``sample_comparison`` each), with the protocol."""
    empty = {"window": REPORT_WINDOW, "n": 0, "pooled": None, "leagues": {}}
    if not warehouse.table_exists(con, "prediction_sets") or "market_source" not in (
        warehouse.table_columns(con, "prediction_sets")
    ):
        return empty  # nothing delivered yet (or a warehouse from before migration 2)
    forecasts = load_forecasts(con, list(LEAGUE_CODES), list(REPORT_SEASONS))
    if forecasts.matches.empty:
        return empty
    leagues = {
        league: sample_comparison(
            forecasts.take((forecasts.matches["league"] == league).to_numpy()), bins
        )
        for league in LEAGUE_CODES
        if (forecasts.matches["league"] == league).any()
    }
    newcomer = newcomer_matches(con, forecasts.matches)
    return {
        "window": REPORT_WINDOW,
        "n": len(forecasts.matches),
        "protocol": PROTOCOL,
        "note": MARKET_INPUT_NOTE,
        "pooled": sample_comparison(forecasts, bins),
        "subsets": {
            "newcomer": sample_comparison(forecasts.take(newcomer), bins),
            "well_known": sample_comparison(forecasts.take(~newcomer), bins),
        },
        "leagues": leagues,
    }


def newcomer_matches(con: duckdb.DuckDBPyConnection, matches: pd.DataFrame) -> np.ndarray:
    """True where a side did not play in the same league the season before (a promoted or
    new club); the others are matches of well-known teams."""
    flags = con.execute(
        """
        WITH teams AS (
            SELECT league, season, home_team_id AS team FROM matches
            UNION SELECT league, season, away_team_id FROM matches
        ), previous AS (
            SELECT league, team, printf('%d-%02d', CAST(left(season, 4) AS INTEGER) + 1,
                (CAST(left(season, 4) AS INTEGER) + 2) % 100) AS season FROM teams
        )
        SELECT m.match_id,
            (h.team IS NULL OR a.team IS NULL) AS newcomer
        FROM matches m
        LEFT JOIN previous h ON h.league = m.league AND h.season = m.season
            AND h.team = m.home_team_id
        LEFT JOIN previous a ON a.league = m.league AND a.season = m.season
            AND a.team = m.away_team_id
        """
    ).df()
    by_match = flags.set_index("match_id")["newcomer"]
    return by_match.reindex(matches["match_id"]).fillna(True).to_numpy(dtype=bool)


PROTOCOL = (
    "Nested walk-forward: each match is predicted by members refitted weekly on matches "
    "strictly before the refit date (3 earlier seasons): the league's Dixon-Coles model (time "
    "decay ξ chosen per league and season from the log loss of the two earlier seasons only), "
    "odds ratings fitted to earlier matches' market-implied goals (variant chosen per season "
    "from the two earlier seasons) and Elo (ordered logit fitted on earlier seasons); their "
    "log-linear pool (weights and form fitted on every league's earlier seasons) is set A's "
    "input, calibrated by isotonic curves and combined into sets with parameters fitted only "
    "on earlier seasons (G stacked on out-of-sample set forecasts); market-using sets take "
    "football-data's "
    "pre-closing line (Pinnacle, else market average, else Bet365), never the closing one. "
    "All forecasts are scored on the same matches (played, every set stored, a pre-closing "
    "line); the closing line is the benchmark, compared on the matches that have one. "
    "Differences are set − market per match; 95 % intervals from a bootstrap of whole weeks "
    "(2000 resamples, fixed seed)."
)


def comparison_table(sample: Mapping[str, object]) -> pd.DataFrame:
    """One row per forecast: metrics, then RPS and log-loss differences vs both markets with
    their intervals."""
    rows = []
    metrics = sample["metrics"]
    for name in (*SET_NAMES, *MEMBERS, MARKET, CLOSING, BASE_RATE):
        if name not in metrics:
            continue
        row = {"forecast": name, **metrics[name]}
        for reference, tag in ((MARKET, "dec"), (CLOSING, "close")):
            diff = sample["vs"].get(name, {}).get(reference)
            for metric in ("rps", "log_loss"):
                row[f"Δ{metric}_{tag}"] = (
                    ""
                    if diff is None
                    else f"{diff[metric]['mean']:+.5f} [{diff[metric]['low']:+.5f}, "
                    f"{diff[metric]['high']:+.5f}]"
                )
        if name in sample["reduces_to"]:
            row["forecast"] = f"{name} (= {sample['reduces_to'][name]})"
        rows.append(row)
    return pd.DataFrame(rows).set_index("forecast")
