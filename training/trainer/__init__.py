"""The trainer: what runs in the trainer's own process (`python -m training.trainer.runner`, the zygote it forks from,
the scorers the workers load) and the typed job configs. Never imports Django or an app (an import-linter contract in
pyproject.toml), so a trainer process starts without settings and the configs can be read anywhere."""
