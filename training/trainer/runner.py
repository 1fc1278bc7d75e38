"""python -m training.trainer.runner JOB_DIR — one training run, in its own process (never inside a Celery worker).

The Celery task writes JOB_DIR/job.json and supervises this process; multi-GPU runs start the same module under
`accelerate launch`. The runner knows nothing about Django or the database. It talks through files in JOB_DIR:

- job.json        (in)  kind, method, base model, data files, resolved hyperparameters, seed
- CANCEL          (in)  appears when a user cancels: training stops at the next step and saves what it has
- events.jsonl    (out) one JSON object per line: progress (step/total) and logs (loss, learning rate, grad norm,
                        eval loss; for reward models accuracy, margin, reward mean/std)
- result.json     (out) status succeeded | cancelled | failed, a readable error, the final evaluation
- model/          (out) final model + tokenizer, safetensors (a LoRA run is merged; its adapter is kept in adapter/)
- config.json, training_args.json, metrics.json, loss.png (out)

Exit code: 0 succeeded, 3 cancelled, 1 failed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import traceback
from pathlib import Path

from training.trainer import configs
from training.trainer.runner_common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_SUCCEEDED,
    Events,
    TrainingError,
    adapts,
    as_conversations,
    build_trainer_args,
    device_settings,
    is_finite,
    is_main_process,
    load_split,
    lora_config,
    mlflow_finish,
    mlflow_start,
    model_kwargs,
    progress_callback,
    samples,
    save_model,
    use_chat_template,
    write_json,
)


def _train_sft(spec, hp, device, job_dir, events, callback, tokenizer, train, test) -> dict:
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    missing = {"prompt", "completion"} - set(train.column_names)
    if missing:
        raise TrainingError(f"dataset: SFT needs prompt/completion rows; missing {sorted(missing)}")
    model = AutoModelForCausalLM.from_pretrained(spec["base_model"], **model_kwargs(spec, device))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    args = SFTConfig(
        **build_trainer_args(spec, hp, device, job_dir, test is not None),
        packing=hp["packing"],
        completion_only_loss=True,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=test,
        processing_class=tokenizer,
        callbacks=[callback],
        peft_config=lora_config(hp, "CAUSAL_LM") if adapts(spec) else None,
    )
    results = {"train_rows": len(train), "test_rows": len(test) if test is not None else 0}
    if len(trainer.train_dataset) == 0:
        raise TrainingError(f"dataset: no training row fits in max_length={hp['max_length']} tokens")
    trainer.train()
    write_json(job_dir / "training_args.json", json.loads(trainer.args.to_json_string()))
    if callback.cancelled:
        save_model(trainer, tokenizer, job_dir, spec["method"], spec["base_model"])
        return results
    if test is not None and is_main_process():
        metrics = trainer.evaluate()
        events.emit(
            {
                "event": "log",
                "step": trainer.state.global_step,
                "epoch": trainer.state.epoch,
                "values": {k: float(v) for k, v in metrics.items() if is_finite(v)},
            }
        )
        loss = metrics.get("eval_loss")
        results["eval_loss"] = loss if is_finite(loss) else None
        if not is_finite(loss):  # every held-out completion was cut off by max_length: nothing to score
            results["eval_note"] = f"no eval loss: no held-out completion token fits in max_length={hp['max_length']}"
    save_model(trainer, tokenizer, job_dir, spec["method"], spec["base_model"])
    if is_main_process() and hp["sample_prompts"]:
        results["samples"] = samples(trainer.model, tokenizer, test if test is not None else train, hp, "completion")
    return results


def _train_reward(spec, hp, device, job_dir, events, callback, tokenizer, train, test) -> dict:
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    missing = {"prompt", "chosen", "rejected"} - set(train.column_names)
    if missing:
        raise TrainingError(f"dataset: reward training needs prompt/chosen/rejected rows; missing {sorted(missing)}")
    if not hp["use_margin"]:
        train = train.remove_columns([c for c in ("margin",) if c in train.column_names])
        if test is not None:
            test = test.remove_columns([c for c in ("margin",) if c in test.column_names])
    model = AutoModelForSequenceClassification.from_pretrained(
        spec["base_model"], num_labels=1, **model_kwargs(spec, device)
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    args = RewardConfig(
        **build_trainer_args(spec, hp, device, job_dir, test is not None),
        center_rewards_coefficient=hp["center_rewards_coefficient"] or None,
    )
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=test,
        processing_class=tokenizer,
        callbacks=[callback],
        peft_config=lora_config(hp, "SEQ_CLS") if adapts(spec) else None,
    )
    kept_test = trainer.eval_dataset
    results = {
        "train_pairs": len(train),
        "test_pairs": len(test) if test is not None else 0,
        "train_pairs_dropped_for_length": len(train) - len(trainer.train_dataset),
        "test_pairs_dropped_for_length": (len(test) - len(kept_test)) if test is not None else 0,
        "max_length": hp["max_length"],
    }
    if len(trainer.train_dataset) == 0:
        raise TrainingError(f"dataset: every training pair is longer than max_length={hp['max_length']} tokens")
    trainer.train()
    write_json(job_dir / "training_args.json", json.loads(trainer.args.to_json_string()))
    save_model(trainer, tokenizer, job_dir, spec["method"], spec["base_model"])
    if callback.cancelled or not is_main_process():
        return results
    if kept_test is not None and len(kept_test):
        evaluation = _reward_eval(trainer.model, kept_test, tokenizer.pad_token_id, hp["batch_size"])
        results.update(evaluation)
        events.emit(
            {
                "event": "log",
                "step": trainer.state.global_step,
                "epoch": trainer.state.epoch,
                "values": {f"eval_{k}": v for k, v in evaluation.items()},
            }
        )
    return results


def _reward_eval(model, data, pad_id: int, batch_size: int) -> dict:
    """Exact held-out accuracy: the share of pairs whose chosen completion gets the higher reward."""
    import torch

    model.eval()
    chosen, rejected = [], []

    def score(sequences):
        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(sequences):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        with torch.no_grad():
            logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits
        return logits[:, 0].float().cpu().tolist()

    for start in range(0, len(data), batch_size):
        batch = data.select(range(start, min(start + batch_size, len(data))))
        chosen += score(batch["chosen_ids"])
        rejected += score(batch["rejected_ids"])
    rewards = torch.tensor(chosen + rejected)
    margins = torch.tensor(chosen) - torch.tensor(rejected)
    return {
        "accuracy": round(float((margins > 0).float().mean()), 4),
        "margin": round(float(margins.mean()), 4),
        "reward_mean": round(float(rewards.mean()), 4),
        "reward_std": round(float(rewards.std()), 4) if len(rewards) > 1 else 0.0,
        "pairs_evaluated": len(chosen),
    }


def plot(logs: list[dict], path: Path) -> bool:
    """loss.png: training and eval loss by step, and reward-model accuracy when there is any."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    series = {}
    for event in logs:
        for key in ("loss", "eval_loss", "accuracy", "eval_accuracy"):
            if key in event["values"]:
                series.setdefault(key, []).append((event["step"], event["values"][key]))
    if not series:
        return False
    panels = [k for k in (("loss", "eval_loss"), ("accuracy", "eval_accuracy")) if any(s in series for s in k)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, keys in zip(axes[0], panels, strict=True):
        for key in keys:
            if key in series:
                steps, values = zip(*series[key], strict=True)
                ax.plot(steps, values, marker="o" if len(steps) < 20 else None, label=key)
        ax.set_xlabel("step")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def train(spec: dict, job_dir: Path, events: Events) -> tuple[str, dict]:
    from transformers import AutoTokenizer, set_seed

    # through the kind's typed config: a job stored before a hyperparameter existed gets that one's default
    hp = dataclasses.asdict(configs.load(spec["kind"], spec.get("method", "full"), spec["hyperparameters"]))
    base = Path(spec["base_model"])
    if not (base / "config.json").is_file():
        raise TrainingError(f"base model: {base} is not a transformers checkpoint folder (no config.json)")
    set_seed(spec["seed"])
    if is_main_process():
        mlflow_start(job_dir, spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    except Exception as exc:
        raise TrainingError(f"base model: could not load a tokenizer from {base}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    cache = job_dir / ".hf-cache"
    train_data = load_split(spec["train_file"], cache)
    if train_data is None or len(train_data) == 0:
        raise TrainingError(f"dataset: version {spec['dataset_version']} has no rows in its train split")
    test_data = load_split(spec.get("test_file"), cache)
    if use_chat_template(tokenizer, hp.get("chat_template", "")):
        train_data, test_data = as_conversations(train_data, spec["kind"]), as_conversations(test_data, spec["kind"])
    device = device_settings(hp)
    write_json(job_dir / "config.json", {**spec, "device": device})
    callback = progress_callback(events, job_dir / "CANCEL", time.monotonic())
    from training.trainer.runner_preference import train_dpo, train_kto, train_rloo

    kinds = {"sft": _train_sft, "reward": _train_reward, "dpo": train_dpo, "kto": train_kto, "rloo": train_rloo}
    run = kinds[spec["kind"]]
    results = run(spec, hp, device, job_dir, events, callback, tokenizer, train_data, test_data)
    results["device"] = "cuda" if device["cuda"] else "cpu"
    results["bf16"] = device["bf16"]
    return ("cancelled" if callback.cancelled else "succeeded"), results


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m training.trainer.runner JOB_DIR", file=sys.stderr)
        return 2
    job_dir = Path(argv[1])
    spec = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # base models are local paths; never reach for the hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    events = Events(job_dir / "events.jsonl")
    try:
        status, results = train(spec, job_dir, events)
        error = ""
    except TrainingError as exc:
        status, results, error = "failed", {}, str(exc)
    except Exception as exc:  # noqa: BLE001 - reported to the user, with the traceback in the log
        traceback.print_exc()
        status, results, error = "failed", {}, f"{type(exc).__name__}: {exc}"
    if is_main_process():
        write_json(job_dir / "metrics.json", {"logs": events.logs, "results": results})
        plot(events.logs, job_dir / "loss.png")
        write_json(job_dir / "result.json", {"status": status, "error": error, "results": results})
        try:
            mlflow_finish(job_dir, status, results)
        except Exception as exc:  # noqa: BLE001 - the tracking server is not the job: its result stands
            print(f"MLflow: could not record the job's outcome: {type(exc).__name__}: {exc}", file=sys.stderr)
    if error:
        print(f"training failed: {error}", file=sys.stderr)
    return {"succeeded": EXIT_SUCCEEDED, "cancelled": EXIT_CANCELLED}.get(status, EXIT_FAILED)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
