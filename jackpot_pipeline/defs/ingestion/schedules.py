"""The football-data refresh job and its daily schedule.

``football_data_daily_schedule`` (06:00 UTC, STOPPED by default) re-ingests the current season
of each league. New results arrive only with the HTTP source: it needs network access and the
``football_data_source`` resource configured with ``mode: http`` (launchpad or code location);
with the default local source the shipped files are re-read and the runs change nothing. No API
key is needed. The odds scores sensor also requests this job when a league's events turn final.
"""

from collections.abc import Iterator

import dagster as dg

from jackpot_pipeline.defs.ingestion.assets import football_data
from jackpot_pipeline.defs.partitions import LEAGUE_CODES, SEASONS, current_season, partition_key

football_data_refresh_job = dg.define_asset_job(
    "football_data_refresh_job",
    selection=dg.AssetSelection.assets(football_data),
    description="Re-ingest league × season partitions from football-data.co.uk (the model "
    "layer follows through its eager automation conditions).",
)


@dg.schedule(
    cron_schedule="0 6 * * *",
    job=football_data_refresh_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily re-ingestion of each league's current season. Needs network and the "
    "football_data_source resource in mode http (with the default local source it re-reads the "
    "shipped files and changes nothing); no API key.",
)
def football_data_daily_schedule(
    context: dg.ScheduleEvaluationContext,
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """One run per league for the partition of the season containing the tick's time."""
    at = context.scheduled_execution_time
    if at is None:
        yield dg.SkipReason("no scheduled execution time on this tick")
        return
    season = current_season(at.date())
    if season not in SEASONS:
        yield dg.SkipReason(f"season {season} is not a partition (known: up to {SEASONS[-1]})")
        return
    for league in LEAGUE_CODES:
        yield dg.RunRequest(
            run_key=f"football_data_daily:{league}:{season}:{at.strftime('%Y%m%d')}",
            partition_key=partition_key(league, season),
        )


INGESTION_JOBS = [football_data_refresh_job]
INGESTION_SCHEDULES = [football_data_daily_schedule]
