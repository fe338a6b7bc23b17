"""Named jobs, one per stage of the pipeline, in the order ``jackpot run`` launches them.

Every run of ``jackpot run`` is a run of one of these jobs (or of the odds and jackpot jobs
the sensors use), so the UI lists it under the stage's name and can re-execute it. The
partitioned stages run a range of league × season partitions as one run
(``BackfillPolicy.single_run()`` on their assets); the warehouse assets share the
``duckdb_warehouse`` pool, so runs launched together take turns on the single DuckDB writer.
"""

import dagster as dg

reference_job = dg.define_asset_job(
    "reference",
    selection=dg.AssetSelection.assets("leagues", "team_aliases"),
    description="Replace the leagues and team aliases with the shipped reference data.",
)
ingestion_job = dg.define_asset_job(
    "ingestion",
    selection=dg.AssetSelection.assets("matches", "match_odds", "market_probabilities"),
    description="Fetch, check and load football-data files of a range of league × season "
    "partitions (unchanged files are skipped).",
)
modelling_job = dg.define_asset_job(
    "modelling",
    selection=dg.AssetSelection.assets(
        "team_features", "dixon_coles_models", "oos_predictions", "member_predictions"
    ),
    description="Team features, the walk-forward Dixon-Coles models and out-of-sample "
    "predictions and set A's other members of a range of partitions (each league walked "
    "forward once).",
)
stacking_job = dg.define_asset_job(
    "stacking",
    selection=dg.AssetSelection.assets("stacked_predictions"),
    description="Set A's input of a range of partitions: the members pooled with each "
    "season's weights fitted on earlier seasons.",
)
calibration_job = dg.define_asset_job(
    "calibration",
    selection=dg.AssetSelection.assets(
        "calibration_curves", "prediction_set_params", "prediction_sets", "validation_reports"
    ),
    description="Calibration curves, prediction sets A–G and validation reports of a range of "
    "partitions.",
)
report_job = dg.define_asset_job(
    "report",
    selection=dg.AssetSelection.assets("validation_report_pooled"),
    description="The pooled validation report over every league and season.",
)

STAGE_JOBS = [
    reference_job,
    ingestion_job,
    modelling_job,
    stacking_job,
    calibration_job,
    report_job,
]
