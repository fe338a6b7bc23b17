"""Light facts about the football-data.co.uk format shared by the parser and the checks."""

#: Columns without which a football-data file cannot be ingested.
REQUIRED_COLUMNS: tuple[str, ...] = ("Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG", "FTR")
