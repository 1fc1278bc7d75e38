"""Ranking completions: K completions per prompt ranked by human labelers."""
