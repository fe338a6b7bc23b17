"""Team ids, the shipped alias table and the resolver, checked against the shipped data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from jackpot_pipeline.core.teams import (
    ALIASES_PATH,
    LEAGUES,
    Alias,
    TeamResolver,
    UnknownTeamError,
    build_teams,
    load_aliases,
    normalize_name,
    team_id_for,
)
from jackpot_pipeline.settings import DATA_DIR

ODDS_API_LEAGUES = {league.odds_api_sport: code for code, league in LEAGUES.items()}


@pytest.fixture(scope="module")
def appearances() -> list[tuple[str, str]]:
    """(football-data name, league) of every shipped match side, seasons in order."""
    pairs: list[tuple[str, str]] = []
    for path in sorted((DATA_DIR / "football-data").glob("*/*.csv")):
        frame = pd.read_csv(path, encoding="utf-8-sig", usecols=["HomeTeam", "AwayTeam"])
        names = pd.concat([frame["HomeTeam"], frame["AwayTeam"]]).dropna().unique()
        pairs.extend((name, path.stem) for name in names)
    return pairs


@pytest.fixture(scope="module")
def odds_api_names() -> set[tuple[str, str]]:
    """(Odds API team name, league) of every recorded event of the enabled leagues' sports."""
    names: set[tuple[str, str]] = set()
    for path in (DATA_DIR / "odds-api").glob("soccer_*.json"):
        for event in _events(json.loads(path.read_text(encoding="utf-8"))):
            if event["sport_key"] in ODDS_API_LEAGUES:
                league = ODDS_API_LEAGUES[event["sport_key"]]
                names.update({(event["home_team"], league), (event["away_team"], league)})
    return names


def _events(document: object) -> Iterator[dict]:
    """Event objects anywhere in a response, including historical ``{timestamp, data}`` wrappers."""
    if isinstance(document, dict):
        if "home_team" in document and "sport_key" in document:
            yield document
        for value in document.values():
            yield from _events(value)
    elif isinstance(document, list):
        for value in document:
            yield from _events(value)


@pytest.fixture(scope="module")
def resolver() -> TeamResolver:
    return load_aliases()


@pytest.mark.parametrize(
    ("name", "league", "expected"),
    [
        ("Man United", "E0", "eng-man-united"),
        ("Nott'm Forest", "E1", "eng-nottm-forest"),
        ("Ath Madrid", "SP1", "esp-ath-madrid"),
        ("M'gladbach", "D1", "ger-mgladbach"),
        ("Schalke 04", "D1", "ger-schalke-04"),
        ("Paris SG", "F1", "fra-paris-sg"),
        ("Ajaccio", "F1", "fra-ajaccio"),
        ("Ajaccio GFCO", "F1", "fra-ajaccio-gfco"),
    ],
)
def test_team_id_is_readable_slug(name: str, league: str, expected: str) -> None:
    assert team_id_for(name, league) == expected


def test_leagues_metadata_is_frozen() -> None:
    manifest = (DATA_DIR / "football-data" / "MANIFEST.csv").read_text().splitlines()[1:]
    assert set(LEAGUES) == {line.split(",")[1] for line in manifest}  # enabled = shipped
    assert LEAGUES["E0"].country == "England" and LEAGUES["SP1"].country_code == "esp"
    assert LEAGUES["E1"].tier == 2 and LEAGUES["E0"].tier == 1
    with pytest.raises(TypeError):
        LEAGUES["X"] = LEAGUES["E0"]  # type: ignore[index]


def test_unknown_league_raises() -> None:
    with pytest.raises(ValueError, match="unknown league 'E9'"):
        team_id_for("Burnley", "E9")


def test_football_data_names_get_distinct_ids_and_promoted_clubs_one(
    appearances: list[tuple[str, str]],
) -> None:
    teams = build_teams(appearances)
    assert len(teams) == len({name for name, _ in appearances})
    burnley = {team_id_for("Burnley", league) for league in ("E0", "E1")}
    assert burnley == {"eng-burnley"}
    by_id = {team.team_id: team for team in teams}
    assert by_id["eng-burnley"].country == "England"
    assert by_id["eng-brentford"].first_league == "E1"  # promoted in 2021
    assert by_id["ger-bayern-munich"].first_league == "D1"


def test_build_teams_rejects_two_names_with_one_id() -> None:
    with pytest.raises(ValueError, match="eng-nottm-forest"):
        build_teams([("Nott'm Forest", "E0"), ("Nottm Forest", "E1")])


def test_alias_table_lists_every_football_data_name(
    appearances: list[tuple[str, str]], resolver: TeamResolver
) -> None:
    shipped = {alias.alias: alias for alias in resolver.aliases}
    assert len(shipped) == len(resolver.aliases)  # one row per spelling
    assert {alias.source for alias in resolver.aliases} == {"football-data", "odds-api", "common"}
    for name, league in appearances:
        assert shipped[name] == Alias(name, team_id_for(name, league), "football-data")
        assert resolver.resolve(name, league).team_id == team_id_for(name, league)
    assert {alias.team_id for alias in resolver.aliases} == {
        team_id_for(name, league) for name, league in appearances
    }


@pytest.mark.parametrize(
    ("odds_api_name", "league", "football_data_name"),
    [
        ("Manchester United", "E0", "Man United"),
        ("Manchester City", "E0", "Man City"),
        ("Wolverhampton Wanderers", "E0", "Wolves"),
        ("Brighton and Hove Albion", "E0", "Brighton"),
        ("Nottingham Forest", "E0", "Nott'm Forest"),
        ("Tottenham Hotspur", "E0", "Tottenham"),
        ("Queens Park Rangers", "E1", "QPR"),
        ("Sheffield Wednesday", "E1", "Sheffield Weds"),
        ("West Bromwich Albion", "E1", "West Brom"),
        ("Atlético Madrid", "SP1", "Ath Madrid"),
        ("Athletic Bilbao", "SP1", "Ath Bilbao"),
        ("Real Sociedad", "SP1", "Sociedad"),
        ("Rayo Vallecano", "SP1", "Vallecano"),
        ("Espanyol", "SP1", "Espanol"),
        ("Borussia Monchengladbach", "D1", "M'gladbach"),
        ("Eintracht Frankfurt", "D1", "Ein Frankfurt"),
        ("1. FC Heidenheim", "D1", "Heidenheim"),
        ("Inter Milan", "I1", "Inter"),
        ("AC Milan", "I1", "Milan"),
        ("Hellas Verona", "I1", "Verona"),
        ("Paris Saint Germain", "F1", "Paris SG"),
        ("Saint Etienne", "F1", "St Etienne"),
        ("Stade de Reims", "F1", "Reims"),
    ],
)
def test_odds_api_names_resolve_exactly_to_the_club(
    resolver: TeamResolver, odds_api_name: str, league: str, football_data_name: str
) -> None:
    resolution = resolver.resolve(odds_api_name, league)
    assert (resolution.method, resolution.score) == ("exact", 1.0)
    assert resolution.team_id == team_id_for(football_data_name, league)


def test_every_recorded_odds_api_name_resolves_exactly(
    resolver: TeamResolver, odds_api_names: set[tuple[str, str]]
) -> None:
    assert len(odds_api_names) > 100
    for name, league in odds_api_names:
        resolution = resolver.resolve(name, league)
        assert resolution.method == "exact", name
        assert resolution.team_id.startswith(LEAGUES[league].country_code + "-")


@pytest.mark.parametrize(
    ("name", "league", "expected", "method"),
    [
        ("manchester united fc", None, "eng-man-united", "normalized"),
        ("Brighton & Hove Albion", "E0", "eng-brighton", "normalized"),
        ("Paris Saint-Germain", "F1", "fra-paris-sg", "normalized"),
        ("Borussia Mönchengladbach", None, "ger-mgladbach", "normalized"),
        ("1. FC Köln", "D1", "ger-fc-koln", "normalized"),
        ("AC Ajaccio", "F1", "fra-ajaccio", "normalized"),
        ("Nottingham Forrest", "E0", "eng-nottm-forest", "fuzzy"),
        ("Tottenham Hotspurs", None, "eng-tottenham", "fuzzy"),
        ("Sheffield Utd", "E1", "eng-sheffield-united", "fuzzy"),
        ("Ajaccio GFC", "F1", "fra-ajaccio-gfco", "fuzzy"),
    ],
)
def test_normalized_and_fuzzy_matches(
    resolver: TeamResolver, name: str, league: str | None, expected: str, method: str
) -> None:
    resolution = resolver.resolve(name, league)
    assert (resolution.team_id, resolution.method) == (expected, method)
    assert resolver.threshold <= resolution.score <= 1.0


def test_normalize_name() -> None:
    assert normalize_name("1. FC Köln") == normalize_name("FC Koln") == "koln"
    assert normalize_name("Brighton & Hove Albion") == "brighton hove albion"
    assert normalize_name("Nott'm Forest") == "nottm forest"


def test_unknown_name_raises_with_three_scored_suggestions(resolver: TeamResolver) -> None:
    with pytest.raises(UnknownTeamError, match="'Man Utd' in league E0") as caught:
        resolver.resolve("Man Utd", "E0")
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert "'Man United' → eng-man-united (0.82)" in message
    assert message.count("→") == 3


def test_league_restricts_candidates_to_its_country(resolver: TeamResolver) -> None:
    assert resolver.resolve("Barcelona").team_id == "esp-barcelona"
    with pytest.raises(UnknownTeamError, match="'Barcelona' in league E0"):
        resolver.resolve("Barcelona", "E0")


def test_fuzzy_ties_are_ambiguous() -> None:
    resolver = TeamResolver((Alias("Sporting A", "eng-a", "t"), Alias("Sporting B", "eng-b", "t")))
    with pytest.raises(UnknownTeamError, match="ambiguous team 'Sporting C' \\(fuzzy"):
        resolver.resolve("Sporting C")


def test_same_spelling_in_two_countries_needs_a_league() -> None:
    resolver = TeamResolver((Alias("Rangers", "eng-qpr", "t"), Alias("Rangers", "ita-x", "t")))
    assert resolver.resolve("Rangers", "I1").team_id == "ita-x"
    with pytest.raises(UnknownTeamError, match="ambiguous team 'Rangers' \\(exact"):
        resolver.resolve("Rangers")


def test_spellings_naming_two_clubs_of_one_country_are_rejected() -> None:
    with pytest.raises(ValueError, match="'milan'"):
        TeamResolver((Alias("AC Milan", "ita-milan", "t"), Alias("Milan", "ita-inter", "t")))


def test_load_aliases_checks_columns(tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    path.write_text("name,team_id\nArsenal,eng-arsenal\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected columns"):
        load_aliases(path)
    assert load_aliases(ALIASES_PATH, threshold=0.9).threshold == 0.9
