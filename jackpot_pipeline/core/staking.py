"""Stake sizing: fractional Kelly, flat, percentage of bankroll, with bounds.

Units: stakes and bankrolls in the same currency units; ``price`` is a decimal odd (a winning
stake ``s`` returns ``s · price``, profit ``s · (price − 1)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StakeMethod(StrEnum):
    """How a stake is sized."""

    KELLY = "kelly"
    FLAT = "flat"
    PERCENT = "percent"


@dataclass(frozen=True)
class StakingConfig:
    """Sizing rule and bounds.

    ``kelly_multiplier`` scales the full-Kelly fraction (¼ Kelly by default); ``flat_stake`` is
    the stake of the flat method; ``percent`` the bankroll share of the percent method.
    ``min_stake``: a sized stake below it is not placed; ``max_stake`` caps every stake. A stake
    never exceeds the cash free at the decision (bankroll less stakes of unsettled bets).
    """

    method: StakeMethod = StakeMethod.KELLY
    initial_bankroll: float = 1000.0
    kelly_multiplier: float = 0.25
    flat_stake: float = 10.0
    percent: float = 0.02
    min_stake: float = 1.0
    max_stake: float = 100.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", StakeMethod(self.method))
        if self.initial_bankroll <= 0:
            raise ValueError(f"initial_bankroll must be > 0, got {self.initial_bankroll}")
        if not 0 < self.kelly_multiplier <= 1:
            raise ValueError(f"kelly_multiplier must be in (0, 1], got {self.kelly_multiplier}")
        if not 0 < self.percent <= 1:
            raise ValueError(f"percent must be in (0, 1], got {self.percent}")
        if not 0 <= self.min_stake <= self.max_stake:
            raise ValueError(
                f"need 0 <= min_stake <= max_stake, got {self.min_stake}, {self.max_stake}"
            )
        if self.flat_stake <= 0:
            raise ValueError(f"flat_stake must be > 0, got {self.flat_stake}")


def kelly_fraction(probability: float, price: float) -> float:
    """Full-Kelly bankroll fraction of a single bet: ``f* = (p·o − 1) / (o − 1)``, floored at 0
    (no bet without an edge); 1 for a sure bet (``p = 1``)."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {probability}")
    if price <= 1.0:
        raise ValueError(f"decimal price must be > 1, got {price}")
    return max((probability * price - 1.0) / (price - 1.0), 0.0)


def stake_size(
    config: StakingConfig, bankroll: float, free_cash: float, probability: float, price: float
) -> float:
    """The stake for one bet (or one group of legs sized together, such as an arbitrage).

    kelly: ``multiplier · f*(p, o) · bankroll``; flat: ``flat_stake``; percent:
    ``percent · bankroll``. Then capped at ``max_stake`` and at ``free_cash``; 0 when the
    result falls below ``min_stake`` or the bankroll is spent."""
    if bankroll <= 0 or free_cash <= 0:
        return 0.0
    if config.method is StakeMethod.KELLY:
        raw = config.kelly_multiplier * kelly_fraction(probability, price) * bankroll
    elif config.method is StakeMethod.FLAT:
        raw = config.flat_stake
    else:
        raw = config.percent * bankroll
    stake = min(raw, config.max_stake, free_cash)
    return stake if stake >= config.min_stake and stake > 0 else 0.0
