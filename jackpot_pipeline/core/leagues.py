"""The league registry: ``data/leagues.csv``, the one place leagues are defined.

One line per football-data.co.uk division: ``code`` (its file name, ``E0``), ``name``,
``country``, ``country_code`` (the prefix of the league's team ids; blank → derived from the
country name, see :func:`derive_country_code`), ``tier``, ``odds_api_sport`` (blank when The Odds
API has no key for it), ``enabled`` (``true``: ingested, modelled and reported), ``first_season``
(the first season the pipeline ingests) and ``matches_per_season`` (a full season's matches in the
current format). Every line is validated by :class:`League`; a bad line raises
:class:`RegistryError` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Mapping
from io import StringIO
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

REGISTRY_COLUMNS = (
    "code",
    "name",
    "country",
    "country_code",
    "tier",
    "odds_api_sport",
    "enabled",
    "first_season",
    "matches_per_season",
)
_SEASON = re.compile(r"^(\d{4})-(\d{2})$")


class RegistryError(ValueError):
    """A league registry that cannot be used, with the file and line at fault."""


def derive_country_code(country: str) -> str:
    """Team-id prefix of a country: its first three letters, accent-free and lower case
    (``Scotland`` → ``sco``, ``Österreich`` → ``ost``)."""
    letters = unicodedata.normalize("NFKD", country).encode("ascii", "ignore").decode()
    code = re.sub(r"[^a-z]", "", letters.casefold())[:3]
    if len(code) < 3:
        raise ValueError(f"cannot derive a country code from {country!r}: give country_code")
    return code


class League(BaseModel):
    """One registry line: a football-data.co.uk division and its The Odds API sport key."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    code: str = Field(pattern=r"^[A-Z]{1,3}\d?$")
    name: str = Field(min_length=1)
    country: str = Field(min_length=1)
    country_code: str = ""
    tier: int = Field(ge=1, le=10)
    odds_api_sport: str | None = Field(default=None, pattern=r"^soccer_[a-z0-9_]+$")
    enabled: bool
    first_season: str
    matches_per_season: int | None = Field(default=None, ge=1)

    @field_validator("odds_api_sport", "matches_per_season", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("first_season")
    @classmethod
    def _season_name(cls, value: str) -> str:
        match = _SEASON.match(value)
        if not match or (int(match[1]) + 1) % 100 != int(match[2]):
            raise ValueError(f"expected a season like 2012-13, got {value!r}")
        return value

    @model_validator(mode="after")
    def _country_code(self) -> League:
        code = self.country_code or derive_country_code(self.country)
        if not re.fullmatch(r"[a-z]{3}", code):
            raise ValueError(f"country_code must be three lower-case letters, got {code!r}")
        object.__setattr__(self, "country_code", code)
        return self


def parse_registry(text: str, source: str = "leagues.csv") -> Mapping[str, League]:
    """Leagues by code from the registry's CSV text, in file order.

    RegistryError on missing columns, a bad line, a repeated code or sport key, or one country
    given two team-id prefixes."""
    reader = csv.DictReader(StringIO(text))
    missing = [c for c in REGISTRY_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise RegistryError(f"{source}: missing columns {missing} (expected {REGISTRY_COLUMNS})")
    leagues: dict[str, League] = {}
    for line, row in enumerate(reader, start=2):
        try:
            league = League.model_validate({c: row[c] for c in REGISTRY_COLUMNS})
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in error.errors()
            )
            raise RegistryError(f"{source} line {line} ({row.get('code')!r}): {problems}") from None
        if league.code in leagues:
            raise RegistryError(f"{source} line {line}: league {league.code} is listed twice")
        leagues[league.code] = league
    _check_unique(leagues, source)
    return MappingProxyType(leagues)


def _check_unique(leagues: Mapping[str, League], source: str) -> None:
    """One prefix per country, one league per sport key, one country per prefix."""
    prefixes: dict[str, set[str]] = {}
    countries: dict[str, set[str]] = {}
    for league in leagues.values():
        prefixes.setdefault(league.country, set()).add(league.country_code)
        countries.setdefault(league.country_code, set()).add(league.country)
    for country, codes in prefixes.items():
        if len(codes) > 1:
            raise RegistryError(f"{source}: {country} has several country codes {sorted(codes)}")
    for code, names in countries.items():
        if len(names) > 1:
            raise RegistryError(f"{source}: country code {code!r} names {sorted(names)}")
    sports = [lg.odds_api_sport for lg in leagues.values() if lg.odds_api_sport]
    repeated = sorted({s for s in sports if sports.count(s) > 1})
    if repeated:
        raise RegistryError(f"{source}: sport keys used by several leagues: {repeated}")


def load_registry(path: Path) -> Mapping[str, League]:
    """Leagues by code from the registry file at ``path`` (UTF-8)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RegistryError(f"cannot read the league registry {path}: {error}") from None
    return parse_registry(text, str(path))


def enabled_leagues(leagues: Mapping[str, League]) -> Mapping[str, League]:
    """The enabled leagues, in registry order."""
    return MappingProxyType({code: lg for code, lg in leagues.items() if lg.enabled})
