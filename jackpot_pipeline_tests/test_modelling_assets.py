"""The model-layer assets on real data: team_features, dixon_coles_models, oos_predictions."""

import json
import math
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from jackpot_pipeline.core.dixon_coles import predict
from jackpot_pipeline.defs.modelling.assets import dixon_coles, team_features
from jackpot_pipeline.defs.partitions import league_season_partitions, partition_key
from jackpot_pipeline.defs.resources import SettingsResource, WarehouseResource
from jackpot_pipeline.services import model_store, warehouse
from jackpot_pipeline.services.ingestion import ingest
from jackpot_pipeline_tests._corpus import dump_warehouse, make_request, real_bytes

SEASONS = {"2020-21": "2021", "2021-22": "2122", "2022-23": "2223"}
MODEL_ASSETS = [team_features, dixon_coles]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding E0 and E1 2020-21 … 2022-23 (E1 feeds E0's promoted teams' form)."""
    root = tmp_path_factory.mktemp("modelling")
    con = warehouse.connect(root / "w.duckdb")
    for league in ("E0", "E1"):
        for season, code in SEASONS.items():
            ingest(con, make_request(real_bytes(code, league), root / "raw", league, season))
    con.close()
    return root / "w.duckdb"


def materialize(path: Path, **kwargs: object) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        MODEL_ASSETS,
        resources={
            "warehouse_db": WarehouseResource(path=str(path)),
            "settings": SettingsResource(),
        },
        **kwargs,
    )


def range_tags(league: str, first: str, last: str) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": str(partition_key(league, first)),
        "dagster/asset_partition_range_end": str(partition_key(league, last)),
    }


@pytest.fixture(scope="module")
def range_run(
    ingested: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dg.ExecuteInProcessResult]:
    """The model assets of every E0 season, materialized as one range run."""
    path = tmp_path_factory.mktemp("range") / "w.duckdb"
    path.write_bytes(ingested.read_bytes())
    result = materialize(path, tags=range_tags("E0", "2020-21", "2022-23"))
    assert result.success
    return path, result


@pytest.fixture(scope="module")
def modelled(range_run: tuple[Path, dg.ExecuteInProcessResult]) -> Path:
    return range_run[0]


def metadata_by_partition(
    result: dg.ExecuteInProcessResult, node: str, asset: str
) -> dict[str, dict]:
    return {
        str(m.partition): {k: v.value for k, v in m.metadata.items()}
        for m in result.asset_materializations_for_node(node)
        if m.asset_key == dg.AssetKey(asset)
    }


def test_range_run_metadata_describes_each_partition_only(range_run) -> None:
    """oos_predictions E0|2021-22 states that season's rows, not the league's total; each
    season's models carry their own ρ, home advantage, convergence and versions."""
    path, result = range_run
    oos = query(path, "SELECT season, count(*) AS n FROM oos_predictions GROUP BY season")
    expected = dict(zip(oos["season"], oos["n"], strict=True))
    predictions = metadata_by_partition(result, "dixon_coles", "oos_predictions")
    assert {k: v["dagster/row_count"] for k, v in predictions.items()} == {
        str(partition_key("E0", season)): expected[season] for season in SEASONS
    }
    models = metadata_by_partition(result, "dixon_coles", "dixon_coles_models")
    stored = query(path, "SELECT * FROM models WHERE kind LIKE 'block %' ORDER BY as_of")
    for season in SEASONS:
        meta = models[str(partition_key("E0", season))]
        assert (meta["league"], meta["season"]) == ("E0", season)
        mine = stored[stored["season"] == season]
        assert meta["dagster/row_count"] == len(mine)  # that season's refits, not the league's
        row = mine.iloc[-1]
        assert meta["last_fit/model_id"] == row["model_id"]
        assert meta["last_fit/rho"] == pytest.approx(row["rho"], abs=1e-6)
        assert meta["last_fit/home_advantage"] == pytest.approx(row["home_advantage"], abs=1e-6)
        assert meta["last_fit/converged"] is True
        assert meta["xi"] == pytest.approx(row["xi"])
        prior = json.loads(row["prior"])  # the season's nested prior choice, as stored
        (chosen,) = query(
            path, f"SELECT * FROM prior_selections WHERE league = 'E0' AND season = '{season}'"
        )[["precision", "newcomer_attack", "newcomer_defence"]].to_numpy()
        assert meta["prior_precision"] == prior["precision"] == chosen[0]
        assert meta["newcomer_attack"] == pytest.approx(prior["newcomer_attack"], abs=1e-6)
        assert prior["newcomer_defence"] == pytest.approx(chosen[2], abs=1e-12)
        assert "| team_id" in meta["ratings"]
    features = metadata_by_partition(result, "team_features", "team_features")
    counts = query(path, "SELECT season, count(*) AS n FROM team_features GROUP BY season")
    assert {k: v["dagster/row_count"] for k, v in features.items()} == {
        str(partition_key("E0", s)): n for s, n in zip(counts["season"], counts["n"], strict=True)
    }


def test_team_features_declare_every_league_of_the_country() -> None:
    """E0 2021-22 reads E0 and E1 (same country) up to 2021-22, and nothing of SP1."""
    mapping = team_features.get_partition_mapping(dg.AssetKey("matches"))
    downstream = league_season_partitions.subset_with_partition_keys(
        [str(partition_key("E0", "2021-22"))]
    )
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        downstream, league_season_partitions, league_season_partitions
    ).partitions_subset.get_partition_keys()
    leagues = {key.keys_by_dimension["league"] for key in upstream}
    seasons = {key.keys_by_dimension["season"] for key in upstream}
    assert leagues == {"E0", "E1"}
    assert max(seasons) == "2021-22" and "2012-13" in seasons


def query(path: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).df()


def test_every_match_after_the_warm_up_is_predicted_out_of_sample(modelled: Path) -> None:
    oos = query(modelled, "SELECT * FROM oos_predictions")
    matches = query(modelled, "SELECT * FROM matches WHERE league = 'E0'")
    per_season = oos.groupby("season").size().to_dict()
    assert per_season["2021-22"] == per_season["2022-23"] == 380
    assert 250 <= per_season["2020-21"] < 380  # first season: predicted once 60 matches exist
    joined = oos.merge(matches[["match_id", "match_date"]], on="match_id", suffixes=("", "_m"))
    assert len(joined) == len(oos)
    assert (pd.to_datetime(joined["as_of"]) <= pd.to_datetime(joined["match_date_m"])).all()
    sums = oos[["p_home", "p_draw", "p_away"]].sum(axis=1)
    assert ((sums - 1).abs() < 1e-6).all()
    assert oos["converged"].all()


def test_models_are_the_refits_that_made_the_predictions(modelled: Path) -> None:
    """One stored model per walk-forward refit; every OOS row joins the model that made it,
    whose stored ratings reproduce the row exactly."""
    models = query(modelled, "SELECT * FROM models ORDER BY as_of")
    oos = query(
        modelled,
        "SELECT o.*, m.home_team_id, m.away_team_id FROM oos_predictions o "
        "JOIN matches m USING (match_id)",
    )
    assert models["model_id"].is_unique and models["model_id"].str.startswith("dc1-").all()
    assert set(oos["model_version"]) == set(models["model_id"])
    assert (
        models["kind"] == "block " + pd.to_datetime(models["as_of"]).dt.strftime("%Y-%m-%d")
    ).all()
    assert (pd.to_datetime(models["training_since"]) < pd.to_datetime(models["as_of"])).all()
    assert models["converged"].all()
    ratings = query(modelled, "SELECT * FROM model_team_ratings")
    per_model = ratings.groupby("model_id").size()
    assert set(per_model.index) == set(models["model_id"])
    assert (per_model >= 20).all()
    for prior in models["prior"]:
        assert set(json.loads(prior)) == {
            "precision",
            "newcomer_attack",
            "newcomer_defence",
            "newcomer_offsets",
        }
    with duckdb.connect(str(modelled), read_only=True) as con:
        fits = {block.model_id: block.params for block in model_store.load_fits(con, "E0")}
    for model, rows in oos.groupby("model_version"):
        again = predict(fits[model], rows["home_team_id"], rows["away_team_id"])
        np.testing.assert_array_equal(again.p_home, rows["p_home"].to_numpy())
    selections = query(modelled, "SELECT * FROM xi_selections ORDER BY season")
    later = selections[selections["season"] > "2020-21"]
    assert (later["n_validation_matches"] > 0).all()
    for _, row in later.iterrows():
        scores = json.loads(row["scores"])
        assert math.isclose(scores[f"{row['xi']:g}"], min(scores.values()))
    scores = query(modelled, "SELECT * FROM xi_scores")
    assert scores.groupby("season")["xi"].nunique().min() >= 7
    priors = query(modelled, "SELECT * FROM prior_selections ORDER BY season")
    for _, row in priors[priors["n_validation_matches"] > 0].iterrows():
        scores = json.loads(row["scores"])
        assert math.isclose(scores[f"{row['precision']:g}"], min(scores.values()))
    precision_scores = query(modelled, "SELECT * FROM precision_scores")
    assert precision_scores.groupby("season")["precision"].nunique().min() == 4


def test_team_features_cover_both_teams_of_every_match(modelled: Path) -> None:
    features = query(modelled, "SELECT * FROM team_features WHERE league = 'E0'")
    matches = query(modelled, "SELECT match_id FROM matches WHERE league = 'E0'")
    assert len(features) == 2 * len(matches)
    assert features.groupby("match_id").size().eq(2).all()


def test_rerun_and_single_partition_runs_reproduce_the_range_run(
    ingested: Path, modelled: Path, tmp_path: Path
) -> None:
    """Re-materializing leaves the tables identical; running each season on its own (as a UI
    backfill of one partition would) writes exactly what the range run wrote."""
    path = tmp_path / "w.duckdb"
    path.write_bytes(ingested.read_bytes())
    for season in SEASONS:
        assert materialize(path, partition_key=partition_key("E0", season)).success
    tables = (
        "oos_predictions",
        "models",
        "model_team_ratings",
        "xi_selections",
        "xi_scores",
        "team_features",
    )
    single, ranged = dump_warehouse(path), dump_warehouse(modelled)
    for table in tables:
        assert single[table] == ranged[table], table
    assert materialize(path, tags=range_tags("E0", "2020-21", "2022-23")).success
    again = dump_warehouse(path)
    for table in tables:
        assert again[table] == ranged[table], table


def test_a_season_without_matches_is_reported_not_crashed(ingested: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    path.write_bytes(ingested.read_bytes())
    result = materialize(
        path,
        partition_key=partition_key("SP1", "2025-26"),
        selection=["dixon_coles_models", "oos_predictions"],
    )
    assert result.success
    assert query(path, "SELECT count(*) AS n FROM oos_predictions")["n"].iloc[0] == 0
    for asset in ("dixon_coles_models", "oos_predictions"):
        (meta,) = metadata_by_partition(result, "dixon_coles", asset).values()
        assert meta["status"] == "no data" and meta["dagster/row_count"] == 0
        assert "no matches of SP1 2025-26" in meta["reason"]
