"""The typed config of each training job kind (TRL's `<Method>Config` idea): every hyperparameter once, with its
default, bounds, choices, help and console label. The job-creating service validates with it
(`hyperparameters.resolve`), the console form, the `manage.py train` help and the table in docs/training.md are made
from it, and the trainer reads a job's stored values through it.

Pure Python (no Django, no torch). Labels are marked with `_` (a no-op here) so that makemessages finds them; the
console translates them when it builds its form. Defaults follow common practice for small instruction-tuning and
reward-model runs (InstructGPT trains its RM for one epoch; LoRA wants a learning rate about ten times higher than
full fine-tuning)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

METHODS = ("full", "lora", "qlora")
AUTO = ("auto", True, False)
# The templates a job may name besides "" (raw text) and "model" (the base model's own): TRL's copies of each
# family's Jinja template, by the file name the trainer reads from TRL's chat_templates folder.
CHAT_TEMPLATES = {
    "llama3": ("Llama 3", "llama3.jinja"),
    "qwen2_5": ("Qwen2.5 (ChatML)", "qwen2_5.jinja"),
    "phi3": ("Phi-3", "phi3.jinja"),
    "gemma": ("Gemma", "gemma.jinja"),
}


def _(text: str) -> str:
    """Marks a console label for translation (makemessages reads `_(...)`); the console translates it."""
    return text


def hp(default, help: str, *, bounds: tuple | None = None, choices: tuple = (), label: str = ""):
    """One hyperparameter: a dataclass field whose metadata carries what validation, forms and docs need."""
    return dataclasses.field(
        default=default, metadata={"help": help, "bounds": bounds, "choices": choices, "label": label}
    )


@dataclass
class TrainingConfig:
    """What every kind takes. `learning_rate` None: the kind's default for the method (LEARNING_RATES)."""

    kind: ClassVar[str] = ""
    LEARNING_RATES: ClassVar[dict[str, float]] = {}  # full and lora; qlora trains LoRA adapters, so lora's

    epochs: float = hp(3.0, "passes over the training set", bounds=(0.01, 1000), label=_("Epochs"))
    max_steps: int = hp(-1, "> 0 overrides epochs", bounds=(-1, 10_000_000))
    batch_size: int = hp(4, "rows per device and step", bounds=(1, 4096), label=_("Batch size"))
    gradient_accumulation_steps: int = hp(1, "steps summed before each update", bounds=(1, 4096))
    max_length: int = hp(
        1024, "tokens per row (longer reward pairs are dropped)", bounds=(8, 131_072), label=_("Max length (tokens)")
    )
    warmup_ratio: float = hp(0.03, "share of the steps spent warming up", bounds=(0.0, 0.5))
    weight_decay: float = hp(0.0, "AdamW weight decay", bounds=(0.0, 1.0))
    lr_scheduler: str = hp(
        "cosine", "learning-rate schedule", choices=("linear", "cosine", "constant", "constant_with_warmup")
    )
    logging_steps: int = hp(1, "steps between logged metrics", bounds=(1, 100_000))
    eval_steps: int = hp(0, "steps between evaluations; 0: at the end only", bounds=(0, 10_000_000))
    save_steps: int = hp(0, "steps between checkpoints; 0: at the end (and on cancel) only", bounds=(0, 10_000_000))
    lora_r: int = hp(16, "LoRA rank", bounds=(1, 1024))
    lora_alpha: int = hp(32, "LoRA scaling", bounds=(1, 4096))
    lora_dropout: float = hp(0.05, "LoRA dropout", bounds=(0.0, 0.9))
    num_processes: int = hp(1, "> 1: `accelerate launch` on that many GPUs", bounds=(1, 64))
    bf16: object = hp("auto", "auto: on a GPU that supports it; never on CPU", choices=AUTO)
    gradient_checkpointing: object = hp("auto", "auto: on a GPU only", choices=AUTO)
    chat_template: str = hp(
        "",
        '"": raw prompt text; "model": the base model\'s own; or a template TRL ships, saved with the model (its '
        "server applies it to chat requests)",
        choices=("", "model", *CHAT_TEMPLATES),
        label=_("Chat template"),
    )
    deepspeed: str = hp(
        "",
        'with num_processes > 1: "" plain DDP; zero2/zero3 the DeepSpeed ZeRO configs in training/accelerate_configs/',
        choices=("", "zero2", "zero3"),
    )
    learning_rate: float | None = hp(
        None, "AdamW peak learning rate; default by kind and method", bounds=(1e-9, 1.0), label=_("Learning rate")
    )


# Fields the kinds that generate text share: a few held-out prompts answered at the end.
def _sample_prompts():
    return hp(3, "held-out prompts answered at the end", bounds=(0, 50))


def _max_new_tokens():
    return hp(64, "tokens per sample answer", bounds=(1, 4096))


BETA_LABEL = _("Beta (DPO, KTO and RL)")


@dataclass
class SFTConfig(TrainingConfig):
    kind: ClassVar[str] = "sft"
    LEARNING_RATES: ClassVar[dict[str, float]] = {"full": 2e-5, "lora": 2e-4}

    packing: bool = hp(False, "pack short rows into max_length sequences")
    sample_prompts: int = _sample_prompts()
    max_new_tokens: int = _max_new_tokens()


@dataclass
class RewardConfig(TrainingConfig):
    kind: ClassVar[str] = "reward"
    LEARNING_RATES: ClassVar[dict[str, float]] = {"full": 1e-5, "lora": 1e-4}

    epochs: float = hp(1.0, "passes over the training set", bounds=(0.01, 1000), label=_("Epochs"))
    use_margin: bool = hp(
        False,
        "weigh pairs by the `margin` column (preference strength where labelers gave one, else rank distance: "
        "[datasets](datasets.md#margins-from-preference-strength))",
    )
    center_rewards_coefficient: float = hp(0.0, "pulls rewards toward zero mean (0: off)", bounds=(0.0, 10.0))


# Preference optimization from the SFT model (its reference): beta 0.1 and one epoch, as in the DPO paper's and TRL's
# defaults; a learning rate about 10x below SFT's (Zephyr's DPO: 5e-7 full).
@dataclass
class DPOConfig(TrainingConfig):
    kind: ClassVar[str] = "dpo"
    LEARNING_RATES: ClassVar[dict[str, float]] = {"full": 5e-7, "lora": 5e-6}

    epochs: float = hp(1.0, "passes over the training set", bounds=(0.01, 1000), label=_("Epochs"))
    beta: float = hp(0.1, "strength of the pull to the reference model", bounds=(0.001, 10.0), label=BETA_LABEL)
    # TRL's names: sigmoid = the DPO paper's, ipo = Azar et al.'s, hinge = SLiC's, robust = the label-noise-robust
    # DPO of Chowdhury et al.
    loss_type: str = hp(
        "sigmoid", "DPO loss (TRL's names)", choices=("sigmoid", "ipo", "hinge", "robust"), label=_("DPO loss")
    )
    sample_prompts: int = _sample_prompts()
    max_new_tokens: int = _max_new_tokens()


@dataclass
class KTOConfig(TrainingConfig):
    kind: ClassVar[str] = "kto"
    LEARNING_RATES: ClassVar[dict[str, float]] = {"full": 5e-7, "lora": 5e-6}

    epochs: float = hp(1.0, "passes over the training set", bounds=(0.01, 1000), label=_("Epochs"))
    beta: float = hp(0.1, "strength of the pull to the reference model", bounds=(0.001, 10.0), label=BETA_LABEL)
    desirable_weight: float = hp(1.0, "weight of the good answers' loss", bounds=(0.01, 100.0))
    undesirable_weight: float = hp(1.0, "weight of the bad answers' loss", bounds=(0.01, 100.0))
    sample_prompts: int = _sample_prompts()
    max_new_tokens: int = _max_new_tokens()


# Online RL (RLOO): K samples per prompt scored by the reward model, the leave-one-out mean as baseline, a KL penalty
# (beta) to the start model; TRL's defaults for beta and the sampling temperature.
@dataclass
class RLOOConfig(TrainingConfig):
    kind: ClassVar[str] = "rloo"
    LEARNING_RATES: ClassVar[dict[str, float]] = {"full": 1e-6, "lora": 1e-5}

    epochs: float = hp(1.0, "passes over the training set", bounds=(0.01, 1000), label=_("Epochs"))
    beta: float = hp(0.05, "KL penalty to the start model", bounds=(0.001, 10.0), label=BETA_LABEL)
    num_generations: int = hp(4, "answers sampled per prompt (K)", bounds=(2, 64))
    max_completion_length: int = hp(64, "tokens per sampled answer", bounds=(1, 4096))
    temperature: float = hp(1.0, "sampling temperature", bounds=(0.01, 2.0))
    sample_prompts: int = _sample_prompts()
    max_new_tokens: int = _max_new_tokens()


CONFIGS: dict[str, type[TrainingConfig]] = {
    c.kind: c for c in (SFTConfig, RewardConfig, DPOConfig, KTOConfig, RLOOConfig)
}


def config_for(kind: str) -> type[TrainingConfig]:
    if kind not in CONFIGS:
        raise ValueError(f"kind: must be one of {sorted(CONFIGS)}")
    return CONFIGS[kind]


def learning_rate(kind: str, method: str) -> float:
    rates = config_for(kind).LEARNING_RATES
    if method not in METHODS:
        raise ValueError("method: must be full, lora or qlora")
    return rates["lora" if method == "qlora" else method]


def fields_of(kind: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(config_for(kind))}


def field_spec(name: str) -> dataclasses.Field:
    """The first kind's declaration of `name` (bounds, choices and label are the same in every kind that has it)."""
    for kind in CONFIGS:
        found = fields_of(kind).get(name)
        if found is not None:
            return found
    raise KeyError(name)


def kinds_with(name: str) -> list[str]:
    return [kind for kind in CONFIGS if name in fields_of(kind)]


def load(kind: str, method: str, values: dict) -> TrainingConfig:
    """A job's stored (already resolved) hyperparameters as its typed config; keys added since it was stored take
    their defaults, and keys this version no longer knows are ignored."""
    known = fields_of(kind)
    config = config_for(kind)(**{k: v for k, v in values.items() if k in known})
    if config.learning_rate is None:
        config.learning_rate = learning_rate(kind, method)
    return config


def _names() -> list[str]:
    """Every hyperparameter once, in the order the kinds declare them."""
    return list(dict.fromkeys(name for kind in CONFIGS for name in fields_of(kind)))


def _value(value) -> str:
    return f"`{value!r}`" if isinstance(value, str) else f"`{str(value).lower() if isinstance(value, bool) else value}`"


def _default(name: str) -> str:
    if name == "learning_rate":
        return "; ".join(
            f"{kind} {c.LEARNING_RATES['full']:g} full / {c.LEARNING_RATES['lora']:g} LoRA"
            for kind, c in CONFIGS.items()
        )
    by_value: dict = {}
    for kind in kinds_with(name):
        by_value.setdefault(repr(fields_of(kind)[name].default), []).append(kind)
    if len(by_value) == 1:
        return _value(fields_of(kinds_with(name)[0])[name].default)
    return "; ".join(f"{', '.join(kinds)} {_value(fields_of(kinds[0])[name].default)}" for kinds in by_value.values())


def docs_table() -> str:
    """The hyperparameter table of docs/training.md (a test checks that the page carries this very text)."""
    rows = ["| hyperparameter | kinds | default | allowed | meaning |", "|---|---|---|---|---|"]
    for name in _names():
        spec = field_spec(name)
        kinds = kinds_with(name)
        low_high = spec.metadata["bounds"]
        allowed = (
            ", ".join(_value(c) for c in spec.metadata["choices"])
            if spec.metadata["choices"]
            else (f"{low_high[0]} to {low_high[1]}" if low_high else "true, false")
        )
        rows.append(
            f"| `{name}` | {'all' if len(kinds) == len(CONFIGS) else ', '.join(kinds)} | {_default(name)} | {allowed} "
            f"| {spec.metadata['help']} |"
        )
    return "\n".join(rows) + "\n"


def cli_help() -> str:
    """`manage.py train --hp` help: the keys every kind takes and those of one kind only."""
    every = [name for name in _names() if len(kinds_with(name)) == len(CONFIGS)]
    some = "; ".join(f"{name} ({', '.join(kinds_with(name))})" for name in _names() if name not in every)
    return f"hyperparameter key=value, repeatable; any kind: {', '.join(every)}; some kinds: {some} (docs/training.md)"


if __name__ == "__main__":  # python -m training.trainer.configs: the table to paste into docs/training.md
    print(docs_table(), end="")
