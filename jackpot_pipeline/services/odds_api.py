"""The Odds API v4 client: live over HTTP, replayed from recordings, and the Dagster resource.

``OddsApi`` builds the requests (parameters, documented quota cost) for every endpoint; its
``fetch`` is implemented by :class:`OddsApiClient` (HTTP, retries, quota reserve),
:class:`ReplayOddsApi` (the files in ``data/odds-api``) and :class:`OddsApiResource` (Dagster
config, delegating to one of the two).

The key travels as the ``apiKey`` query parameter, so it must never be echoed: every URL kept,
logged or put in an error is rebuilt with ``apiKey=***``; ``requests`` exceptions (which quote the
full URL) are re-raised as our own, redacted and unchained; urllib3's debug lines are redacted too.

``requests`` is imported by the live client when it is built or sends, not with this module: the
resource, the replay and the result and error types load without it (cheap code location).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import dagster as dg
from pydantic import PrivateAttr

from jackpot_pipeline.settings import DATA_DIR

if TYPE_CHECKING:
    import requests

DEFAULT_BASE_URL = "https://api.the-odds-api.com"
REPLAY_DIR = DATA_DIR / "odds-api"
REPLAY_BASE_URL = "replay://api.the-odds-api.com"
REDACTED = "***"
FREE_PLAN_CREDITS = 500
HISTORICAL_COST_FACTOR = 10
EVENT_FIELDS = ("id", "sport_key", "sport_title", "commence_time", "home_team", "away_team")
QUOTA_HEADERS = ("x-requests-remaining", "x-requests-used", "x-requests-last")
_KEY_IN_TEXT = re.compile(r"(apiKey=)[^&\s'\"]+", re.IGNORECASE)

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- errors


class OddsApiError(Exception):
    """Base of the client's errors; message and attributes never contain the API key."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.url = url


class OddsApiAuthError(OddsApiError):
    """401: key missing, invalid, deactivated or out of credits (``error_code`` says which)."""


class OddsApiRequestError(OddsApiError):
    """4xx other than 401/429 (422 invalid market, 404 unknown sport …): fix the request."""


class OddsApiUnavailable(OddsApiError):
    """Retries exhausted on 429, 5xx, timeouts or connection errors."""


class OddsApiBadResponse(OddsApiError):
    """A 200 whose body is not the complete JSON document expected."""


class QuotaReserveError(OddsApiError):
    """Refused before calling: the last known remaining credits are below the reserve."""


def redact(text: str, secret: str | None = None) -> str:
    """``text`` with any ``apiKey=…`` value and any occurrence of ``secret`` replaced by ***."""
    text = _KEY_IN_TEXT.sub(rf"\g<1>{REDACTED}", text)
    return text.replace(secret, REDACTED) if secret else text


class _RedactingFilter(logging.Filter):
    """Rewrites log records so an ``apiKey=…`` in the formatted message is masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), ()
        return True


def _protect_urllib3_log() -> None:
    """urllib3 logs each request line (with the query string) at DEBUG: mask it, once."""
    target = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactingFilter) for f in target.filters):
        target.addFilter(_RedactingFilter())


# ----------------------------------------------------------------------------- requests, results


@dataclass(frozen=True)
class ApiRequest:
    """One API call: endpoint name, path, query parameters (without key) and documented cost."""

    endpoint: str
    path: str
    sport: str | None
    params: tuple[tuple[str, str], ...]
    cost: int
    expect: type  # the JSON type a complete body has (list, or dict for historical wrappers)

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)

    def url(self, base_url: str) -> str:
        """The URL with the key shown as ``***`` — the only form that is ever kept or logged."""
        query = urlencode([("apiKey", REDACTED), *self.params], safe="*,:")
        return f"{base_url}{self.path}?{query}"


@dataclass(frozen=True)
class Quota:
    """Usage headers of a response: credits remaining, used, and the cost of this call."""

    remaining: int | None = None
    used: int | None = None
    last: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Quota:
        values = [_int_or_none(headers.get(name)) for name in QUOTA_HEADERS]
        return cls(*values)


@dataclass(frozen=True)
class FetchResult:
    """A successful call: the body byte for byte, its parsed JSON and the call's bookkeeping.

    ``cost`` is the documented cost computed from the parameters; ``quota.last`` is what the
    server reported. ``source`` names the recording for replayed results.
    """

    endpoint: str
    sport: str | None
    url: str
    status: int
    fetched_at: datetime
    quota: Quota
    cost: int
    body: bytes = field(repr=False)
    parsed: Any = field(repr=False)
    source: str | None = None

    def metadata(self) -> dict[str, Any]:
        """JSON-friendly summary for Dagster metadata and fetch logs (no body, no key)."""
        return {
            "endpoint": self.endpoint,
            "sport": self.sport,
            "url": self.url,
            "status": self.status,
            "fetched_at": self.fetched_at.isoformat(),
            "requests_remaining": self.quota.remaining,
            "requests_used": self.quota.used,
            "requests_last": self.quota.last,
            "cost": self.cost,
            "bytes": len(self.body),
            "source": self.source,
        }


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def _param_text(value: str | int | datetime | Sequence[str]) -> str:
    """Query value: lists comma-joined, datetimes as ISO 8601 UTC with ``Z``."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a tz-aware (UTC) time")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str | int):
        return str(value)
    return ",".join(value)


def _count(value: str | Sequence[str]) -> int:
    return len(value.split(",")) if isinstance(value, str) else len(value)


def odds_cost(
    markets: str | Sequence[str], regions: str | Sequence[str], bookmakers: Any = None
) -> int:
    """Documented ``/odds`` cost: markets × regions (bookmakers: one region per 10 keys)."""
    n_regions = math.ceil(_count(bookmakers) / 10) if bookmakers else _count(regions)
    return _count(markets) * n_regions


def _build(
    endpoint: str, path: str, sport: str | None, cost: int, expect: type, **params: Any
) -> ApiRequest:
    query = tuple((k, _param_text(v)) for k, v in params.items() if v is not None)
    return ApiRequest(endpoint, path, sport, query, cost, expect)


# ----------------------------------------------------------------------------- interface


class OddsApi(ABC):
    """The endpoints we use; implementations provide :meth:`fetch`."""

    @abstractmethod
    def fetch(self, request: ApiRequest) -> FetchResult:
        """Perform one request."""

    def sports(self, all_sports: bool = False) -> FetchResult:
        """``GET /v4/sports`` (free); ``all_sports`` adds out-of-season sports."""
        flag = "true" if all_sports else None
        return self.fetch(_build("sports", "/v4/sports", None, 0, list, all=flag))

    def odds(
        self,
        sport: str,
        regions: str | Sequence[str] = "eu",
        markets: str | Sequence[str] = "h2h",
        odds_format: str = "decimal",
        *,
        bookmakers: str | Sequence[str] | None = None,
        event_ids: str | Sequence[str] | None = None,
        commence_time_from: datetime | None = None,
        commence_time_to: datetime | None = None,
    ) -> FetchResult:
        """``GET /v4/sports/{sport}/odds``; costs markets × regions."""
        return self.fetch(
            _build(
                "odds",
                f"/v4/sports/{sport}/odds",
                sport,
                odds_cost(markets, regions, bookmakers),
                list,
                regions=None if bookmakers else regions,
                markets=markets,
                oddsFormat=odds_format,
                bookmakers=bookmakers,
                eventIds=event_ids,
                commenceTimeFrom=commence_time_from,
                commenceTimeTo=commence_time_to,
            )
        )

    def scores(self, sport: str, days_from: int | None = None) -> FetchResult:
        """``GET /v4/sports/{sport}/scores``; ``days_from`` (1–3) adds completed games, cost 2."""
        cost = 1 if days_from is None else 2
        path = f"/v4/sports/{sport}/scores"
        return self.fetch(_build("scores", path, sport, cost, list, daysFrom=days_from))

    def events(
        self,
        sport: str,
        *,
        commence_time_from: datetime | None = None,
        commence_time_to: datetime | None = None,
    ) -> FetchResult:
        """``GET /v4/sports/{sport}/events`` (free): fixtures without odds."""
        return self.fetch(
            _build(
                "events",
                f"/v4/sports/{sport}/events",
                sport,
                0,
                list,
                commenceTimeFrom=commence_time_from,
                commenceTimeTo=commence_time_to,
            )
        )

    def historical_odds(
        self,
        sport: str,
        date: datetime,
        regions: str | Sequence[str] = "eu",
        markets: str | Sequence[str] = "h2h",
        odds_format: str = "decimal",
        *,
        bookmakers: str | Sequence[str] | None = None,
    ) -> FetchResult:
        """``GET /v4/historical/sports/{sport}/odds``: the snapshot at or before ``date``.

        The body is the wrapper ``{timestamp, previous_timestamp, next_timestamp, data}``; costs
        10 × markets × regions.
        """
        return self.fetch(
            _build(
                "historical_odds",
                f"/v4/historical/sports/{sport}/odds",
                sport,
                HISTORICAL_COST_FACTOR * odds_cost(markets, regions, bookmakers),
                dict,
                regions=None if bookmakers else regions,
                markets=markets,
                oddsFormat=odds_format,
                bookmakers=bookmakers,
                date=date,
            )
        )


def check_reserve(remaining: int | None, reserve: int, request: ApiRequest, url: str) -> None:
    """Raise :class:`QuotaReserveError` when the last known remaining credits are below reserve."""
    if remaining is not None and remaining < reserve:
        raise QuotaReserveError(
            f"{request.endpoint}: {remaining} credits left, reserve is {reserve}; not fetching",
            url=url,
        )


def parse_body(body: bytes, request: ApiRequest, url: str) -> Any:
    """The body's JSON; :class:`OddsApiBadResponse` if truncated, invalid or of the wrong type."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, request.expect):
        raise OddsApiBadResponse(
            f"{request.endpoint}: body of {len(body)} bytes is not a complete JSON "
            f"{request.expect.__name__} ({url})",
            status=200,
            url=url,
        )
    return parsed


# ----------------------------------------------------------------------------- live client


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and exponential backoff (base × 2^(attempt−1), capped) for transient failures."""

    max_attempts: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))


DEFAULT_RETRY = RetryPolicy()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_session() -> requests.Session:
    import requests  # the live client's only: not loaded with the code location

    return requests.Session()


class OddsApiClient(OddsApi):
    """Live client on a ``requests.Session``: timeouts, retries, quota tracking, typed errors.

    Retries 429, 5xx, timeouts and connection errors; never 401/404/422. Remembers the last
    ``x-requests-remaining`` and refuses to call when it is below ``quota_reserve``.
    """

    def __init__(
        self,
        api_key: str | None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: requests.Session | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        quota_reserve: int = 0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._api_key = api_key or None
        self.base_url = base_url.rstrip("/")
        self._session = session or _new_session()
        self._timeout = (connect_timeout, read_timeout)
        self.retry = retry
        self.quota_reserve = quota_reserve
        self._sleep = sleep
        self._clock = clock
        self.remaining: int | None = None
        _protect_urllib3_log()

    def __repr__(self) -> str:
        key = REDACTED if self._api_key else None
        return f"OddsApiClient({self.base_url!r}, api_key={key!r}, remaining={self.remaining})"

    def fetch(self, request: ApiRequest) -> FetchResult:
        url = request.url(self.base_url)
        if self._api_key is None:
            raise OddsApiAuthError(
                f"{request.endpoint}: no API key configured", error_code="MISSING_KEY", url=url
            )
        check_reserve(self.remaining, self.quota_reserve, request, url)
        failure = ""
        for attempt in range(1, self.retry.max_attempts + 1):
            outcome = self._send(request)
            if isinstance(outcome, str):
                failure = outcome
            elif outcome.status_code != 429 and outcome.status_code < 500:
                return self._result(request, outcome, url)
            else:
                failure = f"HTTP {outcome.status_code}"
            if attempt < self.retry.max_attempts:
                delay = self.retry.delay(attempt)
                logger.warning(
                    "odds-api %s attempt %d/%d failed (%s); retrying in %.1fs: %s",
                    request.endpoint,
                    attempt,
                    self.retry.max_attempts,
                    failure,
                    delay,
                    url,
                )
                self._sleep(delay)
        raise OddsApiUnavailable(
            f"{request.endpoint}: {failure} after {self.retry.max_attempts} attempts ({url})",
            url=url,
        )

    def _send(self, request: ApiRequest) -> requests.Response | str:
        """One GET; a transport failure is returned as its redacted description.

        Returning (not raising) keeps the ``requests`` exception, whose text and ``request``
        attribute hold the URL with the key, out of any traceback or ``__context__``.
        """
        import requests  # loaded with the session already: a dictionary lookup

        params = [("apiKey", self._api_key), *request.params]
        try:
            response = self._session.get(
                f"{self.base_url}{request.path}", params=params, timeout=self._timeout
            )
        except requests.RequestException as exc:
            failure = f"{type(exc).__name__}: {exc}"
        else:
            self._note_quota(response)
            return response
        return redact(failure, self._api_key)

    def _note_quota(self, response: requests.Response) -> None:
        remaining = Quota.from_headers(response.headers).remaining
        if remaining is not None:
            self.remaining = remaining

    def _result(self, request: ApiRequest, response: requests.Response, url: str) -> FetchResult:
        """The FetchResult of a final response, or the typed error it stands for."""
        status = response.status_code
        body = response.content
        logger.info("odds-api %s HTTP %d (%d bytes): %s", request.endpoint, status, len(body), url)
        if status != 200:
            raise self._error(request, status, body, url)
        quota = Quota.from_headers(response.headers)
        return FetchResult(
            endpoint=request.endpoint,
            sport=request.sport,
            url=url,
            status=status,
            fetched_at=self._clock(),
            quota=quota,
            cost=request.cost,
            body=body,
            parsed=parse_body(body, request, url),
        )

    def _error(self, request: ApiRequest, status: int, body: bytes, url: str) -> OddsApiError:
        try:
            details = json.loads(body)
        except ValueError:
            details = {}
        if not isinstance(details, dict):
            details = {}
        code = details.get("error_code")
        message = redact(str(details.get("message") or body[:200].decode(errors="replace")))
        text = f"{request.endpoint}: HTTP {status} {code or ''}: {message} ({url})"
        kind = OddsApiAuthError if status == 401 else OddsApiRequestError
        return kind(redact(text, self._api_key), status=status, error_code=code, url=url)


# ----------------------------------------------------------------------------- replay


_RECORDING_NAME = re.compile(
    r"(?:historical_)?(?P<sport>[a-z0-9_]+?)_(?P<endpoint>odds|scores|events)_(?:.*_)?"
    r"(?P<date>\d{8})(?:T(?P<time>\d{4})Z)?(?:\.\w+)?\.json"
)
_SPORTS_NAME = re.compile(r"sports_list_(?P<date>\d{8})(?:T(?P<time>\d{4})Z)?\.json")


@dataclass(frozen=True)
class Recording:
    """A recorded body and the snapshot time stamped in its file name (date-only → 00:00Z)."""

    path: Path
    stamp: datetime


def index_recordings(data_dir: Path) -> dict[tuple[str, str | None], list[Recording]]:
    """Recordings by (endpoint, sport) in time order; sports lists under ("sports", None)."""
    index: dict[tuple[str, str | None], list[Recording]] = {}
    for path in sorted(data_dir.glob("*.json")):
        named = _RECORDING_NAME.fullmatch(path.name)
        listed = _SPORTS_NAME.fullmatch(path.name)
        match = named or listed
        if match is None:
            continue
        key = (named["endpoint"], named["sport"]) if named else ("sports", None)
        stamp = datetime.strptime(match["date"] + (match["time"] or "0000"), "%Y%m%d%H%M")
        index.setdefault(key, []).append(Recording(path, stamp.replace(tzinfo=UTC)))
    for recordings in index.values():
        recordings.sort(key=lambda r: r.stamp)
    return index


def _api_body(raw: Any) -> Any:
    """Strip recording envelopes (historical wrapper, app caches ``{timestamp|ts, data}``)."""
    return raw["data"] if isinstance(raw, dict) and "data" in raw else raw


def _iso(stamp: datetime | None) -> str | None:
    return None if stamp is None else stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


class ReplayOddsApi(OddsApi):
    """The API served from recorded responses, with synthetic quota headers.

    Odds/scores/events/sports come from ``<sport>_<endpoint>_…_<stamp>.json`` files in time
    order: with an ``as_of`` clock the latest recording at or before ``as_of()``, otherwise each
    call serves the next recording (then keeps serving the last). Events fall back to the odds
    recordings without bookmakers. Historical odds serve the latest odds recording at or before
    ``date`` inside a historical wrapper. Credits start at ``credits`` and drop by the documented
    cost; an empty answer (nothing recorded yet at that time) is free.
    """

    def __init__(
        self,
        data_dir: Path | str = REPLAY_DIR,
        *,
        as_of: Callable[[], datetime] | None = None,
        credits: int = FREE_PLAN_CREDITS,
        quota_reserve: int = 0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._index = index_recordings(self.data_dir)
        self._as_of = as_of
        self._cursor: dict[tuple[str, str | None], int] = {}
        self.remaining = credits
        self.used = 0
        self.quota_reserve = quota_reserve

    def __repr__(self) -> str:
        return f"ReplayOddsApi(data_dir={str(self.data_dir)!r}, remaining={self.remaining})"

    def fetch(self, request: ApiRequest) -> FetchResult:
        url = request.url(REPLAY_BASE_URL)
        check_reserve(self.remaining, self.quota_reserve, request, url)
        if request.cost > self.remaining:
            raise OddsApiAuthError(
                f"{request.endpoint}: usage quota has been reached ({url})",
                status=401,
                error_code="OUT_OF_USAGE_CREDITS",
                url=url,
            )
        kind, recordings = self._recordings(request, url)
        chosen = self._choose(request, kind, recordings)
        body, fetched_at = self._body(request, kind, recordings, chosen)
        cost = 0 if chosen is None else request.cost
        self.remaining -= cost
        self.used += cost
        logger.info("odds-api replay %s: %s", request.endpoint, chosen and chosen.path.name)
        return FetchResult(
            endpoint=request.endpoint,
            sport=request.sport,
            url=url,
            status=200,
            fetched_at=fetched_at,
            quota=Quota(self.remaining, self.used, cost),
            cost=request.cost,
            body=body,
            parsed=parse_body(body, request, url),
            source=None if chosen is None else chosen.path.name,
        )

    def _recordings(self, request: ApiRequest, url: str) -> tuple[str, list[Recording]]:
        """(recording kind, recordings) serving this request; 404 when nothing is recorded."""
        kinds = {
            "historical_odds": ("odds",),
            "events": ("events", "odds"),
        }.get(request.endpoint, (request.endpoint,))
        for kind in kinds:
            recordings = self._index.get((kind, request.sport if kind != "sports" else None))
            if recordings:
                return kind, recordings
        raise OddsApiRequestError(
            f"{request.endpoint}: no recording for sport {request.sport!r} ({url})",
            status=404,
            error_code="UNKNOWN_SPORT",
            url=url,
        )

    def _choose(
        self, request: ApiRequest, kind: str, recordings: list[Recording]
    ) -> Recording | None:
        """Latest recording at or before the limit (clock, historical date), else the cursor."""
        limits = [self._as_of()] if self._as_of else []
        if request.endpoint == "historical_odds":
            limits.append(datetime.fromisoformat(str(request.param("date"))))
        if limits:
            limit = min(limits)
            return next((r for r in reversed(recordings) if r.stamp <= limit), None)
        key = (request.endpoint, request.sport)
        position = self._cursor.get(key, 0)
        self._cursor[key] = min(position + 1, len(recordings) - 1)
        return recordings[position]

    def _body(
        self,
        request: ApiRequest,
        kind: str,
        recordings: list[Recording],
        chosen: Recording | None,
    ) -> tuple[bytes, datetime]:
        """The bytes the API would have sent, and the recording's stamp as fetch time."""
        raw_bytes = chosen.path.read_bytes() if chosen else b"[]"
        raw = json.loads(raw_bytes)
        data = _api_body(raw)
        fetched_at = chosen.stamp if chosen else (self._as_of() if self._as_of else _utc_now())
        if request.endpoint == "historical_odds":
            if isinstance(raw, dict) and "previous_timestamp" in raw:
                return raw_bytes, fetched_at
            data = self._wrap(recordings, chosen, data)
        elif request.endpoint == "events" and kind == "odds":
            data = [{k: e[k] for k in EVENT_FIELDS if k in e} for e in data]
        elif data is raw:
            return raw_bytes, fetched_at
        return json.dumps(data).encode(), fetched_at

    @staticmethod
    def _wrap(recordings: list[Recording], chosen: Recording | None, data: Any) -> dict[str, Any]:
        """A historical wrapper around ``data`` with the neighbouring recordings' stamps."""
        stamps = [r.stamp for r in recordings]
        at = stamps.index(chosen.stamp) if chosen else -1
        return {
            "timestamp": _iso(chosen.stamp if chosen else None),
            "previous_timestamp": _iso(stamps[at - 1]) if at > 0 else None,
            "next_timestamp": _iso(stamps[at + 1]) if at + 1 < len(stamps) else None,
            "data": data,
        }


# ----------------------------------------------------------------------------- Dagster resource


class OddsApiResource(OddsApi, dg.ConfigurableResource):
    """The Odds API for assets: live when a key is configured, else the recordings if
    ``replay_dir`` is set, else every call raises :class:`OddsApiAuthError` (``MISSING_KEY``).

    Configure the key only through the environment, never as a literal::

        OddsApiResource(api_key=dg.EnvVar("ODDS_API_KEY"))  # when ODDS_API_KEY is set
        OddsApiResource(replay_dir="data/odds-api")          # offline, no key

    ``repr``/``str`` show the key as ``***``.
    """

    api_key: str | None = None
    base_url: str = DEFAULT_BASE_URL
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    quota_reserve: int = 0
    replay_dir: str | None = None

    _delegate: OddsApi | None = PrivateAttr(default=None)

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    @property
    def api(self) -> OddsApi:
        """The live client or replay this resource delegates to (built once, keeps quota state)."""
        if self._delegate is None:
            self._delegate = self._build_delegate()
        return self._delegate

    def fetch(self, request: ApiRequest) -> FetchResult:
        return self.api.fetch(request)

    def _build_delegate(self) -> OddsApi:
        if not self.has_key and self.replay_dir:
            return ReplayOddsApi(self.replay_dir, quota_reserve=self.quota_reserve)
        return OddsApiClient(
            self.api_key,
            base_url=self.base_url,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retry=RetryPolicy(self.max_attempts, self.backoff_base, self.backoff_max),
            quota_reserve=self.quota_reserve,
        )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (REDACTED if name == "api_key" and value else value)
