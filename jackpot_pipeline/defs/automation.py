"""The sensor that evaluates the assets' automation conditions (Dagster's default one, named as
Dagster names it, made explicit so that it says what it needs)."""

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "default_automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Runs the modelling, calibration and validation partitions whose upstream "
    "matches changed (eager conditions; a failed blocking check holds them back). Needs the "
    "Dagster daemon (jackpot ui / dagster dev start it); no API key or network.",
)
