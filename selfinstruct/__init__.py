"""Self-Instruct / Alpaca / BELLE generation: seed tasks and the instruction pool."""
