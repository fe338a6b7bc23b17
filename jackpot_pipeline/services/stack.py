"""Set A's input: the members stacked out of sample (the pipeline's stacking stage).

Per season S, from every league's out-of-sample member forecasts of the seasons strictly before
S (:mod:`jackpot_pipeline.core.stacking`):

1. the odds-ratings variant with the lowest mean log loss over the two seasons before S (the
   first season takes :data:`members.ODDS_DEFAULT`);
2. the log-linear pool q_j ∝ exp(b_j + Σ_k w_k log p_kj) of Dixon-Coles, the chosen odds
   ratings and Elo, fitted on the rows of the seasons before S (each with its own season's
   variant) once there are at least :data:`MIN_TRAIN` of them, in the form — ``plain`` (b = 0)
   or ``biased`` (home and draw intercepts) — whose own walk-forward forecasts had the lower
   log loss over the two seasons before S (``plain`` until both have been scored).

The pooled forecast of a match is stored in ``stacked_predictions`` (source ``stack``); a match
that lacks a member's forecast or whose season has no weights yet keeps its Dixon-Coles forecast
(source ``dc``). Calibration and the sets read this table as "the model" (``load_oos``). A
season's choices (``stack_choices``) are what the jackpot forecaster applies to its fixtures.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from jackpot_pipeline.core.metrics import encode_results
from jackpot_pipeline.core.stacking import PoolWeights, fit_pool, pool, select_variants
from jackpot_pipeline.services import members, warehouse

DC = "dc"
ODDS = "odds_ratings"
STACK_MEMBERS: tuple[str, ...] = (DC, ODDS, members.ELO)
VARIANTS: tuple[str, ...] = tuple(spec.name for spec in members.PIPELINE_SPECS)
MIN_TRAIN = 1000
VALIDATION_SEASONS = 2
FORMS: tuple[str, ...] = ("plain", "biased")
PROBS = ("p_home", "p_draw", "p_away")
OUTCOMES = ("home", "draw", "away")


@dataclass(frozen=True)
class StackChoice:
    """What season ``season`` applies: the odds variant and the pool form (each with the
    validation log losses that chose it), the pool weights per member and the intercepts
    fitted on ``n_train`` earlier rows (weights None: none yet, the season keeps Dixon-Coles)."""

    season: str
    odds_variant: str
    variant_scores: tuple[tuple[str, float], ...]
    weights: tuple[float, ...] | None
    n_train: int
    train_log_loss: float | None
    form: str = FORMS[0]
    form_scores: tuple[tuple[str, float], ...] = ()
    bias: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def version(self) -> str:
        """Content hash of the choice (part of a jackpot's version key)."""
        text = json.dumps([self.season, self.odds_variant, self.weights, self.bias], default=str)
        return "stack-" + hashlib.sha256(text.encode()).hexdigest()[:12]

    def combine(self, forecasts: dict[str, np.ndarray]) -> tuple[np.ndarray, str]:
        """Pooled 1X2 (n, 3) of members' forecasts (``dc``, ``odds_ratings``, ``elo``) and its
        source: ``stack``, or ``dc`` without weights or with a member missing (NaN)."""
        dc = np.asarray(forecasts[DC], dtype=np.float64)
        parts = [
            np.asarray(forecasts.get(name, np.nan), dtype=np.float64) for name in STACK_MEMBERS
        ]
        if self.weights is None or not all(np.isfinite(p).all() for p in parts):
            return dc, DC
        logs = np.stack([np.log(np.clip(p, 1e-12, 1.0)) for p in parts])
        return pool(logs, np.asarray(self.weights), self.bias), "stack"


def wide_members(long: pd.DataFrame) -> pd.DataFrame:
    """One row per match with ``{member}_home/_draw/_away`` columns from long rows."""
    table = long.pivot_table(index="match_id", columns="member", values=list(PROBS))
    table.columns = [f"{member}_{column[2:]}" for column, member in table.columns]
    return table


def choices(frame: pd.DataFrame, seasons: Sequence[str]) -> dict[str, StackChoice]:
    """The choice of every season in ``seasons`` from the complete rows of ``frame`` (wide
    members, season, outcome) of earlier seasons only."""
    selected, selections = select_variants(
        frame,
        VARIANTS,
        default=members.ODDS_DEFAULT,
        validation_periods=VALIDATION_SEASONS,
        extra_periods=seasons,
    )
    chosen = {s.period: s for s in selections}
    pooled = frame.assign(**{f"{ODDS}_{o}": selected[:, i] for i, o in enumerate(OUTCOMES)})
    fits, losses = _walk_forms(pooled, sorted(set(frame["season"]) | set(seasons)))
    out = {}
    for season in seasons:
        scored = [s for s in sorted(losses) if s < season][-VALIDATION_SEASONS:]
        form_scores = (
            tuple(
                (form, float(np.concatenate([losses[s][form] for s in scored]).mean()))
                for form in FORMS
            )
            if scored
            else ()
        )
        form = min(form_scores, key=lambda item: item[1])[0] if form_scores else FORMS[0]
        fitted = fits.get(season, {}).get(form)
        out[season] = StackChoice(
            season,
            chosen[season].chosen,
            chosen[season].scores,
            None if fitted is None else fitted.weights,
            int((pooled["season"] < season).sum()),
            None if fitted is None else fitted.log_loss,
            form,
            form_scores,
            (0.0, 0.0, 0.0) if fitted is None else fitted.bias,
        )
    return out


def _walk_forms(
    pooled: pd.DataFrame, seasons: Sequence[str]
) -> tuple[dict[str, dict[str, PoolWeights]], dict[str, dict[str, np.ndarray]]]:
    """Per season (with ≥ MIN_TRAIN earlier rows) each form's pool fitted on the earlier rows,
    and each form's per-match log loss on the season's own rows (its walk-forward score)."""
    fits: dict[str, dict[str, PoolWeights]] = {}
    losses: dict[str, dict[str, np.ndarray]] = {}
    for season in seasons:
        train = pooled[pooled["season"] < season]
        if len(train) < MIN_TRAIN:
            continue
        probs = [train[columns_of(m)].to_numpy(float) for m in STACK_MEMBERS]
        outcome = train["outcome"].to_numpy()
        fits[season] = {
            form: fit_pool(probs, outcome, STACK_MEMBERS, biased=form == "biased") for form in FORMS
        }
        rows = pooled[pooled["season"] == season]
        if rows.empty:
            continue
        logs = np.stack(
            [
                np.log(np.clip(rows[columns_of(m)].to_numpy(float), 1e-12, 1.0))
                for m in STACK_MEMBERS
            ]
        )
        index = np.arange(len(rows))
        y = rows["outcome"].to_numpy()
        losses[season] = {
            form: -np.log(pool(logs, np.asarray(fit.weights), fit.bias)[index, y])
            for form, fit in fits[season].items()
        }
    return fits, losses


def columns_of(member: str) -> list[str]:
    """The wide columns of a member's home, draw and away probabilities."""
    return [f"{member}_{outcome}" for outcome in OUTCOMES]


def load_members(con: duckdb.DuckDBPyConnection, until_season: str) -> pd.DataFrame:
    """Every league's walk-forward rows up to ``until_season``, one per match: identity,
    as_of, result, outcome (0/1/2, −1 unplayed), the Dixon-Coles forecast (``dc_*``) and every
    stored member's (``{member}_*``, NaN where it has none), oldest first."""
    frame = con.execute(
        "SELECT o.match_id, o.league, o.season, o.match_date, o.as_of, o.p_home AS dc_home, "
        "o.p_draw AS dc_draw, o.p_away AS dc_away, m.result FROM oos_predictions o "
        "JOIN matches m USING (match_id) WHERE o.season <= ? ORDER BY o.match_date, o.match_id",
        [until_season],
    ).df()
    long = con.execute(
        "SELECT match_id, member, p_home, p_draw, p_away FROM member_predictions WHERE season <= ?",
        [until_season],
    ).df()
    wide = wide_members(long).reindex(
        columns=[c for m in (*VARIANTS, members.ELO) for c in columns_of(m)]
    )
    frame = frame.join(wide, on="match_id")
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    played = frame["result"].notna()
    frame["outcome"] = -1
    frame.loc[played, "outcome"] = encode_results(frame.loc[played, "result"].to_numpy())
    return frame


def complete(frame: pd.DataFrame) -> pd.Series:
    """Rows with a result and a forecast of every member and variant (the stack's training
    rows)."""
    needed = [c for m in (DC, *VARIANTS, members.ELO) for c in columns_of(m)]
    return (frame["outcome"] >= 0) & frame[needed].notna().all(axis=1)


def stacked(frame: pd.DataFrame, chosen: dict[str, StackChoice]) -> pd.DataFrame:
    """``stacked_predictions`` rows of ``frame`` (seasons in ``chosen``): each season's choice
    applied to its matches."""
    parts = []
    for season, rows in frame.groupby("season", sort=True):
        choice = chosen[str(season)]
        forecasts = {
            DC: rows[columns_of(DC)].to_numpy(float),
            ODDS: rows[columns_of(choice.odds_variant)].to_numpy(float),
            members.ELO: rows[columns_of(members.ELO)].to_numpy(float),
        }
        usable = np.all([np.isfinite(p).all(axis=1) for p in forecasts.values()], axis=0)
        probs = forecasts[DC].copy()
        source = np.full(len(rows), DC, dtype=object)
        if usable.any():
            pooled, label = choice.combine({k: v[usable] for k, v in forecasts.items()})
            probs[usable], source[usable] = pooled, label
        part = rows[["match_id", "league", "season", "match_date", "as_of"]].copy()
        part["source"] = source
        part[list(PROBS)] = probs
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def choice_rows(chosen: dict[str, StackChoice]) -> pd.DataFrame:
    """``stack_choices`` rows."""
    return pd.DataFrame(
        [
            {
                "season": c.season,
                "odds_variant": c.odds_variant,
                "variant_scores": json.dumps(dict(c.variant_scores)),
                "members": json.dumps(STACK_MEMBERS),
                "weights": json.dumps(None if c.weights is None else list(c.weights)),
                "form": c.form,
                "form_scores": json.dumps(dict(c.form_scores)),
                "bias": json.dumps(list(c.bias)),
                "n_train": c.n_train,
                "train_log_loss": c.train_log_loss,
                "version": c.version,
            }
            for c in chosen.values()
        ]
    )


def load_choice(con: duckdb.DuckDBPyConnection, season: str) -> StackChoice | None:
    """The stored choice of ``season`` (None when the stage has not stored it)."""
    row = con.execute(
        "SELECT season, odds_variant, variant_scores, weights, n_train, train_log_loss, form, "
        "form_scores, bias FROM stack_choices WHERE season = ?",
        [season],
    ).fetchone()
    if row is None:
        return None
    weights = json.loads(row[3])
    return StackChoice(
        row[0],
        row[1],
        tuple(json.loads(row[2]).items()),
        None if weights is None else tuple(weights),
        int(row[4]),
        row[5],
        row[6],
        tuple(json.loads(row[7]).items()),
        tuple(json.loads(row[8])),
    )


def choice_for(con: duckdb.DuckDBPyConnection, season: str) -> StackChoice:
    """The choice ``season`` applies: stored, else computed from the stored rows of the
    seasons before it (a season the stage has not reached, e.g. one just begun)."""
    stored = load_choice(con, season)
    if stored is not None:
        return stored
    frame = load_members(con, season)
    return choices(frame[complete(frame) & (frame["season"] < season)], [season])[season]


def run_stack(
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    by_league: Mapping[str, Sequence[str]],
    log: logging.Logger,
) -> tuple[list[dict[str, object]], dict[str, StackChoice]]:
    """Choose every season of the run from earlier seasons, store the choices and the stacked
    forecasts of the run's partitions; one summary row per partition with rows."""
    seasons = sorted({s for run in by_league.values() for s in run})
    if not seasons:
        return [], {}
    with connect() as con:
        frame = load_members(con, seasons[-1])
    chosen = choices(frame[complete(frame)], seasons)
    summary: list[dict[str, object]] = []
    with connect() as con, warehouse.transaction(con):
        marks = ", ".join("?" for _ in seasons)
        con.execute(f"DELETE FROM stack_choices WHERE season IN ({marks})", seasons)
        warehouse.insert_frame(con, "stack_choices", choice_rows(chosen))
    for league, run in by_league.items():
        for season in run:
            rows = frame[(frame["league"] == league) & (frame["season"] == season)]
            if rows.empty:
                continue
            out = stacked(rows, chosen)
            with connect() as con, warehouse.transaction(con):
                where = {"league": league, "season": season}
                warehouse.replace_rows(con, "stacked_predictions", where, out)
            n_stack = int((out["source"] == "stack").sum())
            summary.append(
                {"league": league, "season": season, "rows": len(out), "stacked": n_stack}
            )
            log.info(f"{league} {season}: {n_stack} of {len(out)} forecasts stacked")
    return summary, chosen
