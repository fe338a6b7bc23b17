"""Season names and bounds (light: no numeric imports, used by the Dagster shell at load)."""

from __future__ import annotations

from datetime import date


def season_code(season: str) -> str:
    """'2019-20' → '1920' (football-data's folder name)."""
    start, end = season.split("-")
    return f"{start[2:]}{end}"


def season_bounds(season: str) -> tuple[date, date]:
    """First and last admissible match date of a season: 1 July to 31 August of the next year.

    The window is wider than a normal season because 2019-20 ran to August 2020 (COVID-19).
    """
    start_year = int(season[:4])
    return date(start_year, 7, 1), date(start_year + 1, 8, 31)


SEASON_START_MONTH = 7  # a date from July on belongs to the season starting that year


def season_label(start_year: int) -> str:
    """2019 → '2019-20'."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def season_of(day: date) -> str:
    """Season containing a date (or datetime): 2025-04-12 → '2024-25', 2025-08-16 → '2025-26'."""
    return season_label(day.year if day.month >= SEASON_START_MONTH else day.year - 1)


def previous_season(season: str, back: int) -> str:
    """The season ``back`` seasons before ``season``: ('2019-20', 3) → '2016-17'."""
    return season_label(int(season[:4]) - back)
