"""Fingerprints of what a stage computed each partition from, so unchanged work is skipped.

fingerprint(op, partition) = SHA-256(op, code version of the op, settings, input digest)

- code version: SHA-256 of the source of the module defining the op and of every project
  module it imports, transitively (found by reading ``import`` statements, nothing imported);
- settings: every ``Settings`` field except storage locations;
- input digest: what the op reads for that partition — the source file's bytes (ingestion),
  the stored rows of the league × season partitions it depends on (one MD5 per partition of
  ``matches`` / ``oos_predictions``, combined), or the recorded fingerprints of its upstream.

After a partition's outputs are stored, its fingerprint is recorded in ``stage_fingerprints``
(a separate, later transaction: a crash in between only means recomputing it). A partition is
*stale* when its recorded fingerprint differs from the one computed now; only stale partitions
are recomputed.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import duckdb

from jackpot_pipeline.core.teams import ALIASES_PATH, LEAGUES
from jackpot_pipeline.services import warehouse
from jackpot_pipeline.settings import PROJECT_ROOT, Settings

#: (league, season); ("", "") for an unpartitioned asset.
Partition = tuple[str, str]
UNPARTITIONED: Partition = ("", "")
PACKAGE = "jackpot_pipeline"

#: The module defining each fingerprinted op (the root of its code version).
OP_MODULES: Mapping[str, str] = {
    "reference_data": "jackpot_pipeline.defs.reference.assets",
    "football_data": "jackpot_pipeline.defs.ingestion.assets",
    "team_features": "jackpot_pipeline.defs.modelling.assets",
    "dixon_coles": "jackpot_pipeline.defs.modelling.assets",
    "member_forecasts": "jackpot_pipeline.defs.modelling.members",
    "stacked_forecasts": "jackpot_pipeline.defs.modelling.members",
    "calibration_curves": "jackpot_pipeline.defs.calibration.assets",
    "prediction_sets": "jackpot_pipeline.defs.calibration.assets",
    "validation_reports": "jackpot_pipeline.defs.calibration.assets",
    "validation_report_pooled": "jackpot_pipeline.defs.calibration.assets",
    "odds": "jackpot_pipeline.defs.odds.assets",
}
#: Ops whose partition S reads every league's seasons before S and its own league × S: of
#: the model forecasts (``stacked_predictions``) and matches, or (the stack) of the members.
CALIBRATION_OPS = ("calibration_curves", "prediction_sets", "validation_reports")
EARLIER_SEASON_READS: Mapping[str, tuple[str, ...]] = {
    **{op: ("matches", "stacked_predictions") for op in CALIBRATION_OPS},
    "stacked_forecasts": ("matches", "oos_predictions", "member_predictions"),
}


def sha256(*parts: str | bytes) -> str:
    """SHA-256 (hex) of the parts, each length-prefixed so boundaries cannot shift."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(f"{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Code and settings versions
# ---------------------------------------------------------------------------------------------


def module_path(module: str) -> Path:
    """Source file of a project module (a package's ``__init__.py``)."""
    base = PROJECT_ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def project_imports(module: str) -> set[str]:
    """Project modules imported anywhere in ``module`` (also inside functions)."""
    tree = ast.parse(module_path(module).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        names: Iterable[str] = ()
        if isinstance(node, ast.Import):
            names = (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        found.update(n for n in names if n.startswith(PACKAGE) and module_path(n).exists())
    return found


@cache
def code_version(op: str) -> str:
    """SHA-256 (first 16 hex) of the sources of the op's module and its project imports."""
    seen: set[str] = set()
    todo = [OP_MODULES[op]]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(project_imports(module) - seen)
    return sha256(*(f"{m}\n{module_path(m).read_text()}" for m in sorted(seen)))[:16]


def settings_version(settings: Settings) -> str:
    """The settings that change results (storage locations excluded), as canonical JSON."""
    values = {
        field.name: getattr(settings, field.name)
        for field in dataclasses.fields(settings)
        if not isinstance(getattr(settings, field.name), Path)
    }
    return json.dumps(values, sort_keys=True)


def fingerprint(op: str, settings: Settings, inputs: str | bytes) -> str:
    """The fingerprint of computing ``op`` from ``inputs`` with this code and settings."""
    return sha256(op, code_version(op), settings_version(settings), inputs)


# ---------------------------------------------------------------------------------------------
# Input digests
# ---------------------------------------------------------------------------------------------


def partition_digests(con: duckdb.DuckDBPyConnection, table: str) -> dict[Partition, str]:
    """MD5 of every stored row (as text, in a fixed order) per league × season of ``table``."""
    rows = con.execute(
        f"SELECT league, season, md5(string_agg(t::VARCHAR, chr(10) ORDER BY t::VARCHAR)) "
        f"FROM {table} t GROUP BY league, season"
    ).fetchall()
    return {(league, season): digest for league, season, digest in rows}


def combined(digests: Mapping[Partition, str], keep: Iterable[Partition]) -> str:
    """One digest of the partitions in ``keep`` (absent partitions count as empty)."""
    return sha256(*(f"{lg}|{s}|{digests.get((lg, s), '')}" for lg, s in sorted(keep)))


def input_fingerprints(
    con: duckdb.DuckDBPyConnection, op: str, partitions: Sequence[Partition], settings: Settings
) -> dict[Partition, str]:
    """The fingerprint of each partition of a modelling or calibration op from the stored
    rows it reads: matches of the same league (``dixon_coles``) or country
    (``team_features``, ``member_forecasts``) up to season S; every league's rows of
    :data:`EARLIER_SEASON_READS` before S plus the partition's own (calibration ops, the
    stack)."""
    matches = partition_digests(con, "matches")
    known = sorted(matches)
    if op in EARLIER_SEASON_READS:
        tables = [partition_digests(con, table) for table in EARLIER_SEASON_READS[op]]
        known = sorted(set().union(*tables))

        def reads(league: str, season: str) -> str:
            keep = [k for k in known if k[1] < season] + [(league, season)]
            return "".join(combined(digests, keep) for digests in tables)

    elif op in ("dixon_coles", "team_features", "member_forecasts"):

        def reads(league: str, season: str) -> str:
            country = LEAGUES[league].country
            same = (
                [league]
                if op == "dixon_coles"
                else [code for code, info in LEAGUES.items() if info.country == country]
            )
            return combined(matches, [k for k in known if k[0] in same and k[1] <= season])

    else:
        raise ValueError(f"no input digest for op {op!r}")
    return {p: fingerprint(op, settings, reads(*p)) for p in partitions}


def file_fingerprint(op: str, settings: Settings, data: bytes) -> str:
    """Fingerprint of ingesting a file with these bytes."""
    return fingerprint(op, settings, hashlib.sha256(data).hexdigest())


def files_fingerprint(op: str, settings: Settings, paths: Iterable[Path]) -> str:
    """Fingerprint of an unpartitioned op that reads these files (names and bytes)."""
    files = sorted(Path(p) for p in paths)
    return fingerprint(
        op,
        settings,
        sha256(*(f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}" for p in files)),
    )


def reference_fingerprint(settings: Settings) -> str:
    """Fingerprint of the reference data: the leagues and the team aliases file."""
    leagues = json.dumps([lg.model_dump(mode="json") for lg in LEAGUES.values()], sort_keys=True)
    return fingerprint("reference_data", settings, leagues + ALIASES_PATH.read_text())


def upstream_fingerprint(
    con: duckdb.DuckDBPyConnection, op: str, settings: Settings, upstream: Sequence[str]
) -> str:
    """Fingerprint of an unpartitioned op from every recorded fingerprint of its upstream ops."""
    parts = [
        f"{up}|{lg}|{s}|{fp}"
        for up in upstream
        for (lg, s), fp in sorted(recorded(con, up).items())
    ]
    return fingerprint(op, settings, sha256(*parts))


# ---------------------------------------------------------------------------------------------
# Recorded fingerprints
# ---------------------------------------------------------------------------------------------


def recorded(con: duckdb.DuckDBPyConnection, op: str) -> dict[Partition, str]:
    """The fingerprints recorded for ``op``, by partition."""
    rows = con.execute(
        "SELECT league, season, fingerprint FROM stage_fingerprints WHERE op = ?", [op]
    ).fetchall()
    return {(league, season): fp for league, season, fp in rows}


def stale(
    con: duckdb.DuckDBPyConnection, op: str, wanted: Mapping[Partition, str]
) -> list[Partition]:
    """Partitions whose recorded fingerprint differs from ``wanted`` (or is missing), sorted."""
    done = recorded(con, op)
    return sorted(p for p, fp in wanted.items() if done.get(p) != fp)


def record(
    con: duckdb.DuckDBPyConnection,
    op: str,
    fingerprints: Mapping[Partition, str],
    run_id: str | None,
    now: datetime | None = None,
) -> None:
    """Record the fingerprints of partitions whose outputs are stored (only those that
    differ from the recorded ones: recomputing unchanged inputs leaves the table as it was)."""
    done = recorded(con, op)
    at = now or datetime.now(UTC)
    rows = [
        (op, lg, s, fp, run_id, at)
        for (lg, s), fp in fingerprints.items()
        if done.get((lg, s)) != fp
    ]
    if not rows:
        return
    with warehouse.transaction(con):
        con.executemany("INSERT OR REPLACE INTO stage_fingerprints VALUES (?, ?, ?, ?, ?, ?)", rows)
