"""The rendering helpers of the ``jackpot`` command: formats, tables within the width, progress
with ETA on a terminal and lines otherwise, and ``--json`` keeping stdout to one document."""

from __future__ import annotations

import io
import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from jackpot_pipeline.cli import render


def test_formats() -> None:
    assert render.percent(0.4567) == "46%" and render.percent(0.4567, 1) == "45.7%"
    assert render.percent(None) == "-" and render.percent(math.nan) == "-"
    assert render.short_kickoff("2025-03-14T15:00:00+00:00") == "Fri 14 Mar 15:00"
    assert render.short_kickoff("2025-03-15") == "Sat 15 Mar"
    assert render.short_kickoff(date(2025, 3, 15)) == "Sat 15 Mar"
    assert render.flag_codes(["uncalibrated", "no_market_odds"]) == "UC NM"
    assert render.flag_code("some_new_flag") == "SNF"  # a flag added later still gets a code
    legend = render.flag_legend(["no_market_odds", "uncalibrated", "no_market_odds"])
    assert legend == "Flags: NM no market odds · UC uncalibrated"
    assert render.flag_legend([]) == ""


def test_a_plain_table_fits_the_width_and_has_no_colour_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    out = render.console()
    assert not out.is_terminal and out.width == 100
    grid = render.table("fixture", ("1", "right"), "from", terminal=False)
    for i in range(5):
        grid.add_row(f"Wolverhampton Wanderers v Brighton & Hove Albion {i}", "46%", "x" * 80)
    out.print(grid)
    out.print(render.marker(render.OK, "[bold]not markup[/bold]"))
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "\x1b[" not in text and "✓ [bold]not markup[/bold]" in text


def test_progress_prints_lines_when_piped() -> None:
    stream = io.StringIO()
    out = Console(file=stream, width=100, force_terminal=False)
    with render.progress(2, "ingestion", out) as bar:
        bar.advance("[ingestion 1/2] E0 2024-25: ok")
        bar.add_total(1)
        bar.advance("[ingestion 2/2] E1 2024-25: ok")
    assert stream.getvalue().splitlines() == [
        "[ingestion 1/2] E0 2024-25: ok",
        "[ingestion 2/2] E1 2024-25: ok",
    ]


def test_progress_shows_a_bar_with_eta_on_a_terminal() -> None:
    stream = io.StringIO()
    out = Console(file=stream, width=100, force_terminal=True)
    with render.progress(2, "modelling", out) as bar:
        bar.advance("first done")
        bar._progress.refresh()  # type: ignore[union-attr]
        shown = stream.getvalue()
        bar.add_total(2)
        bar.advance()
        assert bar._progress.tasks[0].total == 4  # type: ignore[union-attr]
        assert bar._progress.tasks[0].completed == 2  # type: ignore[union-attr]
    assert "first done" in shown and "modelling" in shown and "ETA" in shown and "1/2" in shown


def test_json_mode_keeps_stdout_to_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    with render.json_mode():
        print("a log line")
        render.console().print("a table")
        render.emit_json(
            {
                "p": np.float64(0.5),
                "n": np.int64(3),
                "nan": math.nan,
                "day": pd.Timestamp("2025-04-12", tz="UTC"),
                "rows": pd.DataFrame({"a": [1, 2]}),
                "path": render,  # anything else as text
            }
        )
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["p"] == 0.5 and document["n"] == 3 and document["nan"] is None
    assert document["day"] == "2025-04-12T00:00:00+00:00"
    assert document["rows"] == [{"a": 1}, {"a": 2}]
    assert "a log line" in captured.err and "a table" in captured.err
