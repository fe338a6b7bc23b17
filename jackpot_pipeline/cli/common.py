"""Helpers shared by the ``jackpot`` commands: output and the local Dagster instance."""

from __future__ import annotations

import os
from pathlib import Path

from jackpot_pipeline.settings import PROJECT_ROOT

LOCAL_HOME = PROJECT_ROOT / ".dagster_home"
LOCAL_INSTANCE_YAML = """\
# Local Dagster instance written by `jackpot run`: SQLite storage in this folder.
# Production uses PostgreSQL: see dagster.yaml at the repository root.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1  # DuckDB allows one writer: one step at a time touches the warehouse
  runs:
    max_concurrent_runs: 1
"""


def prepare_dagster_home() -> Path:
    """Point DAGSTER_HOME at the local instance folder (unless set) and write its config."""
    home = Path(os.environ.get("DAGSTER_HOME", LOCAL_HOME))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(LOCAL_INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def echo(line: str) -> None:
    print(line, flush=True)
