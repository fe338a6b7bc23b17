"""The member stage's worker processes end when the run that spawned them is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

SCRIPT = """
import multiprocessing, os, time
from concurrent.futures import ProcessPoolExecutor
from jackpot_pipeline.services.members import exit_with_parent

if __name__ == "__main__":
    with ProcessPoolExecutor(
        2,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        futures = [pool.submit(time.sleep, 120) for _ in range(2)]
        time.sleep(3)  # both workers started and sleeping
        print(" ".join(str(p.pid) for p in pool._processes.values()), flush=True)
        time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its reaper is gone too
        return stat.read().split()[2] != "Z"


def test_workers_exit_after_a_kill_9_of_their_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(alive(p) for p in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(p) for p in workers)
    finally:
        parent.kill()
