"""Bad-input limits: how fast oversized inputs are refused, against valid inputs of normal size.

Run: ``uv run python benchmarks/bad_input.py``. Prints ``name: value`` lines: the median of
REPEATS refusals of a 10 MB CSV coupon (the shipped CSV example repeated), a CSV coupon of
many short rows under the byte limit and a 100,000-deep JSON document, against validating
the shipped 20-fixture example (the reference, measured in the same run); then the refusal of
a 100,000-row football-data file against parsing the real 2023-24 Premier League file.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from jackpot_pipeline.core.coupon import MAX_BYTES, CouponValidationError, parse_coupon_bytes
from jackpot_pipeline.core.football_data import FootballDataError, parse_football_data
from jackpot_pipeline.settings import DATA_DIR, Settings

REPEATS = 7
EXAMPLE = DATA_DIR / "jackpots" / "examples" / "2025-04-12_football-data-names.csv"


def timed(call: Callable[[], object]) -> float:
    """Median wall time of REPEATS calls, in milliseconds (expected errors swallowed)."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        with contextlib.suppress(CouponValidationError, FootballDataError):
            call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def repeated_coupon(example: Path, target_bytes: int) -> bytes:
    """The example's fixture lines repeated to about ``target_bytes``."""
    lines = example.read_bytes().splitlines(keepends=True)
    data = [line for line in lines if not line.startswith(b"#")]
    block = b"".join(data[1:])
    return data[0] + block * (target_bytes // len(block) + 1)


def junk_football_data(rows: int) -> bytes:
    """A real header and ``rows`` well-formed rows of made-up clubs."""
    real = (Settings().football_data_dir / "2324" / "E0.csv").read_bytes()
    header = real.splitlines()[0]
    body = b"".join(
        f"E0,{1 + i % 28:02d}/09/2023,15:00,Club {2 * i},Club {2 * i + 1},1,0,H\r\n".encode()
        for i in range(rows)
    )
    return header + b"\r\n" + body


def main() -> None:
    names = lambda name, league: name.casefold()  # noqa: E731 - structure only
    example = EXAMPLE.read_bytes()
    reference = timed(lambda: parse_coupon_bytes(example, "ok.csv", names, {}))
    print(f"valid 20-fixture coupon (reference): {reference:.2f} ms")
    cases = {
        "10 MB CSV coupon": (repeated_coupon(EXAMPLE, 10 * 1024 * 1024), "big.csv"),
        "many-row CSV coupon under the byte limit": (
            repeated_coupon(EXAMPLE, MAX_BYTES - 1024),
            "rows.csv",
        ),
        "100,000-deep JSON coupon": (b"[" * 100_000, "deep.json"),
    }
    for label, (data, source) in cases.items():
        ms = timed(lambda d=data, s=source: parse_coupon_bytes(d, s, names, {}))
        lines = data.count(b"\n")
        print(f"{label} ({len(data):,} bytes, {lines:,} lines) refused: {ms:.2f} ms")
        print(f"  ratio to the reference: {ms / reference:.2f}")
    real = (Settings().football_data_dir / "2324" / "E0.csv").read_bytes()
    parse = timed(lambda: parse_football_data(real, "E0", "2023-24"))
    print(f"parse of the real 2023-24 E0 file (reference): {parse:.1f} ms")
    junk = junk_football_data(100_000)
    refused = timed(lambda: parse_football_data(junk, "E0", "2023-24"))
    print(f"100,000-row football-data file ({len(junk):,} bytes) refused: {refused:.1f} ms")
    print(f"  ratio to the reference: {refused / parse:.2f}")


if __name__ == "__main__":
    main()
