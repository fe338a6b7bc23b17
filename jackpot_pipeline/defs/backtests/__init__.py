"""Backtests of betting strategies on the bookmaker history."""
