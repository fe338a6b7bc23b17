"""Season names, bounds and the calendar (light: no numeric imports, used by the Dagster shell at
load).

A season is named by its start year and the next year's last two digits (``'2026-27'``). A date
belongs to the season whose boundary (1 July by default, :data:`DEFAULT_BOUNDARY`) it is on or
after: with the default, 2026-06-30 is in 2025-26 and 2026-07-01 in 2026-27.
"""

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


DEFAULT_BOUNDARY = "07-01"  # month-day on which a season starts


def parse_boundary(boundary: str) -> tuple[int, int]:
    """'07-01' → (7, 1); ValueError naming the expected form otherwise."""
    try:
        month, day = (int(part) for part in boundary.split("-"))
        date(2001, month, day)  # a valid day of a non-leap year
    except ValueError:
        raise ValueError(f"season boundary must be MM-DD (e.g. 07-01), got {boundary!r}") from None
    return month, day


def season_label(start_year: int) -> str:
    """2019 → '2019-20'."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def season_of(day: date, boundary: str = DEFAULT_BOUNDARY) -> str:
    """Season containing a date (or datetime): 2025-04-12 → '2024-25', 2025-08-16 → '2025-26'."""
    month, first = parse_boundary(boundary)
    return season_label(day.year if (day.month, day.day) >= (month, first) else day.year - 1)


def seasons_through(
    first_season: str, today: date, boundary: str = DEFAULT_BOUNDARY
) -> tuple[str, ...]:
    """Every season from ``first_season`` through the one containing ``today``, oldest first:
    ('2024-25', 2026-11-30) → ('2024-25', '2025-26', '2026-27')."""
    last = int(season_of(today, boundary)[:4])
    return tuple(season_label(year) for year in range(int(first_season[:4]), last + 1))


def previous_season(season: str, back: int) -> str:
    """The season ``back`` seasons before ``season``: ('2019-20', 3) → '2016-17'."""
    return season_label(int(season[:4]) - back)
