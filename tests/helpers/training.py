"""A trainer's job.json for tests that run `training.trainer.runner` on files, as the supervisor writes it."""

from __future__ import annotations

from pathlib import Path


def sft_job(folder: Path, base_model, hyperparameters: dict, *, method: str = "full", test: bool = False) -> dict:
    """An SFT job on folder/train.jsonl (and folder/test.jsonl when `test`); hyperparameters already resolved."""
    return {
        "job": 1,
        "kind": "sft",
        "method": method,
        "base_model": str(base_model),
        "dataset_version": 1,
        "train_file": str(folder / "train.jsonl"),
        "test_file": str(folder / "test.jsonl") if test else None,
        "seed": 0,
        "hyperparameters": hyperparameters,
    }
