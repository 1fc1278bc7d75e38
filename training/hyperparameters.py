"""Hyperparameters of a training job: defaults per kind and method, and validation that names the bad field.

Pure Python (no Django, no torch): used by the service that creates jobs and by the runner subprocess.
Defaults follow common practice for small instruction-tuning and reward-model runs (InstructGPT trains its RM for one
epoch; LoRA wants a learning rate about ten times higher than full fine-tuning).
"""

from __future__ import annotations

COMMON = {
    "epochs": 3.0,
    "max_steps": -1,  # > 0 overrides epochs
    "batch_size": 4,
    "gradient_accumulation_steps": 1,
    "max_length": 1024,
    "warmup_ratio": 0.03,
    "weight_decay": 0.0,
    "lr_scheduler": "cosine",
    "logging_steps": 1,
    "eval_steps": 0,  # 0: evaluate at the end only
    "save_steps": 0,  # 0: save at the end (and on cancel) only
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "num_processes": 1,  # > 1: launched with `accelerate launch` on that many GPUs
    "bf16": "auto",  # "auto": on a GPU that supports it; never on CPU
    "gradient_checkpointing": "auto",  # "auto": on a GPU only
    # "": train on the raw prompt text (as before); "model": the base model's own chat template; or a template TRL
    # ships, set on the tokenizer and saved with the trained model (the model server then applies it to chat requests)
    "chat_template": "",
    # multi-GPU runs (num_processes > 1): "" = plain DDP; "zero2"/"zero3" = the DeepSpeed ZeRO configs shipped in
    # training/accelerate_configs/ (deepspeed must be installed on the GPU workers)
    "deepspeed": "",
}
PER_KIND = {
    "sft": {"packing": False, "sample_prompts": 3, "max_new_tokens": 64},
    "reward": {"epochs": 1.0, "use_margin": False, "center_rewards_coefficient": 0.0},
    # Preference optimization from the SFT model (its reference): beta 0.1 and one epoch, as in the DPO paper's
    # and TRL's defaults; a learning rate about 10x below SFT's (Zephyr's DPO: 5e-7 full).
    "dpo": {"epochs": 1.0, "beta": 0.1, "loss_type": "sigmoid", "sample_prompts": 3, "max_new_tokens": 64},
    "kto": {
        "epochs": 1.0,
        "beta": 0.1,
        "desirable_weight": 1.0,
        "undesirable_weight": 1.0,
        "sample_prompts": 3,
        "max_new_tokens": 64,
    },
    # Online RL (RLOO): K samples per prompt scored by the reward model, the leave-one-out mean as baseline, a KL
    # penalty (beta) to the start model; TRL's defaults for beta and the sampling temperature.
    "rloo": {
        "epochs": 1.0,
        "beta": 0.05,
        "num_generations": 4,
        "max_completion_length": 64,
        "temperature": 1.0,
        "sample_prompts": 3,
        "max_new_tokens": 64,
    },
}
LEARNING_RATE = {
    ("sft", "full"): 2e-5,
    ("sft", "lora"): 2e-4,
    ("reward", "full"): 1e-5,
    ("reward", "lora"): 1e-4,
    ("dpo", "full"): 5e-7,
    ("dpo", "lora"): 5e-6,
    ("kto", "full"): 5e-7,
    ("kto", "lora"): 5e-6,
    ("rloo", "full"): 1e-6,
    ("rloo", "lora"): 1e-5,
}
LEARNING_RATE.update(
    {(kind, "qlora"): rate for (kind, method), rate in list(LEARNING_RATE.items()) if method == "lora"}
)
CHOICES = {
    "lr_scheduler": ("linear", "cosine", "constant", "constant_with_warmup"),
    "bf16": ("auto", True, False),
    "gradient_checkpointing": ("auto", True, False),
    # DPO loss variants (TRL's names): sigmoid = the DPO paper's, ipo = Azar et al.'s, hinge = SLiC's, robust = the
    # label-noise-robust DPO of Chowdhury et al.
    "loss_type": ("sigmoid", "ipo", "hinge", "robust"),
    "chat_template": ("", "model", "llama3", "qwen2_5", "phi3", "gemma"),
    "deepspeed": ("", "zero2", "zero3"),
}
BOUNDS = {
    "epochs": (0.01, 1000),
    "max_steps": (-1, 10_000_000),
    "batch_size": (1, 4096),
    "gradient_accumulation_steps": (1, 4096),
    "max_length": (8, 131_072),
    "warmup_ratio": (0.0, 0.5),
    "weight_decay": (0.0, 1.0),
    "logging_steps": (1, 100_000),
    "eval_steps": (0, 10_000_000),
    "save_steps": (0, 10_000_000),
    "lora_r": (1, 1024),
    "lora_alpha": (1, 4096),
    "lora_dropout": (0.0, 0.9),
    "num_processes": (1, 64),
    "sample_prompts": (0, 50),
    "max_new_tokens": (1, 4096),
    "learning_rate": (1e-9, 1.0),
    "center_rewards_coefficient": (0.0, 10.0),
    "beta": (0.001, 10.0),
    "desirable_weight": (0.01, 100.0),
    "undesirable_weight": (0.01, 100.0),
    "num_generations": (2, 64),
    "max_completion_length": (1, 4096),
    "temperature": (0.01, 2.0),
}


def defaults(kind: str, method: str) -> dict:
    if kind not in PER_KIND:
        raise ValueError(f"kind: must be one of {sorted(PER_KIND)}")
    if (kind, method) not in LEARNING_RATE:
        raise ValueError("method: must be full, lora or qlora")
    return {**COMMON, **PER_KIND[kind], "learning_rate": LEARNING_RATE[(kind, method)]}


def resolve(kind: str, method: str, given: dict | None) -> dict:
    """Defaults overlaid with `given`; ValueError naming the field for unknown keys, wrong types or out-of-range
    values."""
    base = defaults(kind, method)
    given = dict(given or {})
    unknown = sorted(set(given) - set(base))
    if unknown:
        raise ValueError(f"hyperparameters: unknown key(s) for {kind}: {unknown}; known: {sorted(base)}")
    resolved = dict(base)
    for key, value in given.items():
        default = base[key]
        if key in CHOICES:
            if value not in CHOICES[key]:
                raise ValueError(f"hyperparameters.{key}: must be one of {list(CHOICES[key])}")
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
        if key in BOUNDS:
            low, high = BOUNDS[key]
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
