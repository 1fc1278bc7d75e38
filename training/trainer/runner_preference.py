"""Preference optimization and online RL runs (TRL's DPOTrainer, KTOTrainer, RLOOTrainer) for the runner
subprocess. The policy starts from the job's base model (a trained SFT job, or a base checkpoint), which is also
the frozen reference — a copy for a full run, the adapter switched off for LoRA. DPO reads prompt/chosen/rejected
pairs; KTO reads prompt/completion/label rows (each ranking's top and bottom answers, exports.formats); RL reads
the ranked prompts and samples its own answers, scored by the project's reward model. DPO's held-out metrics are
the implicit reward's: how often the chosen answer gets the higher reward (accuracy) and by how much (margin)."""

from __future__ import annotations

import json

from training.trainer.runner_common import (
    TrainingError,
    adapts,
    build_trainer_args,
    is_finite,
    is_main_process,
    lora_config,
    model_kwargs,
    samples,
    save_model,
    write_json,
)

# TRL's logged names → the job's result names
DPO_RESULTS = {
    "eval_loss": "eval_loss",
    "eval_rewards/accuracies": "reward_accuracy",
    "eval_rewards/margins": "reward_margin",
    "eval_rewards/chosen": "reward_chosen",
    "eval_rewards/rejected": "reward_rejected",
}
KTO_RESULTS = {
    "eval_loss": "eval_loss",
    "eval_rewards/chosen_sum": "reward_desirable_sum",
    "eval_rewards/rejected_sum": "reward_undesirable_sum",
    "eval_kl": "kl",
}


def _policy(spec: dict, device: dict, tokenizer):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(spec["base_model"], **model_kwargs(spec, device))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def _need(data, columns: set[str], kind: str) -> None:
    missing = columns - set(data.column_names)
    if missing:
        raise TrainingError(f"dataset: {kind} needs {'/'.join(sorted(columns))} rows; missing {sorted(missing)}")


def _finish(trainer, spec, hp, job_dir, events, callback, tokenizer, test, names: dict, results: dict, reference):
    trainer.train()
    write_json(job_dir / "training_args.json", json.loads(trainer.args.to_json_string()))
    if not callback.cancelled and test is not None and len(test) and is_main_process():
        metrics = trainer.evaluate()
        values = {k: float(v) for k, v in metrics.items() if is_finite(v)}
        events.emit({"event": "log", "step": trainer.state.global_step, "epoch": trainer.state.epoch, "values": values})
        results.update({name: round(values[key], 4) for key, name in names.items() if key in values})
    save_model(trainer, tokenizer, job_dir, spec["method"], spec["base_model"])
    if not callback.cancelled and is_main_process() and hp["sample_prompts"]:
        data = test if test is not None and len(test) else trainer.train_dataset
        results["samples"] = samples(trainer.model, tokenizer, data, hp, reference)
    return results


def train_dpo(spec, hp, device, job_dir, events, callback, tokenizer, train, test) -> dict:
    from trl import DPOConfig, DPOTrainer

    _need(train, {"prompt", "chosen", "rejected"}, "DPO")
    # DPO weighs every pair alike: the rank-distance column of the preference export is not one of its inputs
    train, test = (
        d.remove_columns([c for c in ("margin",) if c in d.column_names]) if d is not None else None
        for d in (train, test)
    )
    args = DPOConfig(
        **build_trainer_args(spec, hp, device, job_dir, test is not None), beta=hp["beta"], loss_type=[hp["loss_type"]]
    )
    trainer = DPOTrainer(
        model=_policy(spec, device, tokenizer),
        args=args,
        train_dataset=train,
        eval_dataset=test,
        processing_class=tokenizer,
        callbacks=[callback],
        peft_config=lora_config(hp, "CAUSAL_LM") if adapts(spec) else None,
    )
    results = {
        "train_pairs": len(train),
        "test_pairs": len(test) if test is not None else 0,
        "loss_type": hp["loss_type"],
    }
    return _finish(trainer, spec, hp, job_dir, events, callback, tokenizer, test, DPO_RESULTS, results, "chosen")


def train_kto(spec, hp, device, job_dir, events, callback, tokenizer, train, test) -> dict:
    from trl import KTOConfig, KTOTrainer

    _need(train, {"prompt", "completion", "label"}, "KTO")
    labels = train["label"]
    if all(labels) or not any(labels):
        raise TrainingError("dataset: KTO needs both desirable and undesirable answers in the train split")
    args = KTOConfig(
        **build_trainer_args(spec, hp, device, job_dir, test is not None),
        beta=hp["beta"],
        desirable_weight=hp["desirable_weight"],
        undesirable_weight=hp["undesirable_weight"],
    )
    trainer = KTOTrainer(
        model=_policy(spec, device, tokenizer),
        args=args,
        train_dataset=train,
        eval_dataset=test,
        processing_class=tokenizer,
        callbacks=[callback],
        peft_config=lora_config(hp, "CAUSAL_LM") if adapts(spec) else None,
    )
    results = {
        "train_rows": len(train),
        "train_desirable": sum(labels),
        "test_rows": len(test) if test is not None else 0,
    }
    return _finish(trainer, spec, hp, job_dir, events, callback, tokenizer, test, KTO_RESULTS, results, "completion")


def train_rloo(spec, hp, device, job_dir, events, callback, tokenizer, train, test) -> dict:
    """RLOO: for each prompt the policy samples `num_generations` answers, the project's reward model scores them,
    each answer's advantage is its reward minus the mean of the others', with a KL penalty (beta) to the start
    model. TRL logs reward, reward_std, kl and completion lengths: the job's curves."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RLOOConfig, RLOOTrainer

    _need(train, {"prompt"}, "RL")
    reward_path = spec.get("reward_model")
    if not reward_path:
        raise TrainingError("reward_job: an RL job needs the project's trained reward model")
    reward_tokenizer = AutoTokenizer.from_pretrained(reward_path, local_files_only=True)
    if reward_tokenizer.pad_token is None:
        reward_tokenizer.pad_token = reward_tokenizer.eos_token
    reward_model = AutoModelForSequenceClassification.from_pretrained(reward_path, num_labels=1, local_files_only=True)
    reward_model.config.pad_token_id = reward_tokenizer.pad_token_id
    if isinstance(train[0]["prompt"], list) and not reward_tokenizer.chat_template:
        reward_tokenizer.chat_template = tokenizer.chat_template  # the RM reads the conversation as the policy does
    common = build_trainer_args(spec, hp, device, job_dir, False)
    common.pop("max_length")  # RL bounds the sampled answers instead
    args = RLOOConfig(
        **common,
        beta=hp["beta"],
        num_generations=hp["num_generations"],
        max_completion_length=hp["max_completion_length"],
        temperature=hp["temperature"],
    )
    trainer = RLOOTrainer(
        model=_policy(spec, device, tokenizer),
        reward_funcs=reward_model,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        reward_processing_classes=reward_tokenizer,
        callbacks=[callback],
        peft_config=lora_config(hp, "CAUSAL_LM") if adapts(spec) else None,
    )
    results = {"train_prompts": len(train), "test_prompts": len(test) if test is not None else 0}
    trainer.train()
    write_json(job_dir / "training_args.json", json.loads(trainer.args.to_json_string()))
    logged = [e["values"] for e in events.logs if "reward" in e["values"]]
    if logged:
        results.update(
            reward_first=round(logged[0]["reward"], 4),
            reward_last=round(logged[-1]["reward"], 4),
            kl_last=round(logged[-1].get("kl", 0.0), 4),
        )
    save_model(trainer, tokenizer, job_dir, spec["method"], spec["base_model"])
    if not callback.cancelled and is_main_process() and hp["sample_prompts"]:
        data = test if test is not None and len(test) else train
        results["samples"] = samples(trainer.model, tokenizer, data, {**hp}, "prompt")
    return results
