"""The ``odds_api`` resource: live with ``ODDS_API_KEY`` (read through ``dg.EnvVar`` when a run
starts, never stored in config) when that variable is set when the code location loads, else a
replay of the recordings in ``data/odds-api`` (offline, synthetic quota)."""

import os

import dagster as dg

from jackpot_pipeline.services.odds_api import REPLAY_DIR, OddsApiResource

API_KEY_ENV = "ODDS_API_KEY"


def odds_api_resource() -> OddsApiResource:
    """Live with the key from ``$ODDS_API_KEY`` if it is set now, else replay."""
    if os.environ.get(API_KEY_ENV):
        return OddsApiResource(api_key=dg.EnvVar(API_KEY_ENV), quota_reserve=10)
    return OddsApiResource(replay_dir=str(REPLAY_DIR))
