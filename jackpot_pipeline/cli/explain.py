"""``jackpot explain``: one forecast's decomposition, each number with the version behind it."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from jackpot_pipeline.cli import render
from jackpot_pipeline.cli.errors import CliError, UsageError
from jackpot_pipeline.cli.options import add_command, positive_int
from jackpot_pipeline.cli.reading import read_warehouse
from jackpot_pipeline.settings import Settings

EXAMPLES = """
jackpot explain data/jackpots/examples/2025-04-12_football-data-names.csv --fixture 3
jackpot explain jp-0123456789abcdef --fixture 1 --json   # a stored version
jackpot explain --match E0-2024-08-16-man-united-fulham   # a past match (walk-forward)
"""


def command_explain(args: argparse.Namespace) -> int:
    """Read the stored decomposition and print it (or its JSON)."""
    from jackpot_pipeline.services import explain

    if (args.coupon is None) == (args.match is None):
        raise UsageError("give a COUPON with --fixture N, or --match MATCH_ID")
    if args.coupon is not None and args.fixture is None:
        raise UsageError("--fixture N is required with a COUPON (its row, from 1)")
    try:
        with read_warehouse() as con:
            if args.match is not None:
                method = Settings.from_env().margin_method
                explained = explain.explain_match(con, args.match, method)
            else:
                version = explain.find_jackpot_version(con, args.coupon)
                explained = explain.explain_fixture(con, version, args.fixture)
    except explain.ExplainError as error:
        raise CliError(str(error)) from None
    if args.json:
        render.emit_json(explained)
    else:
        print_explanation(explained, render.console())
    return 0


def print_explanation(explained: dict[str, Any], out: Console) -> None:
    """Header, model (ratings → λ → scores → 1X2), and the 1X2 of every step and set."""
    terminal = out.is_terminal
    for line in _header(explained):
        out.print(line)
    model = explained["model"]
    out.print()
    out.print(_model_line(model), overflow="fold")
    if model["rho"] is None:
        out.print(
            render.marker(
                render.WARN,
                "ratings, ρ and home advantage of this refit are not stored (only λ, μ and "
                "the 1X2 are)",
            ),
            overflow="fold",
        )
    else:
        out.print(_ratings_table(explained, terminal))
    for line in _lambda_lines(model):
        out.print(line)
    if model["top_scores"]:
        scores = " · ".join(
            f"{s['score']} {render.percent(s['prob'], 1)}" for s in model["top_scores"]
        )
        out.print(f"Top scores: {scores}")
    out.print()
    out.print(_steps_table(explained, terminal))
    out.print()
    out.print("Probabilities are estimates, not betting advice.")


def _model_line(model: dict[str, Any]) -> str:
    """The fit: ids, as-of date, training window, ξ and ρ (what is stored of them)."""
    parts = [f"Model {model['model_id']}"]
    versions = [f"{k} {model[f'{k}_version']}" for k in ("params", "data") if model[f"{k}_version"]]
    if versions:
        parts.append(f"({', '.join(versions)})")
    fitted = f": fitted as of {model['as_of']} on {model['n_train_matches']:,} matches"
    if model["training_since"]:
        fitted += f" since {model['training_since']}"
    fitted += f", ξ {model['xi']:.4g}{_source(model['xi_source'])}"
    if model["rho"] is not None:
        fitted += f", ρ {model['rho']:.3f}"
    return " ".join(parts) + fitted


def _header(explained: dict[str, Any]) -> list[str]:
    if explained["kind"] == "historical_match":
        m = explained["match"]
        score = "" if m["home_goals"] is None else f", result {m['home_goals']}-{m['away_goals']}"
        return [
            f"Match {m['match_id']}: {m['home_team']} v {m['away_team']} · {m['league']} "
            f"{m['season']} · {render.short_kickoff(m['match_date'])}{score}",
            "Walk-forward forecast (model fitted only on earlier matches)",
        ]
    j, f = explained["jackpot"], explained["fixture"]
    lines = [
        f"Fixture {f['row']} of coupon {j['coupon_name'] or j['coupon_id']} — version "
        f"{j['jackpot_version']} ({j['code_version']})",
        f"{f['home']} v {f['away']} · {f['league']}{' (inferred)' if f['league_inferred'] else ''}"
        f" {f['season']} · {render.short_kickoff(f['kickoff'])} UTC",
    ]
    lines += [render.name_match_text(m) for m in f["name_matches"]]
    if f["flags"]:
        lines.append(f"{render.WARN} {render.flag_legend(f['flags'])}")
    return lines


def _ratings_table(explained: dict[str, Any], terminal: bool) -> Any:
    model = explained["model"]
    fixture = explained.get("fixture") or {
        side: explained["match"][f"{side}_team"] for side in ("home", "away")
    }
    grid = render.table("", ("attack", "right"), ("defence", "right"), terminal=terminal)
    for side in ("home", "away"):
        ratings = model[side]
        grid.add_row(
            f"{fixture[side]} ({side})", _number(ratings["attack"]), _number(ratings["defence"])
        )
    grid.add_row("home advantage", _number(model["home_advantage"]), "")
    return grid


def _lambda_lines(model: dict[str, Any]) -> list[Any]:
    """λ and μ as stored, with the formula from the ratings and a ✓ when they agree."""
    check = model["lambda_from_ratings"]
    lines = []
    for key, formula in (
        ("lambda_home", "exp(attack home + defence away + home advantage)"),
        ("lambda_away", "exp(attack away + defence home)"),
    ):
        name = "λ home" if key == "lambda_home" else "μ away"
        text = f"{name} = {formula} = {model[key]:.3f} expected goals"
        if check is None:
            lines.append(text)
        elif abs(check[key] - model[key]) <= 1e-6 * max(1.0, model[key]):
            lines.append(render.marker(render.OK, text))
        else:
            lines.append(render.marker(render.WARN, f"{text} (ratings give {check[key]:.3f})"))
    return lines


def _steps_table(explained: dict[str, Any], terminal: bool) -> Any:
    """Raw model, calibration, market, then every set: 1X2 and where it comes from."""
    grid = render.table(
        "step", ("1", "right"), ("X", "right"), ("2", "right"), "from", terminal=terminal
    )
    model, calibration, market = explained["model"], explained["calibration"], explained["market"]
    grid.add_row("Dixon-Coles", *_pcts(model["probs"]), model["model_id"])
    members = explained.get("members")
    if members:
        grid.add_row("odds ratings", *_pcts(members["odds_ratings"]), members["odds_variant"])
        grid.add_row("Elo", *_pcts(members["elo"]), "Elo + ordered logit")
        weights = members["weights"] or {}
        pooled = ", ".join(f"{name} {w:.2f}" for name, w in weights.items())
        grid.add_row(
            "stack",
            *_pcts(members["stack"]),
            f"{members['form']} pool: {pooled}" if members["source"] == "stack" else "Dixon-Coles",
        )
    curve = calibration["curve"] or {}
    cal_from = (
        f"{calibration['version']} ({curve.get('scope')} curve to "
        f"{curve.get('trained_on_end')}, n={curve.get('n_samples') or 0:,})"
        if calibration["calibrated"]
        else f"{calibration['version']}: none (scored best on earlier seasons)"
        if curve.get("scope") == "none"
        else f"{calibration['version']}: identity (no curve)"
    )
    grid.add_row("calibrated", *_pcts(calibration["after"]), cal_from)
    if market["probs"] is None:
        grid.add_row("market", "-", "-", "-", "no market odds")
    else:
        odds = (
            "" if market["odds"] is None else ", odds " + "/".join(f"{o:g}" for o in market["odds"])
        )
        over = "" if market["overround"] is None else f", margin {100 * market['overround']:.1f}%"
        grid.add_row(
            "market",
            *_pcts(market["probs"]),
            f"{market['source']}, {market['margin_method']}{over}{odds}",
        )
    grid.add_section()
    params = explained["set_params"]
    for s in explained["sets"]:
        grid.add_row(f"{s['set']} {s['label']}", *_pcts(s["probs"]), _set_rule(s))
    if params["version"]:
        grid.add_section()
        fitted = (params["params"] or {}).get("n_train")
        on = f" (fitted on n={fitted:,})" if fitted else ""
        grid.add_row("set parameters", "", "", "", f"{params['version']}{on}")
    return grid


def _set_rule(s: dict[str, Any]) -> str:
    """How a set combined model and market for this fixture (from its stored detail)."""
    detail = s["detail"]
    if s["fell_back_to_a"]:
        return "= A (no market odds)"
    parts = []
    if s["model_weight"] is not None and s["set"] != "A" and "draw_boost" not in detail:
        parts.append(f"model weight {s['model_weight']:.2f}")
    if "pooling" in detail:
        parts.append(f"{detail['pooling']} pool")
    if "temperature" in detail:
        parts.append(f"T {detail['temperature']:.2f}")
    if "draw_boost" in detail:
        parts.append(f"draw boost {detail['draw_boost']:+.3f} ({detail['draw_boost_scope']})")
    if "kelly_scale" in detail:
        parts.append(f"Kelly scale {detail['kelly_scale']:.2f}")
    if "ensemble_weights" in detail:
        weights = detail["ensemble_weights"]
        parts.append("weights " + " ".join(f"{k} {v:.2f}" for k, v in weights.items()))
    return ", ".join(parts) or detail.get("formula", "")


def _pcts(probs: list[float] | None) -> list[str]:
    return ["-"] * 3 if probs is None else [render.percent(p, 1) for p in probs]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def _source(source: str | None) -> str:
    return f" ({source})" if source else ""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "explain",
        command_explain,
        "how one forecast was made: ratings, λ, scores, calibration, market, every set",
        EXAMPLES,
        json=True,
    )
    parser.add_argument(
        "coupon",
        nargs="?",
        metavar="COUPON",
        help="a coupon file, a stored version (jp-…) or a coupon id",
    )
    parser.add_argument("--fixture", type=positive_int, help="the coupon's fixture row, from 1")
    parser.add_argument("--match", metavar="MATCH_ID", help="a historical match instead")
