"""Hyperparameters of a training job: the defaults of its kind and method, and validation that names the bad field,
both made from the typed configs (training.trainer.configs).

Pure Python (no Django, no torch): used by the service that creates jobs and by the runner subprocess.
"""

from __future__ import annotations

from training.trainer import configs


def defaults(kind: str, method: str) -> dict:
    """Every field of the kind's config with its default, the learning rate last (the kind's for the method)."""
    rate = configs.learning_rate(kind, method)
    found = {name: field.default for name, field in configs.fields_of(kind).items() if name != "learning_rate"}
    return {**found, "learning_rate": rate}


def resolve(kind: str, method: str, given: dict | None) -> dict:
    """Defaults overlaid with `given`; ValueError naming the field for unknown keys, wrong types or out-of-range
    values."""
    base = defaults(kind, method)
    given = dict(given or {})
    unknown = sorted(set(given) - set(base))
    if unknown:
        raise ValueError(f"hyperparameters: unknown key(s) for {kind}: {unknown}; known: {sorted(base)}")
    resolved = dict(base)
    fields = configs.fields_of(kind)
    for key, value in given.items():
        default = base[key]
        choices, bounds = fields[key].metadata["choices"], fields[key].metadata["bounds"]
        if choices:
            if value not in choices:
                raise ValueError(f"hyperparameters.{key}: must be one of {list(choices)}")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"hyperparameters.{key}: true or false")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"hyperparameters.{key}: a whole number")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"hyperparameters.{key}: a number")
            value = float(value)
        if bounds:
            low, high = bounds
            if not low <= value <= high:
                raise ValueError(f"hyperparameters.{key}: must be from {low} to {high}, got {value}")
        resolved[key] = value
    if (
        kind == "rloo"
        and (resolved["batch_size"] * resolved["gradient_accumulation_steps"]) % resolved["num_generations"]
    ):
        raise ValueError(
            "hyperparameters.batch_size: batch_size × gradient_accumulation_steps must be a multiple of "
            f"num_generations ({resolved['num_generations']}): each prompt's samples are scored against each other"
        )
    return resolved
