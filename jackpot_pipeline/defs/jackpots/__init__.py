"""jackpots."""
