"""Guards that keep a new football-data file from shrinking or corrupting its partition.

A file is compared with what its league × season partition holds and with the league's other
stored seasons before anything is written:

* **share of rows lost** — rows of another league (``Div``), unparseable dates, dates outside
  the season and rows rejected by the error checks: more than ``MAX_REJECTED_SHARE`` of the
  file's rows is refused (a 2022-23 file in the 2023-24 folder, an E1 file in E0's place,
  dates written yyyy-mm-dd);
* **stored matches lost** — a stored fixture (home × away pair, counted with multiplicity so a
  re-dated match is an update) missing from the new file (a download cut short);
* **club names** — a name whose id is unknown to this and the adjacent stored seasons and to
  the country's alias set but reads as one of those clubs is mapped to it with a quality
  record (a mis-decoded ``Nott’m Forest`` is not a new club); others are new clubs
  (promoted), logged;
* **plausibility** — clubs at most ``TEAM_SLACK`` above the league's largest stored season
  (``GENERIC_MAX_TEAMS`` without history) and, once a file has as many matches as the
  smallest stored season has clubs, at most ``TEAM_SLACK`` below it; matches at most
  ``SCHEDULE_SLACK`` × the league's largest stored rounds ratio m / (n (n − 1)) × n (n − 1)
  (4 rounds without history); at most ``max(MIN_NEW_TEAMS, NEW_TEAM_SHARE × n)`` clubs
  absent from this and the adjacent seasons.

Losing rows or stored matches is applied only with ``allow_shrink`` (and logged); an
implausible file is always refused.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

import duckdb
import pandas as pd

from jackpot_pipeline.core.football_data import FootballDataError, ParsedFile
from jackpot_pipeline.core.seasons import previous_season, season_bounds
from jackpot_pipeline.core.teams import (
    country_code_of,
    league_info,
    load_aliases,
    normalize_name,
)

MAX_REJECTED_SHARE = 0.05  # of the file's non-blank rows
TEAM_SLACK = 4  # clubs above the league's largest stored season
GENERIC_MAX_TEAMS = 40  # a league without stored history
GENERIC_ROUNDS = 4.0  # matches ≤ rounds × n (n − 1) without history (Scotland: 1.73)
SCHEDULE_SLACK = 1.05
MIN_NEW_TEAMS, NEW_TEAM_SHARE = 4, 0.35
ALIAS_THRESHOLD = 0.9  # SequenceMatcher ratio of normalized names to read a name as a known club
EXAMPLES = 5


class PartitionRefusedError(FootballDataError):
    """A file refused for its partition: nothing is written, the stored data is kept."""

    def __init__(self, issue_type: str, message: str) -> None:
        self.issue_type = issue_type
        super().__init__(message)


@dataclass(frozen=True)
class PartitionState:
    """What the warehouse holds for a partition and its league."""

    league: str
    season: str
    stored: pd.DataFrame  # the partition's matches: match_id, home/away team id, checksum
    history: pd.DataFrame  # other seasons of the league: season, teams, matches
    neighbours: pd.DataFrame  # team_id, name of the clubs of this and the adjacent seasons
    aliases: pd.DataFrame  # alias, team_id of the league's country (data/team_aliases.csv)


@dataclass(frozen=True)
class Loss:
    """Stored fixtures a file would delete."""

    stored: int
    lost: int
    examples: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"would delete {self.lost} of the {self.stored} stored matches "
            f"(e.g. {', '.join(self.examples)})"
        )


def load_state(con: duckdb.DuckDBPyConnection, league: str, season: str) -> PartitionState:
    """The partition's stored matches, the league's other seasons and neighbouring clubs."""
    stored = con.execute(
        "SELECT match_id, home_team_id, away_team_id, source_checksum FROM matches "
        "WHERE league = ? AND season = ?",
        [league, season],
    ).df()
    history = con.execute(
        "WITH sides AS (SELECT season, match_id, home_team_id AS team FROM matches "
        "WHERE league = ? AND season <> ? UNION ALL SELECT season, match_id, away_team_id "
        "FROM matches WHERE league = ? AND season <> ?) SELECT season, "
        "count(DISTINCT team) AS teams, count(DISTINCT match_id) AS matches FROM sides "
        "GROUP BY season ORDER BY season",
        [league, season, league, season],
    ).df()
    seasons = [previous_season(season, 1), season, previous_season(season, -1)]
    neighbours = con.execute(
        "SELECT DISTINCT ON (team_id) team_id, name FROM (SELECT home_team_id AS team_id, "
        "home_team AS name FROM matches WHERE league = ? AND season IN (?, ?, ?) UNION ALL "
        "SELECT away_team_id, away_team FROM matches WHERE league = ? AND season IN (?, ?, ?)) "
        "ORDER BY team_id, name",
        [league, *seasons, league, *seasons],
    ).df()
    country = league_info(league).country_code
    aliases = pd.DataFrame(
        [(a.alias, a.team_id) for a in load_aliases().aliases], columns=["alias", "team_id"]
    )
    aliases = aliases[aliases["team_id"].map(country_code_of) == country]
    return PartitionState(league, season, stored, history, neighbours, aliases)


def file_teams(parsed: ParsedFile) -> pd.DataFrame:
    """team_id, name of every club in a parsed file."""
    sides = [
        parsed.matches[[f"{side}_team_id", f"{side}_team"]].set_axis(["team_id", "name"], axis=1)
        for side in ("home", "away")
    ]
    return pd.concat(sides, ignore_index=True).drop_duplicates("team_id", ignore_index=True)


def known_club_names(parsed: ParsedFile, state: PartitionState) -> tuple[dict[str, str], list]:
    """Names whose id is neither in this or the adjacent stored seasons nor in the country's
    alias set, but which read as one of those clubs (normalized-name ratio ≥
    ``ALIAS_THRESHOLD``, club not in the file under its own name): name → that club's id, and
    one quality record per such name, read as a known club or kept as a new one (promoted)."""
    known = pd.concat(
        [state.neighbours.rename(columns={"name": "alias"}), state.aliases], ignore_index=True
    )
    if known.empty:
        return {}, []
    keys = [
        (normalize_name(alias), team_id, alias)
        for alias, team_id in zip(known["alias"], known["team_id"], strict=True)
    ]
    teams = file_teams(parsed)
    present = set(teams["team_id"])
    renamed: dict[str, str] = {}
    records = []
    for team_id, name in zip(teams["team_id"], teams["name"], strict=True):
        if team_id in set(known["team_id"]):
            continue
        key = normalize_name(name)
        score, club, alias = max((SequenceMatcher(None, key, k).ratio(), i, a) for k, i, a in keys)
        if score >= ALIAS_THRESHOLD and club not in present:
            renamed[name] = club
            detail = (
                f"club name {name!r} is not in {state.league}'s alias set: read as {alias!r} "
                f"({club}, similarity {score:.2f}) rather than as a new club"
            )
            records.append(_record("warning", "team_name_alias", detail, "mapped"))
        else:
            detail = (
                f"club {name!r} ({team_id}) is new to {state.league}'s seasons and aliases: kept "
                f"as a new club (promoted); closest known {alias!r} ({score:.2f})"
            )
            records.append(_record("info", "new_team", detail, "logged"))
    return renamed, records


def implausible_size(parsed: ParsedFile, state: PartitionState) -> str | None:
    """Why a file's number of clubs or matches cannot be this league-season's, or None."""
    teams = file_teams(parsed)
    n, matches = len(teams), len(parsed.matches)
    history = state.history
    max_teams = int(history["teams"].max()) + TEAM_SLACK if len(history) else GENERIC_MAX_TEAMS
    where = f"{state.league} {state.season}"
    if n > max_teams:
        basis = f"{len(history)} stored seasons" if len(history) else "a league without history"
        return f"{n} clubs in {where}; at most {max_teams} are plausible ({basis})"
    usual = int(history["teams"].min()) if len(history) else 0
    if matches >= usual and n < usual - TEAM_SLACK:
        return (
            f"{n} clubs in {where} over {matches} matches; at least {usual - TEAM_SLACK} are "
            f"plausible once a round is played ({len(history)} stored seasons)"
        )
    rounds = (
        float((history["matches"] / (history["teams"] * (history["teams"] - 1))).max())
        if len(history)
        else GENERIC_ROUNDS
    )
    schedule = math.ceil(SCHEDULE_SLACK * rounds * n * (n - 1))
    if matches > schedule:
        return (
            f"{matches} matches for {n} clubs in {where}; a schedule of {rounds:.2f} rounds "
            f"has at most {schedule}"
        )
    return None


def implausible_clubs(parsed: ParsedFile, state: PartitionState) -> str | None:
    """Why a file's clubs cannot be this league-season's (too many absent from the
    neighbouring seasons), or None."""
    if state.neighbours.empty:
        return None
    teams = file_teams(parsed)
    n = len(teams)
    new = sorted(set(teams["name"][~teams["team_id"].isin(state.neighbours["team_id"])]))
    allowed = max(MIN_NEW_TEAMS, math.ceil(NEW_TEAM_SHARE * n))
    if len(new) > allowed:
        return (
            f"{len(new)} of {n} clubs never played in {state.league} in the neighbouring seasons "
            f"(at most {allowed} are plausible): {', '.join(new[:8])}{' …' if len(new) > 8 else ''}"
        )
    return None


def rows_outside_season(parsed: ParsedFile, season: str) -> pd.Series:
    """Whether each parsed match is dated outside the season's bounds."""
    start, end = (pd.Timestamp(day) for day in season_bounds(season))
    dates = parsed.matches["match_date"]
    return (dates < start) | (dates > end)


def rejected_reasons(parsed: ParsedFile, season: str, kept: int) -> Counter[str]:
    """Rows of the file that would not be stored, by reason."""
    reasons: Counter[str] = Counter(
        parsed.issues.loc[parsed.issues["row_number"].notna(), "issue_type"]
        .loc[lambda s: s.isin(["wrong_league", "bad_date", "missing_team"])]
        .tolist()
    )
    outside = int(rows_outside_season(parsed, season).sum())
    if outside:
        reasons["outside_season"] = outside
    dropped = parsed.rows_read - kept - sum(reasons.values())
    if dropped > 0:
        reasons["failed_checks"] = dropped
    return reasons


def describe_rejections(parsed: ParsedFile, season: str, reasons: Counter[str]) -> str:
    """``reasons`` in words, with the dates of out-of-season rows and the Div found."""
    parts = []
    for reason, count in reasons.most_common():
        text = f"{count} {reason.replace('_', ' ')}"
        if reason == "outside_season":
            outside = parsed.matches.loc[rows_outside_season(parsed, season), "match_date"]
            text += (
                f" (dated {outside.min():%Y-%m-%d} … {outside.max():%Y-%m-%d}, season "
                f"{season} runs {season_bounds(season)[0]} … {season_bounds(season)[1]})"
            )
        elif reason == "wrong_league":
            issues = parsed.issues[parsed.issues["issue_type"] == reason]
            text += f" ({issues['detail'].iloc[0].split(':')[0]}, …)"
        parts.append(text)
    return ", ".join(parts)


def lost_matches(state: PartitionState, matches: pd.DataFrame) -> Loss:
    """Stored fixtures (home × away pairs with multiplicity) the new matches would not cover."""
    stored = state.stored
    new_pairs = Counter(zip(matches["home_team_id"], matches["away_team_id"], strict=True))
    lost: list[str] = []
    seen: Counter[tuple[str, str]] = Counter()
    for match_id, home, away in zip(
        stored["match_id"], stored["home_team_id"], stored["away_team_id"], strict=True
    ):
        seen[(home, away)] += 1
        if seen[(home, away)] > new_pairs[(home, away)]:
            lost.append(match_id)
    return Loss(len(stored), len(lost), tuple(sorted(lost)[:EXAMPLES]))


def _record(severity: str, issue_type: str, detail: str, action: str) -> dict:
    return {
        "check_name": "partition_guard",
        "severity": severity,
        "issue_type": issue_type,
        "match_id": None,
        "row_number": None,
        "detail": detail,
        "action": action,
    }


def guard_record(issue_type: str, detail: str, action: str) -> dict:
    """A partition-level data-quality record (``refused`` or ``allowed``)."""
    return _record("error", issue_type, detail, action)
