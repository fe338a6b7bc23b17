"""Seasons by the clock and the league registry: injected clocks, never the machine's date."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from jackpot_pipeline.core.leagues import (
    REGISTRY_COLUMNS,
    RegistryError,
    derive_country_code,
    load_registry,
    parse_registry,
)
from jackpot_pipeline.core.seasons import parse_boundary, season_of, seasons_through
from jackpot_pipeline.core.teams import LEAGUES, REGISTRY, team_id_for
from jackpot_pipeline.defs import partitions
from jackpot_pipeline.settings import DATA_DIR, Settings

MANIFEST = DATA_DIR / "football-data" / "MANIFEST.csv"
HEADER = ",".join(REGISTRY_COLUMNS)


def manifest_leagues() -> set[str]:
    with MANIFEST.open(newline="") as handle:
        return {row["div"] for row in csv.DictReader(handle)}


# ----------------------------------------------------------------------------- calendar


@pytest.mark.parametrize(
    ("day", "boundary", "expected"),
    [
        (date(2026, 11, 30), "07-01", "2026-27"),
        (date(2026, 6, 30), "07-01", "2025-26"),
        (date(2026, 7, 1), "07-01", "2026-27"),
        (date(2027, 7, 2), "07-01", "2027-28"),
        (date(2026, 7, 15), "08-01", "2025-26"),  # a later boundary keeps July in the old one
        (date(2026, 8, 1), "08-01", "2026-27"),
    ],
)
def test_season_of_a_day_under_a_boundary(day: date, boundary: str, expected: str) -> None:
    assert season_of(day, boundary) == expected


def test_bad_boundary_is_a_clear_error() -> None:
    for bad in ("7/1", "13-01", "02-30", ""):
        with pytest.raises(ValueError, match="MM-DD"):
            parse_boundary(bad)


def test_seasons_run_through_the_season_of_the_clock() -> None:
    autumn = seasons_through("2012-13", date(2026, 11, 30))
    assert autumn[0] == "2012-13" and autumn[-1] == "2026-27"
    assert len(autumn) == 2026 - 2012 + 1
    summer = seasons_through("2012-13", date(2027, 7, 2))
    assert summer == (*autumn, "2027-28")


def test_partitions_follow_an_injected_clock() -> None:
    codes, seasons = partitions.league_seasons(LEAGUES, date(2026, 11, 30), "07-01")
    assert codes == tuple(LEAGUES) and seasons[-1] == "2026-27"
    defs = partitions.build_partitions(codes, seasons)
    keys = set(defs.get_partition_keys())
    assert all(partitions.partition_key(code, "2026-27") in keys for code in codes)
    _, later = partitions.league_seasons(LEAGUES, date(2027, 7, 2), "07-01")
    assert later[-1] == "2027-28" and later[:-1] == seasons


def test_the_clock_setting_pins_today_and_the_current_season() -> None:
    pinned = Settings(today="2027-07-02")
    assert partitions.today(pinned) == date(2027, 7, 2)
    assert partitions.current_season(settings=pinned) == "2027-28"
    assert partitions.current_season(date(2026, 11, 30), Settings()) == "2026-27"
    assert partitions.current_season(date(2026, 7, 15), Settings(season_boundary="08-01")) == (
        "2025-26"
    )


def test_loaded_partitions_reach_the_current_season_and_only_enabled_leagues() -> None:
    """The module-level partitions were computed at load from the same clock."""
    assert partitions.SEASONS[-1] == partitions.current_season()
    assert partitions.SEASONS[-1] == partitions.CURRENT_SEASON
    assert set(partitions.LEAGUE_CODES) == manifest_leagues()
    assert isinstance(partitions.league_season_partitions, dg.MultiPartitionsDefinition)


# ----------------------------------------------------------------------------- registry


def test_shipped_registry_lists_every_main_division_and_enables_the_shipped_ones() -> None:
    divisions = {"E0", "E1", "E2", "E3", "EC", "SC0", "SC1", "SC2", "SC3", "D1", "D2", "I1"}
    divisions |= {"I2", "SP1", "SP2", "F1", "F2", "N1", "B1", "P1", "T1", "G1"}
    assert set(REGISTRY) == divisions
    assert {code for code, lg in REGISTRY.items() if lg.enabled} == manifest_leagues()
    assert REGISTRY["SC0"].odds_api_sport == "soccer_spl" and REGISTRY["EC"].odds_api_sport is None
    assert REGISTRY["N1"].country_code == "ned" and REGISTRY["E3"].tier == 4


def test_recorded_sport_keys_belong_to_registered_leagues() -> None:
    """Every sport key of the registry that The Odds API listed in the recorded /sports."""
    import json

    listed = {
        sport["key"]
        for path in (DATA_DIR / "odds-api").glob("sports_list_*.json")
        for sport in json.loads(path.read_text())
    }
    keys = {lg.odds_api_sport for lg in REGISTRY.values() if lg.odds_api_sport}
    assert keys <= listed, keys - listed


def registry_text(*lines: str) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


GOOD = "ZZ1,Zed League,Zedland,,1,,true,2024-25,30"


def test_a_new_country_gets_a_derived_team_id_prefix() -> None:
    leagues = parse_registry(registry_text(GOOD))
    assert leagues["ZZ1"].country_code == "zed"
    assert derive_country_code("Österreich") == "ost"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ZZ1,Zed League,Zedland,,one,,true,2024-25,30", "line 2 .*tier"),
        ("ZZ1,Zed League,Zedland,,1,,maybe,2024-25,30", "line 2 .*enabled"),
        ("ZZ1,Zed League,Zedland,,1,,true,2024-26,30", "line 2 .*first_season"),
        ("ZZ1,Zed League,Zedland,,1,epl,true,2024-25,30", "line 2 .*odds_api_sport"),
        ("zz 1,Zed League,Zedland,,1,,true,2024-25,30", "line 2 .*code"),
        ("ZZ1,Zed League,Zedland,Z1,1,,true,2024-25,30", "line 2 .*country_code"),
    ],
)
def test_a_bad_registry_line_names_the_line_and_the_field(line: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        parse_registry(registry_text(line))


def test_registry_consistency_errors(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="listed twice"):
        parse_registry(registry_text(GOOD, GOOD))
    with pytest.raises(RegistryError, match="several country codes"):
        parse_registry(registry_text(GOOD, "ZZ2,Zed Two,Zedland,zdl,2,,true,2024-25,30"))
    with pytest.raises(RegistryError, match="missing columns"):
        parse_registry("code,name\nE0,Premier League\n")
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(tmp_path / "absent.csv")


def test_team_ids_of_every_registered_country() -> None:
    assert team_id_for("Celtic", "SC0") == "sco-celtic"
    assert team_id_for("Ajax", "N1") == "ned-ajax"


# ----------------------------------------------------------------------------- team names


def test_football_data_names_of_ingested_clubs_become_aliases() -> None:
    from jackpot_pipeline.core.teams import (
        UnknownTeamError,
        load_aliases,
        with_football_data_names,
    )

    base = load_aliases()
    teams = [("Celtic", "sco-celtic"), ("Rangers", "sco-rangers"), ("Arsenal", "eng-arsenal")]
    resolver = with_football_data_names(base, teams)
    assert resolver.resolve("Celtic", "SC0").team_id == "sco-celtic"
    assert resolver.resolve("Celtic FC", "SC0").method == "normalized"  # Odds API style
    assert resolver.resolve("Rangers FC", "SC0").team_id == "sco-rangers"
    with pytest.raises(UnknownTeamError, match=r"closest: 'Rangers' → sco-rangers"):
        resolver.resolve("Hearts", "SC0")
    with pytest.raises(UnknownTeamError):
        base.resolve("Celtic", "SC0")  # without the teams, nothing of Scotland is known
    assert len(resolver.aliases) == len(base.aliases) + 2  # Arsenal was an alias already
