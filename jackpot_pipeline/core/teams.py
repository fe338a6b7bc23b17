"""Team identity: league metadata, deterministic team ids, the alias table and the name resolver.

A team id is ``<country code>-<slug of the football-data name>``, e.g. ``eng-man-united``,
``esp-ath-madrid``: football-data.co.uk spells a club the same way in every division of its
country, so a club promoted from E1 to E0 keeps one id. The country code comes from the league
registry (:mod:`jackpot_pipeline.core.leagues`): its ``country_code`` column, or derived from the
country's name, so a newly enabled country needs no code.

Other spellings (The Odds API's long names, typos) reach that id through ``TeamResolver``, built
from ``data/team_aliases.csv`` (``alias,team_id,source``), in three steps:

1. exact: the name is an alias verbatim (score 1);
2. normalized: equal after ``normalize_name`` (accents stripped, case folded, punctuation and
   legal-form tokens such as "FC", "AC", "1." dropped, "&" read as "and") (score 1);
3. fuzzy: the best ``difflib.SequenceMatcher`` ratio between normalized names, accepted at
   ``threshold`` (default 0.85) and only if no other club scores within ``ambiguity_margin``.

With a league, only clubs of that league's country are candidates. Failing all three raises
``UnknownTeamError`` naming the three closest clubs.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from jackpot_pipeline.core.leagues import League, enabled_leagues, load_registry
from jackpot_pipeline.settings import DATA_DIR, Settings

ALIASES_PATH = DATA_DIR / "team_aliases.csv"
ALIAS_COLUMNS = ("alias", "team_id", "source")
DEFAULT_FUZZY_THRESHOLD = 0.85
DEFAULT_AMBIGUITY_MARGIN = 0.02
SUGGESTIONS = 3

# Legal-form and filler tokens ignored when comparing names ("1" is the "1." of "1. FC Köln").
_DROPPED_TOKENS = frozenset(
    {"1", "ac", "afc", "and", "as", "bc", "ca", "cd", "cf", "cfc", "fc", "fsv", "ogc", "rc"}
    | {"rcd", "sc", "sd", "ss", "ssc", "sv", "tsg", "ud", "us", "vfb", "vfl"}
)
_APOSTROPHES = re.compile(r"['’`´]")
_WORDS = re.compile(r"[^\W_]+")

MatchMethod = Literal["exact", "normalized", "fuzzy"]


#: Every league of the registry (``data/leagues.csv``, or ``JACKPOT_LEAGUES_PATH``) by code.
REGISTRY: Mapping[str, League] = load_registry(Settings.from_env().leagues_path)
#: The enabled leagues: the ones ingested, modelled and reported.
LEAGUES: Mapping[str, League] = enabled_leagues(REGISTRY)


@dataclass(frozen=True)
class Alias:
    """One spelling of a club and where it comes from (``football-data``, ``odds-api``, …)."""

    alias: str
    team_id: str
    source: str


@dataclass(frozen=True)
class Resolution:
    """How a name was resolved: the club, the alias it matched, the step and its score."""

    team_id: str
    alias: str
    method: MatchMethod
    score: float


@dataclass(frozen=True)
class Team:
    """A row of the ``teams`` table."""

    team_id: str
    name: str  # football-data.co.uk name
    country: str
    first_league: str  # code of the first league the club was seen in


class UnknownTeamError(ValueError):
    """A name matching no club, or several clubs equally well."""


def league_info(code: str) -> League:
    """Registry entry of a league code; ValueError naming the known codes otherwise."""
    try:
        return REGISTRY[code]
    except KeyError:
        raise ValueError(f"unknown league {code!r}; known: {', '.join(REGISTRY)}") from None


def team_id_for(name: str, league: str) -> str:
    """Team id of a football-data name in a league: ``Man United``, ``E0`` → ``eng-man-united``."""
    slug = "-".join(_words(name))
    if not slug:
        raise ValueError(f"team name {name!r} has no letters or digits")
    return f"{league_info(league).country_code}-{slug}"


def country_code_of(team_id: str) -> str:
    """Country code prefix of a team id: ``eng-man-united`` → ``eng``."""
    return team_id.split("-", 1)[0]


def normalize_name(name: str) -> str:
    """Comparison key: ``1. FC Köln`` → ``koln``, ``Brighton & Hove`` → ``brighton hove``."""
    return " ".join(word for word in _words(name) if word not in _DROPPED_TOKENS)


def _words(name: str) -> list[str]:
    """Accent-free, case-folded words of a name; apostrophes join (``Nott'm`` → ``nottm``)."""
    decomposed = unicodedata.normalize("NFKD", name.replace("&", " and "))
    folded = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return _WORDS.findall(_APOSTROPHES.sub("", folded))


@dataclass(frozen=True)
class TeamResolver:
    """Resolves any spelling of a club to its team id (see the module docstring for the steps)."""

    aliases: tuple[Alias, ...]
    threshold: float = DEFAULT_FUZZY_THRESHOLD
    ambiguity_margin: float = DEFAULT_AMBIGUITY_MARGIN
    _exact: Mapping[str, tuple[Alias, ...]] = field(init=False, repr=False, compare=False)
    _normalized: Mapping[str, tuple[Alias, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"fuzzy threshold must be in (0, 1], got {self.threshold}")
        object.__setattr__(self, "_exact", _index(self.aliases, lambda name: name))
        object.__setattr__(self, "_normalized", _index(self.aliases, normalize_name))

    def resolve(self, name: str, league: str | None = None) -> Resolution:
        """Team id of ``name``, among the clubs of ``league``'s country when a league is given."""
        country = None if league is None else league_info(league).country_code
        for method, index, key in (
            ("exact", self._exact, name),
            ("normalized", self._normalized, normalize_name(name)),
        ):
            candidates = _in_country(index.get(key, ()), country)
            if candidates:
                return _unique(name, method, [(1.0, alias) for alias in candidates])
        ranked = self._ranked(normalize_name(name), country)
        if ranked and ranked[0][0] >= self.threshold:
            floor = ranked[0][0] - self.ambiguity_margin
            return _unique(name, "fuzzy", [(score, a) for score, a in ranked if score >= floor])
        raise UnknownTeamError(
            f"unknown team {name!r}{'' if league is None else f' in league {league}'}; "
            f"closest: {_describe(ranked[:SUGGESTIONS])}"
        )

    def _ranked(self, key: str, country: str | None) -> list[tuple[float, Alias]]:
        """Best-scoring alias of every club, by fuzzy ratio to ``key``, best first."""
        best: dict[str, tuple[float, Alias]] = {}
        for normalized, aliases in self._normalized.items():
            score = SequenceMatcher(None, key, normalized).ratio()
            for alias in _in_country(aliases, country):
                if score > best.get(alias.team_id, (-1.0,))[0]:
                    best[alias.team_id] = (score, alias)
        return sorted(best.values(), key=lambda item: (-item[0], item[1].team_id))


def _index(
    aliases: Iterable[Alias], key_of: Callable[[str], str]
) -> Mapping[str, tuple[Alias, ...]]:
    """Aliases grouped by ``key_of(alias)``; ValueError if a key names two clubs of one country."""
    groups: defaultdict[str, list[Alias]] = defaultdict(list)
    for alias in aliases:
        groups[key_of(alias.alias)].append(alias)
    for key, group in groups.items():
        clubs = {alias.team_id for alias in group}
        if len(clubs) > len({country_code_of(team_id) for team_id in clubs}):
            raise ValueError(f"alias key {key!r} names clubs of one country: {sorted(clubs)}")
    return MappingProxyType({key: tuple(group) for key, group in groups.items()})


def _in_country(aliases: Iterable[Alias], country: str | None) -> tuple[Alias, ...]:
    return tuple(a for a in aliases if country is None or country_code_of(a.team_id) == country)


def _unique(name: str, method: MatchMethod, matches: list[tuple[float, Alias]]) -> Resolution:
    """The best match if all ``matches`` name one club; UnknownTeamError listing them otherwise."""
    if len({alias.team_id for _, alias in matches}) > 1:
        raise UnknownTeamError(f"ambiguous team {name!r} ({method} match): {_describe(matches)}")
    score, alias = matches[0]
    return Resolution(alias.team_id, alias.alias, method, score)


def _describe(scored: Iterable[tuple[float, Alias]]) -> str:
    return ", ".join(f"{a.alias!r} → {a.team_id} ({score:.2f})" for score, a in scored) or "none"


def load_aliases(
    path: Path = ALIASES_PATH,
    threshold: float = DEFAULT_FUZZY_THRESHOLD,
    ambiguity_margin: float = DEFAULT_AMBIGUITY_MARGIN,
) -> TeamResolver:
    """Resolver built from an ``alias,team_id,source`` CSV (UTF-8)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != ALIAS_COLUMNS:
            raise ValueError(f"{path}: expected columns {ALIAS_COLUMNS}, got {reader.fieldnames}")
        aliases = tuple(Alias(row["alias"], row["team_id"], row["source"]) for row in reader)
    return TeamResolver(aliases, threshold, ambiguity_margin)


def with_football_data_names(
    resolver: TeamResolver, teams: Iterable[tuple[str, str]]
) -> TeamResolver:
    """``resolver`` plus each club's football-data name (``(name, team_id)`` pairs, e.g. the
    ``teams`` table) as a ``football-data`` alias, so a newly ingested league's clubs resolve
    without alias lines. A name whose normalized form already names another club of the same
    country is left out (the alias file decides)."""
    taken = {
        (normalize_name(a.alias), country_code_of(a.team_id)): a.team_id for a in resolver.aliases
    }
    extra = []
    for name, team_id in sorted(set(teams)):
        key = (normalize_name(name), country_code_of(team_id))
        if taken.setdefault(key, team_id) == team_id and Alias(
            name, team_id, "football-data"
        ) not in (resolver.aliases):
            extra.append(Alias(name, team_id, "football-data"))
    if not extra:
        return resolver
    return TeamResolver((*resolver.aliases, *extra), resolver.threshold, resolver.ambiguity_margin)


def build_teams(appearances: Iterable[tuple[str, str]]) -> tuple[Team, ...]:
    """``teams`` rows from football-data ``(name, league)`` pairs in chronological order.

    ValueError if two different names of one country share an id.
    """
    teams: dict[str, Team] = {}
    for name, league in appearances:
        team_id = team_id_for(name, league)
        seen = teams.setdefault(team_id, Team(team_id, name, league_info(league).country, league))
        if seen.name != name:
            raise ValueError(f"{name!r} and {seen.name!r} both map to team id {team_id!r}")
    return tuple(sorted(teams.values(), key=lambda team: team.team_id))
