"""Runs of the named jobs on the local Dagster instance, and recovery from killed runs.

``Launcher`` loads the code location in this process under the name the UI's workspace gives
it (``workspace.yaml``), creates each run with that origin — so the UI lists it under its job
and can re-execute it — and executes it here, handing every event-log entry (step events,
materializations, check evaluations and the assets' own log lines) to a callback as the run
writes them.

Each run is tagged with the pid, process start time and host of the ``jackpot run`` executing
it. ``fail_orphaned_runs`` marks failed the runs still in progress whose process is gone (e.g.
after ``kill -9``) and frees their concurrency-pool slots, so the next run is not left waiting
for a slot nobody will release.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Callable, Mapping

import dagster as dg
import psutil
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.execution.api import execute_run_iterator
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._utils.hosted_user_process import recon_job_from_origin

from jackpot_pipeline.settings import PROJECT_ROOT

#: The code location as ``workspace.yaml`` loads it (its default name is the module's).
LOCATION_NAME = "jackpot_pipeline.definitions"
PID_TAG = "jackpot/pid"
PID_STARTED_TAG = "jackpot/pid_started"
HOST_TAG = "jackpot/host"
IN_PROGRESS = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
POLL_S = 0.5


def owner_tags() -> dict[str, str]:
    """Tags naming this process: pid, its start time (pids are reused) and the host."""
    return {
        PID_TAG: str(os.getpid()),
        PID_STARTED_TAG: f"{psutil.Process().create_time():.2f}",
        HOST_TAG: socket.gethostname(),
    }


def owner_alive(tags: Mapping[str, str]) -> bool:
    """Whether the process named by a run's owner tags is still running."""
    try:
        process = psutil.Process(int(tags[PID_TAG]))
        return abs(process.create_time() - float(tags[PID_STARTED_TAG])) < 0.05
    except (psutil.NoSuchProcess, KeyError, ValueError):
        return False


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every in-progress run of this host whose ``jackpot run`` process is gone,
    freeing its concurrency-pool slots; returns their run ids."""
    orphans = [
        run
        for run in instance.get_runs(
            filters=dg.RunsFilter(statuses=IN_PROGRESS, tags={HOST_TAG: socket.gethostname()})
        )
        if not owner_alive(run.tags)
    ]
    for run in orphans:
        instance.report_run_failed(
            run,
            f"The process executing this run (pid {run.tags.get(PID_TAG)}) is gone (killed?): "
            "marked failed and its concurrency slots freed by the next `jackpot run`.",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return [run.run_id for run in orphans]


class Launcher:
    """Creates and executes runs of the code location's jobs on ``instance``."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(
                executable_path=sys.executable,
                module_name=LOCATION_NAME,
                working_directory=str(PROJECT_ROOT),
            ),
            location_name=LOCATION_NAME,
        )
        self.instance = instance
        self.location = origin.create_location(instance)
        self.repository = next(iter(self.location.get_repositories().values()))

    def create_run(
        self, job_name: str, tags: Mapping[str, str], run_config: Mapping[str, object]
    ) -> dg.DagsterRun:
        """A NOT_STARTED run of ``job_name`` with the location's origin and the owner tags."""
        selector = JobSubsetSelector(
            location_name=self.location.name,
            repository_name=self.repository.name,
            job_name=job_name,
            op_selection=None,
        )
        job = self.location.get_job(selector)
        plan = self.location.get_execution_plan(
            job, run_config, step_keys_to_execute=None, known_state=None, instance=self.instance
        )
        return self.instance.create_run(
            job_name=job_name,
            run_id=None,
            run_config=run_config,
            resolved_op_selection=None,
            step_keys_to_execute=None,
            op_selection=None,
            status=None,
            root_run_id=None,
            parent_run_id=None,
            tags={**job.tags, **tags, **owner_tags()},
            job_snapshot=job.job_snapshot,
            execution_plan_snapshot=plan.execution_plan_snapshot,
            parent_job_snapshot=job.parent_job_snapshot,
            remote_job_origin=job.get_remote_origin(),
            job_code_origin=job.get_python_origin(),
            asset_selection=None,
            asset_check_selection=None,
            asset_graph=self.repository.asset_graph,
        )

    def execute(
        self, run: dg.DagsterRun, on_entry: Callable[[dg.EventLogEntry], None]
    ) -> dg.DagsterRun:
        """Execute ``run`` here; ``on_entry`` sees each event-log entry as it is written
        (from a polling thread while the run executes). Returns the finished run."""
        cursor: list[str | None] = [None]

        def drain() -> None:
            while True:
                page = self.instance.get_records_for_run(run.run_id, cursor=cursor[0])
                for record in page.records:
                    on_entry(record.event_log_entry)
                cursor[0] = page.cursor
                if not page.has_more:
                    return

        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(POLL_S):
                drain()

        poller = threading.Thread(target=poll, name=f"events-{run.run_id[:8]}", daemon=True)
        poller.start()
        try:
            job = recon_job_from_origin(run.job_code_origin)
            for _event in execute_run_iterator(job, run, self.instance):
                pass
        finally:
            stop.set()
            poller.join()
            drain()
        finished = self.instance.get_run_by_id(run.run_id)
        assert finished is not None
        return finished
