"""jackpot_pipeline: calibrated football match probabilities on Dagster software-defined assets."""
