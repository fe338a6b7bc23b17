"""Odds API client, replay and resource on recorded responses (HTTP mocked with ``responses``)."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
import responses

from jackpot_pipeline.core.odds import normalize_odds
from jackpot_pipeline.services.odds_api import (
    ApiRequest,
    FetchResult,
    OddsApi,
    OddsApiAuthError,
    OddsApiBadResponse,
    OddsApiClient,
    OddsApiError,
    OddsApiRequestError,
    OddsApiResource,
    OddsApiUnavailable,
    Quota,
    QuotaReserveError,
    ReplayOddsApi,
    RetryPolicy,
    odds_cost,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "odds-api"
KEY = "SECRETKEY123abc"
ODDS_URL = "https://api.the-odds-api.com/v4/sports/soccer_epl/odds"
EPL_NAME = "soccer_epl_odds_h2h_eu_20240804T2152Z.json"
EPL_BYTES = (DATA / EPL_NAME).read_bytes()
QUOTA = {"x-requests-remaining": "497", "x-requests-used": "3", "x-requests-last": "1"}
NOW = datetime(2024, 8, 4, 21, 52, 30, tzinfo=UTC)


def make_client(sleeps: list[float] | None = None, **kwargs: Any) -> OddsApiClient:
    """A client that never sleeps (records the delays) and reads a fixed clock."""
    sleep = (sleeps if sleeps is not None else []).append
    retry = RetryPolicy(max_attempts=3, backoff_base=0.5)
    return OddsApiClient(KEY, retry=retry, sleep=sleep, clock=lambda: NOW, **kwargs)


def error_json(code: str, message: str) -> dict[str, str]:
    """An error body shaped like the recorded ``error_*.json`` files."""
    return {"message": message, "error_code": code, "details_url": "https://example.invalid"}


def ok(mock: responses.RequestsMock, body: bytes = EPL_BYTES, **headers: str) -> None:
    mock.get(ODDS_URL, body=body, headers={**QUOTA, **headers}, content_type="application/json")


def timeout_with_key() -> requests.exceptions.ReadTimeout:
    """A transport error quoting the URL with the key, as ``requests`` does."""
    return requests.exceptions.ReadTimeout(f"Read timed out. (url: {ODDS_URL}?apiKey={KEY})")


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


# ----------------------------------------------------------------------------- live client


def test_success_keeps_body_byte_for_byte_and_parses_quota(api: responses.RequestsMock) -> None:
    ok(api)
    result = make_client().odds("soccer_epl")
    assert result.body == EPL_BYTES
    assert result.parsed == json.loads(EPL_BYTES)
    assert result.quota == Quota(remaining=497, used=3, last=1)
    assert (result.endpoint, result.sport, result.status, result.cost) == (
        "odds",
        "soccer_epl",
        200,
        1,
    )
    assert result.fetched_at == NOW
    assert result.url == f"{ODDS_URL}?apiKey=***&regions=eu&markets=h2h&oddsFormat=decimal"
    sent = api.calls[0].request.url
    assert f"apiKey={KEY}" in sent and "oddsFormat=decimal" in sent


RECORDED_ERRORS = {
    name: json.loads((DATA / f"{name}.json").read_text())
    for name in ("error_missing_key", "error_invalid_market_combo")
}


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (401, error_json("INVALID_KEY", "API key is not valid"), OddsApiAuthError, "INVALID_KEY"),
        (
            401,
            error_json("OUT_OF_USAGE_CREDITS", "Usage quota has been reached"),
            OddsApiAuthError,
            "OUT_OF_USAGE_CREDITS",
        ),
        (401, RECORDED_ERRORS["error_missing_key"], OddsApiAuthError, "MISSING_KEY"),
        (
            422,
            RECORDED_ERRORS["error_invalid_market_combo"],
            OddsApiRequestError,
            "INVALID_MARKET_COMBO",
        ),
        (404, error_json("UNKNOWN_SPORT", "Unknown sport"), OddsApiRequestError, "UNKNOWN_SPORT"),
    ],
)
def test_client_errors_are_typed_and_not_retried(
    api: responses.RequestsMock,
    status: int,
    body: dict[str, str],
    error: type[OddsApiError],
    code: str,
) -> None:
    api.get(ODDS_URL, status=status, json=body)
    sleeps: list[float] = []
    with pytest.raises(error) as raised:
        make_client(sleeps).odds("soccer_epl")
    assert (raised.value.status, raised.value.error_code) == (status, code)
    assert body["message"] in str(raised.value)
    assert len(api.calls) == 1 and sleeps == []


@pytest.mark.parametrize(
    "first",
    [429, 500, 503, timeout_with_key(), requests.exceptions.ConnectTimeout("connect timed out")],
    ids=["429", "500", "503", "read-timeout", "connect-timeout"],
)
def test_transient_failure_then_success(
    api: responses.RequestsMock, first: int | Exception
) -> None:
    if isinstance(first, int):
        api.get(ODDS_URL, status=first, json=error_json("EXCEEDED_FREQ_LIMIT", "slow down"))
    else:
        api.get(ODDS_URL, body=first)
    ok(api)
    sleeps: list[float] = []
    result = make_client(sleeps).odds("soccer_epl")
    assert result.body == EPL_BYTES
    assert sleeps == [0.5] and len(api.calls) == 2


@pytest.mark.parametrize("failure", [timeout_with_key(), 500], ids=["timeouts", "5xx"])
def test_retries_exhausted(api: responses.RequestsMock, failure: int | Exception) -> None:
    for _ in range(3):
        if isinstance(failure, int):
            api.get(ODDS_URL, status=failure)
        else:
            api.get(ODDS_URL, body=failure)
    sleeps: list[float] = []
    with pytest.raises(OddsApiUnavailable, match="after 3 attempts"):
        make_client(sleeps).odds("soccer_epl")
    assert sleeps == [0.5, 1.0] and len(api.calls) == 3


@pytest.mark.parametrize(
    "body",
    [EPL_BYTES[:1000], EPL_BYTES[:-1], b"", json.dumps(error_json("X", "not a list")).encode()],
    ids=["truncated", "missing-last-byte", "empty", "wrong-type"],
)
def test_bad_body_raises_and_returns_nothing(api: responses.RequestsMock, body: bytes) -> None:
    ok(api, body=body)
    with pytest.raises(OddsApiBadResponse):
        make_client().odds("soccer_epl")
    assert len(api.calls) == 1


def test_quota_reserve_refuses_before_calling(api: responses.RequestsMock) -> None:
    ok(api, **{"x-requests-remaining": "5"})
    client = make_client(quota_reserve=10)
    client.odds("soccer_epl")  # nothing known before the first call
    with pytest.raises(QuotaReserveError, match="5 credits left, reserve is 10"):
        client.odds("soccer_epl")
    assert len(api.calls) == 1


def test_no_key_refuses_without_calling(api: responses.RequestsMock) -> None:
    with pytest.raises(OddsApiAuthError) as raised:
        OddsApiClient(None).odds("soccer_epl")
    assert raised.value.error_code == "MISSING_KEY" and len(api.calls) == 0


class Capture(OddsApi):
    """Records the request instead of sending it."""

    def __init__(self) -> None:
        self.requests: list[ApiRequest] = []

    def fetch(self, request: ApiRequest) -> FetchResult:
        self.requests.append(request)
        return FetchResult(request.endpoint, request.sport, "", 200, NOW, Quota(), 0, b"", None)


def test_request_parameters_and_documented_costs() -> None:
    capture = Capture()
    capture.odds("soccer_epl", regions=["eu", "uk"], markets="h2h,totals")
    capture.odds("soccer_epl", bookmakers=[f"b{i}" for i in range(15)])
    capture.scores("soccer_epl")
    capture.scores("soccer_epl", days_from=3)
    capture.events("soccer_epl")
    capture.sports()
    capture.historical_odds("soccer_epl", datetime(2024, 8, 4, 12, tzinfo=UTC))
    odds, books, scores, scores_days, _, _, history = capture.requests
    assert [r.cost for r in capture.requests] == [4, 2, 1, 2, 0, 0, 10]
    assert odds.param("regions") == "eu,uk" and odds.param("markets") == "h2h,totals"
    assert books.param("regions") is None and books.param("bookmakers").count(",") == 14
    assert scores.param("daysFrom") is None and scores_days.param("daysFrom") == "3"
    assert history.param("date") == "2024-08-04T12:00:00Z" and history.expect is dict
    assert history.path == "/v4/historical/sports/soccer_epl/odds"
    assert odds_cost("h2h", "eu", bookmakers="a,b") == 1


# ----------------------------------------------------------------------------- the key never leaks


def _scenarios() -> list[tuple[str, Callable[[responses.RequestsMock], None]]]:
    """Each registers mocked responses for one ``odds`` call (success or failure)."""

    def status(code: int, body: dict[str, str]) -> Callable[[responses.RequestsMock], None]:
        return lambda mock: mock.get(ODDS_URL, status=code, json=body)

    def repeat(failure: Exception) -> Callable[[responses.RequestsMock], None]:
        return lambda mock: [mock.get(ODDS_URL, body=failure) for _ in range(3)]

    return [
        ("success", ok),
        ("invalid-key", status(401, error_json("INVALID_KEY", f"key {KEY} is not valid"))),
        ("out-of-credits", status(401, error_json("OUT_OF_USAGE_CREDITS", "quota reached"))),
        ("invalid-market", status(422, RECORDED_ERRORS["error_invalid_market_combo"])),
        ("429-then-ok", lambda mock: (mock.get(ODDS_URL, status=429), ok(mock))),
        ("500-then-ok", lambda mock: (mock.get(ODDS_URL, status=500), ok(mock))),
        ("timeout-then-ok", lambda mock: (mock.get(ODDS_URL, body=timeout_with_key()), ok(mock))),
        ("timeouts", repeat(timeout_with_key())),
        ("connection-refused", lambda mock: None),  # responses refuses, quoting the full URL
        ("truncated", lambda mock: ok(mock, body=EPL_BYTES[:500])),
        ("reserve", lambda mock: ok(mock, **{"x-requests-remaining": "0"})),
    ]


def test_key_appears_in_no_log_error_repr_or_result(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for name, register in _scenarios():
        client = make_client(quota_reserve=1)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            register(mock)
            for _ in range(2):  # the second call exercises the reserve check
                try:
                    result = client.odds("soccer_epl")
                except OddsApiError as exc:
                    assert exc.__cause__ is None and exc.__context__ is None, name
                    seen += [str(exc), repr(exc), repr(exc.args), str(exc.url)]
                    seen.append("".join(traceback.format_exception(exc)))
                else:
                    seen += [repr(result), json.dumps(result.metadata()), result.body.decode()]
        seen.append(repr(client))
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s', "https", "api", 443, "GET", f"/v4?apiKey={KEY}", "1.1", 200
    )
    resource = OddsApiResource(api_key=KEY)
    seen += [repr(resource), str(resource), repr(resource.api), caplog.text]
    seen += [record.getMessage() for record in caplog.records]
    assert any("apiKey=***" in text for text in seen)
    assert len(caplog.records) > 10
    leaks = [text for text in seen if KEY in text]
    assert leaks == []


# ----------------------------------------------------------------------------- resource


def test_resource_reads_the_key_from_the_environment(
    api: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ODDS_API_KEY", KEY)
    ok(api)

    @dg.asset
    def epl_odds(odds_api: OddsApiResource) -> int:
        assert odds_api.has_key and KEY not in repr(odds_api)
        return len(odds_api.odds("soccer_epl").parsed)

    resource = OddsApiResource(api_key=dg.EnvVar("ODDS_API_KEY"), backoff_base=0.0)
    result = dg.materialize([epl_odds], resources={"odds_api": resource})
    assert result.output_for_node("epl_odds") == 10
    assert f"apiKey={KEY}" in api.calls[0].request.url


def test_resource_without_key_replays_or_refuses() -> None:
    replayed = OddsApiResource(replay_dir=str(DATA)).odds("soccer_epl")
    assert replayed.source == "soccer_epl_odds_h2h_eu_20240801T1622Z.json"
    with pytest.raises(OddsApiAuthError, match="no API key"):
        OddsApiResource().odds("soccer_epl")


# ----------------------------------------------------------------------------- replay

EPL_SERIES = (
    "soccer_epl_odds_h2h_eu_20240801T1622Z.json",
    "soccer_epl_odds_h2h_eu_20240804T0022Z.json",
    EPL_NAME,
)


def at(text: str) -> Callable[[], datetime]:
    return lambda: datetime.fromisoformat(text)


def test_replay_serves_odds_in_time_order_with_synthetic_quota() -> None:
    replay = ReplayOddsApi(DATA)
    recorded = sorted(DATA.glob("soccer_epl_odds_*.json"), key=lambda p: p.name.split("_")[-1])
    results = [replay.odds("soccer_epl") for _ in range(len(recorded) + 1)]
    assert [r.source for r in results] == [p.name for p in recorded] + [recorded[-1].name]
    assert [r.source for r in results[:3]] == list(EPL_SERIES)
    assert [r.fetched_at for r in results[:3]] == [
        datetime(2024, 8, 1, 16, 22, tzinfo=UTC),
        datetime(2024, 8, 4, 0, 22, tzinfo=UTC),
        datetime(2024, 8, 4, 21, 52, tzinfo=UTC),
    ]
    assert results[2].body == EPL_BYTES
    assert [r.quota for r in results[:2]] == [Quota(499, 1, 1), Quota(498, 2, 1)]


def test_replay_as_of_serves_the_latest_snapshot_at_or_before() -> None:
    replay = ReplayOddsApi(DATA, as_of=at("2024-08-04T12:00:00+00:00"))
    assert replay.odds("soccer_epl").source == EPL_SERIES[1]
    assert replay.odds("soccer_epl").source == EPL_SERIES[1]
    early = ReplayOddsApi(DATA, as_of=at("2024-07-01T00:00:00+00:00")).odds("soccer_epl")
    assert (early.parsed, early.source, early.quota.last) == ([], None, 0)


def test_replay_costs_per_endpoint() -> None:
    replay = ReplayOddsApi(DATA)
    assert replay.odds("soccer_epl", regions="eu,uk", markets="h2h,totals").quota.last == 4
    assert replay.scores("soccer_fifa_world_cup").quota.last == 1
    assert replay.scores("soccer_fifa_world_cup", days_from=3).quota.last == 2
    assert replay.sports().quota.last == 0
    events = replay.events("soccer_epl")  # no events recording: derived from the odds one
    assert events.quota.last == 0 and "bookmakers" not in events.parsed[0]
    assert replay.used == 7 and replay.remaining == 493


def test_replay_unwraps_envelopes() -> None:
    replay = ReplayOddsApi(DATA)
    nfl = replay.odds("americanfootball_nfl")  # historical wrapper on disk
    assert isinstance(nfl.parsed, list) and len(nfl.parsed) == 15
    assert nfl.fetched_at == datetime(2021, 11, 25, 11, 55, tzinfo=UTC)
    ucl = replay.odds("soccer_uefa_champs_league")  # app cache {"ts", "data"}
    assert json.loads(ucl.body) == ucl.parsed and len(ucl.parsed) == 1
    frame = normalize_odds(ucl.parsed, ucl.fetched_at, "soccer_uefa_champs_league")
    assert set(frame["market"]) == {"h2h", "totals", "h2h_lay"}
    scores = replay.scores("soccer_fifa_world_cup")  # app cache {"timestamp", "data"}
    assert len(scores.parsed) == 72 and scores.fetched_at == datetime(
        2026, 6, 13, 9, 58, tzinfo=UTC
    )


def test_replay_historical_odds_are_wrapped() -> None:
    replay = ReplayOddsApi(DATA)
    snap = replay.historical_odds("soccer_epl", datetime(2024, 8, 4, 12, tzinfo=UTC))
    wrapper = {k: v for k, v in snap.parsed.items() if k != "data"}
    assert wrapper == {
        "timestamp": "2024-08-04T00:22:00Z",
        "previous_timestamp": "2024-08-01T16:22:00Z",
        "next_timestamp": "2024-08-04T21:52:00Z",
    }
    assert snap.quota.last == 10 and len(snap.parsed["data"]) == 10
    nfl = replay.historical_odds("americanfootball_nfl", datetime(2022, 1, 1, tzinfo=UTC))
    assert nfl.body == (DATA / nfl.source).read_bytes()


def test_replay_refusals() -> None:
    with pytest.raises(OddsApiRequestError) as unknown:
        ReplayOddsApi(DATA).odds("soccer_nowhere")
    assert (unknown.value.status, unknown.value.error_code) == (404, "UNKNOWN_SPORT")
    with pytest.raises(OddsApiAuthError) as broke:
        ReplayOddsApi(DATA, credits=1).odds("soccer_epl", markets="h2h,totals")
    assert broke.value.error_code == "OUT_OF_USAGE_CREDITS"
    replay = ReplayOddsApi(DATA, credits=3, quota_reserve=2)
    replay.odds("soccer_epl")
    replay.odds("soccer_epl")
    with pytest.raises(QuotaReserveError):
        replay.odds("soccer_epl")
