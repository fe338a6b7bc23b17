"""``jackpot run`` end to end, as on a fresh clone, then again with nothing changed.

Run: ``uv run python benchmarks/pipeline.py``. Both runs use a temporary warehouse, raw
folder, jackpot inbox and DAGSTER_HOME (nothing of the checkout is touched) and one BLAS
thread. Prints ``name: value`` lines: ``fresh_run_s``, ``rerun_s``, ``rerun_ratio`` (rerun /
fresh, the reference measured in the same run; target ≤ 0.10), ``peak_rss_mb`` (the largest
resident set of the ``jackpot run`` processes), ``event_log_mb`` (the SQLite run and event
storage of the instance after both runs), the times again in CPU seconds (``*_cpu_s``,
unaffected by other processes sharing the cores), then each run's seconds per stage.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JACKPOT = Path(sys.executable).with_name("jackpot")
STAGE_LINE = re.compile(
    r"^\[(?P<stage>\w+)\] (?P<what>.+?): (?:ok|FAILED) \((?P<s>[\d.]+) s, CPU (?P<cpu>[\d.]+) s"
)


def environment(root: Path) -> dict[str, str]:
    """Every path in ``root``, no odds API key (offline replay), one BLAS thread."""
    (root / "jackpots" / "inbox").mkdir(parents=True)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("JACKPOT_", "DAGSTER_"))}
    return {
        **keep,
        "JACKPOT_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "JACKPOT_RAW_DIR": str(root / "raw"),
        "JACKPOT_JACKPOTS_DIR": str(root / "jackpots"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "ODDS_API_KEY": "",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def cpu_seconds() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def jackpot_run(env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds and stdout of one ``jackpot run`` (fails loudly if it fails)."""
    started, cpu = time.perf_counter(), cpu_seconds()
    done = subprocess.run(
        [str(JACKPOT), "run"], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"jackpot run failed ({done.returncode}):\n{done.stdout[-4000:]}{done.stderr}")
    return seconds, cpu_seconds() - cpu, done.stdout


def stage_seconds(stdout: str) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds per stage from the runs' closing lines."""
    totals: dict[str, tuple[float, float]] = {}
    for line in stdout.splitlines():
        match = STAGE_LINE.match(line)
        if match:
            wall, cpu = totals.get(match["stage"], (0.0, 0.0))
            totals[match["stage"]] = (wall + float(match["s"]), cpu + float(match["cpu"]))
    return totals


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="jackpot-bench-") as tmp:
        env = environment(Path(tmp))
        fresh_s, fresh_cpu, fresh_out = jackpot_run(env)
        rerun_s, rerun_cpu, rerun_out = jackpot_run(env)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        history = Path(env["DAGSTER_HOME"]) / "history"
        event_log = sum(p.stat().st_size for p in history.rglob("*.db"))
    print(f"fresh_run_s: {fresh_s:.1f}")
    print(f"rerun_s: {rerun_s:.1f}")
    print(f"rerun_ratio: {rerun_s / fresh_s:.3f}")
    # CPU time does not grow when other processes share the cores: compare it on a busy host
    print(f"fresh_run_cpu_s: {fresh_cpu:.1f}")
    print(f"rerun_cpu_s: {rerun_cpu:.1f}")
    print(f"rerun_cpu_ratio: {rerun_cpu / fresh_cpu:.3f}")
    print(f"peak_rss_mb: {peak_kb / 1024:.0f}")
    print(f"event_log_mb: {event_log / 2**20:.1f}")
    for name, out in (("fresh", fresh_out), ("rerun", rerun_out)):
        for stage, (wall, cpu) in stage_seconds(out).items():
            print(f"{name}_{stage}_s: {wall:.1f} (CPU {cpu:.1f})")
        runs = re.search(r"^Runs: .*$", out, re.MULTILINE)
        print(f"{name}_runs: {runs.group(0) if runs else '?'}")


if __name__ == "__main__":
    main()
