"""What every training kind's runner shares: the user-facing error, the events file, the progress/cancel callback,
device settings, data loading, the Trainer arguments common to all TRL configs, LoRA, saving, and experiment
tracking (TensorBoard event files among the job's artifacts; MLflow when MLFLOW_TRACKING_URI is set and mlflow is
installed). No Django here: the runner subprocess imports it."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from training.trainer.configs import CHAT_TEMPLATES

EXIT_SUCCEEDED, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 3


class TrainingError(Exception):
    """A failure with a message meant for the user (bad base model, empty data…)."""


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


class Events:
    def __init__(self, path: Path):
        self.path = path
        self.main = is_main_process()
        self.logs: list[dict] = []

    def emit(self, event: dict) -> None:
        if event.get("event") == "log":
            self.logs.append(event)
        if not self.main:
            return
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(event) + "\n")


def write_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)


def is_finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def progress_callback(events: Events, cancel_file: Path, started: float):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        cancelled = False

        def on_train_begin(self, args, state, control, **kwargs):
            events.emit({"event": "progress", "step": 0, "total": state.max_steps, "elapsed": 0.0})

        def on_step_end(self, args, state, control, **kwargs):
            events.emit(
                {
                    "event": "progress",
                    "step": state.global_step,
                    "total": state.max_steps,
                    "epoch": state.epoch,
                    "elapsed": round(time.monotonic() - started, 3),
                }
            )
            if cancel_file.exists():
                self.cancelled = True
                control.should_training_stop = True

        def on_log(self, args, state, control, logs=None, **kwargs):
            values = {k: float(v) for k, v in (logs or {}).items() if is_finite(v)}
            if values:
                events.emit({"event": "log", "step": state.global_step, "epoch": state.epoch, "values": values})

    return Progress()


def device_settings(hp: dict) -> dict:
    import torch

    cuda = torch.cuda.is_available()
    bf16 = (cuda and torch.cuda.is_bf16_supported()) if hp["bf16"] == "auto" else bool(hp["bf16"] and cuda)
    checkpointing = cuda if hp["gradient_checkpointing"] == "auto" else bool(hp["gradient_checkpointing"] and cuda)
    return {"cuda": cuda, "bf16": bf16, "gradient_checkpointing": checkpointing}


def load_split(path: str | None, cache: Path):
    from datasets import load_dataset

    if not path or not Path(path).exists() or Path(path).stat().st_size == 0:
        return None
    return load_dataset("json", data_files=path, split="train", cache_dir=str(cache))


def build_trainer_args(spec: dict, hp: dict, device: dict, job_dir: Path, has_eval: bool) -> dict:
    return dict(
        output_dir=str(job_dir / "checkpoints"),
        num_train_epochs=hp["epochs"],
        max_steps=hp["max_steps"],
        per_device_train_batch_size=hp["batch_size"],
        per_device_eval_batch_size=hp["batch_size"],
        gradient_accumulation_steps=hp["gradient_accumulation_steps"],
        learning_rate=hp["learning_rate"],
        lr_scheduler_type=hp["lr_scheduler"],
        warmup_steps=hp["warmup_ratio"],
        weight_decay=hp["weight_decay"],
        logging_steps=hp["logging_steps"],
        eval_strategy="steps" if has_eval and hp["eval_steps"] else "no",
        eval_steps=hp["eval_steps"] or None,
        save_strategy="steps" if hp["save_steps"] else "no",
        save_steps=hp["save_steps"] or 500,
        bf16=device["bf16"],
        activation_checkpointing=device["gradient_checkpointing"],
        use_cpu=not device["cuda"],
        report_to=trackers(job_dir),
        run_name=f"job-{spec.get('job', 0)}",  # the MLflow run's name
        seed=spec["seed"],
        data_seed=spec["seed"],
        disable_tqdm=True,
        max_length=hp["max_length"],
        dataloader_num_workers=0,
    )


def lora_config(hp: dict, task_type: str):
    from peft import LoraConfig

    return LoraConfig(
        r=hp["lora_r"],
        lora_alpha=hp["lora_alpha"],
        lora_dropout=hp["lora_dropout"],
        target_modules="all-linear",
        task_type=task_type,
    )


def model_kwargs(spec: dict, device: dict) -> dict:
    """How the base model loads: its dtype, and for QLoRA 4-bit NF4 weights (bitsandbytes), which exist only on
    CUDA — refused readably anywhere else."""
    import torch

    dtype = torch.bfloat16 if device["bf16"] else torch.float32
    if spec["method"] != "qlora":
        return {"dtype": dtype, "local_files_only": True}
    if not device["cuda"]:
        raise TrainingError("method: QLoRA needs a CUDA GPU (4-bit bitsandbytes weights); use lora on this worker")
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        raise TrainingError("method: QLoRA needs bitsandbytes on the GPU worker (pip install bitsandbytes)")
    from transformers import BitsAndBytesConfig

    quantization = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if device["bf16"] else torch.float16,
    )
    # 4-bit weights live on this process's GPU (one per process under accelerate/DDP)
    device_map = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    return {"dtype": dtype, "local_files_only": True, "quantization_config": quantization, "device_map": device_map}


def adapts(spec: dict) -> bool:
    """Whether the run trains LoRA adapters (LoRA, or QLoRA on a 4-bit base)."""
    return spec["method"] in ("lora", "qlora")


def save_model(trainer, tokenizer, job_dir: Path, method: str, base_model: str | None = None) -> None:
    model = trainer.model
    if method in ("lora", "qlora"):
        model.save_pretrained(job_dir / "adapter")
        if method == "qlora":  # merge into the base in 16 bits: a merged 4-bit model would lose the adapter's detail
            import torch
            from peft import PeftModel

            base_class = type(model.get_base_model())
            base = base_class.from_pretrained(base_model, dtype=torch.bfloat16, local_files_only=True)
            model = PeftModel.from_pretrained(base, job_dir / "adapter").merge_and_unload()
        else:
            model = model.merge_and_unload()
    model.save_pretrained(job_dir / "model", safe_serialization=True)
    tokenizer.save_pretrained(job_dir / "model")


def trackers(job_dir: Path) -> list[str]:
    """Where the Trainer reports besides the job's own events: TensorBoard event files under JOB_DIR/tensorboard
    (uploaded with the artifacts; `tensorboard --logdir` reads them) whenever a TensorBoard writer is installed, and
    MLflow (params, metrics) when MLFLOW_TRACKING_URI is set and mlflow is installed."""
    import importlib.util

    found = []
    if importlib.util.find_spec("tensorboardX") or importlib.util.find_spec("tensorboard"):
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(job_dir / "tensorboard")
        found.append("tensorboard")
    if os.environ.get("MLFLOW_TRACKING_URI") and importlib.util.find_spec("mlflow"):
        found.append("mlflow")
    return found


def mlflow_start(job_dir: Path, spec: dict) -> None:
    """Open the job's MLflow run (named job-<id>, the job's settings as `job.*` params) when MLflow is configured; the
    Trainer then reports into it instead of opening and closing its own, so evaluations after training land there
    too."""
    if "mlflow" not in trackers(job_dir):
        return
    import mlflow

    mlflow.start_run(run_name=f"job-{spec.get('job', 0)}")
    settings = {"kind": spec["kind"], "method": spec["method"], "dataset_version": spec.get("dataset_version")}
    mlflow.log_params({f"job.{k}": v for k, v in {**settings, **spec["hyperparameters"]}.items()})


def mlflow_finish(job_dir: Path, status: str, results: dict) -> None:
    """Close the job's MLflow run with its outcome: the final numbers as `final/<name>` metrics, and result.json,
    metrics.json, loss.png and the saved model or adapter as artifacts."""
    if "mlflow" not in trackers(job_dir):
        return
    import mlflow

    if mlflow.active_run() is None:
        return
    mlflow.log_metrics({f"final/{k}": float(v) for k, v in results.items() if is_finite(v)})
    for name in ("result.json", "metrics.json", "loss.png"):
        if (job_dir / name).is_file():
            mlflow.log_artifact(str(job_dir / name))
    for folder in ("model", "adapter"):
        if (job_dir / folder).is_dir():
            mlflow.log_artifacts(str(job_dir / folder), artifact_path=folder)
    mlflow.end_run(status={"succeeded": "FINISHED", "cancelled": "KILLED"}.get(status, "FAILED"))


def samples(model, tokenizer, data, hp: dict, reference: str) -> list[dict]:
    """Greedy answers of the trained model to the first prompts of `data`, next to the row's `reference` field."""
    import torch

    model.eval()
    out = []
    for row in data.select(range(min(hp["sample_prompts"], len(data)))):
        prompt, expected = row["prompt"], row[reference]
        if isinstance(prompt, list):  # a conversation: the model sees its chat template, as in training
            text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
            encoded = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
            prompt = prompt[-1]["content"]
            expected = expected[-1]["content"] if isinstance(expected, list) else prompt
        else:
            encoded = tokenizer(prompt, return_tensors="pt").to(model.device)
        with torch.no_grad():
            generated = model.generate(
                **encoded, max_new_tokens=hp["max_new_tokens"], do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        text = tokenizer.decode(generated[0, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
        out.append({"prompt": prompt, "reference": expected, "generated": text})
    return out


# The templates a job may name (hyperparameter chat_template): TRL's copies of each family's own Jinja template.
CHAT_TEMPLATE_FILES = {name: file for name, (_label, file) in CHAT_TEMPLATES.items()}
# Which columns of each kind's rows become which chat role.
CHAT_ROLES = {
    "sft": {"prompt": "user", "completion": "assistant"},
    "reward": {"prompt": "user", "chosen": "assistant", "rejected": "assistant"},
    "dpo": {"prompt": "user", "chosen": "assistant", "rejected": "assistant"},
    "kto": {"prompt": "user", "completion": "assistant"},
    "rloo": {"prompt": "user"},
}


def use_chat_template(tokenizer, choice: str) -> bool:
    """Give the tokenizer the chat template the job asked for (saved with the model); False for raw text."""
    if not choice:
        return False
    if choice == "model":
        if not getattr(tokenizer, "chat_template", None):
            named = ", ".join(CHAT_TEMPLATE_FILES)
            raise TrainingError(
                f"hyperparameters.chat_template: the base model has no chat template; name one ({named})"
            )
        return True
    import trl

    tokenizer.chat_template = (Path(trl.__file__).parent / "chat_templates" / CHAT_TEMPLATE_FILES[choice]).read_text()
    return True


def as_conversations(data, kind: str):
    """The rows as conversations: each text column a one-message list with its role (TRL's conversational format,
    which every trainer turns into text through the tokenizer's chat template)."""
    if data is None:
        return None
    if "messages" in data.column_names:  # SFT on the messages shape: the last answer is the completion
        return data.map(
            lambda row: {"prompt": row["messages"][:-1], "completion": row["messages"][-1:]},
            remove_columns=["messages"],
        )
    roles = {column: role for column, role in CHAT_ROLES[kind].items() if column in data.column_names}
    return data.map(lambda row: {column: [{"role": role, "content": row[column]}] for column, role in roles.items()})
