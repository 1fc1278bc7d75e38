"""Training throughput: tokens/s and MFU for SFT (with and without packing), reward-model, DPO and RL (RLOO) training
of a Qwen2-0.5B-shaped model (random init from its config) at sequence length 2048 in bf16, through the same TRL
trainers and settings the platform's training jobs use (training/trainer/runner.py's trainer arguments).

The RL row is online: each step samples `--rl-generations` answers per prompt (prompts of a quarter of --rl-length,
answers up to the rest, with TRL's own `generate`, as a job without vLLM does), scores them with a reward model of
the same shape, and updates the policy with a KL penalty to its reference. Its tokens are prompt + answer tokens per
sample (random-init models almost never stop early, so answers run to their length); its MFU counts the 6N of the
update only, so it shows how far sampling keeps RL from training speed, not a like-for-like MFU.

    python bench/train_throughput.py                 # on a GPU machine (H100/H200: peak 989 bf16 TFLOP/s dense)
    python bench/train_throughput.py --tiny          # a CPU smoke run of the same code with a tiny model

MFU = 6 · N · (tokens/s) ÷ peak FLOP/s, with N = all parameters (the 6N rule; attention FLOPs not counted, so it
slightly understates the work at 2048). Tokens are real (non-padding) tokens. Steps before --warmup are not timed.
The baseline measured in the same run is SFT without packing: the packed run is reported as a ratio of it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}
QWEN2_05B = dict(
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    vocab_size=151936,
    max_position_embeddings=32768,
    rope_theta=1e6,
    tie_word_embeddings=True,
)
TINY = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=512,
    max_position_embeddings=4096,
    tie_word_embeddings=True,
)


def tokenizer_for(folder: Path):
    from training.trainer.tiny import build_tiny_base_model

    build_tiny_base_model(folder, ["a b c d e f g"], vocab_size=300)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def sft_rows(n: int, seq_len: int, vocab: int, rng: random.Random) -> list[dict]:
    """Pre-tokenized prompt/completion rows of varied length (a quarter to all of seq_len): padding matters."""
    rows = []
    for _ in range(n):
        total = rng.randint(seq_len // 4, seq_len)
        prompt = rng.randint(8, total // 3)
        ids = [rng.randrange(4, vocab) for _ in range(total)]
        rows.append({"input_ids": ids, "completion_mask": [0] * prompt + [1] * (total - prompt)})
    return rows


def rm_rows(n: int, seq_len: int, vocab: int, rng: random.Random) -> list[dict]:
    def ids():
        return [rng.randrange(4, vocab) for _ in range(rng.randint(seq_len // 2, seq_len))]

    return [{"chosen_ids": ids(), "rejected_ids": ids()} for _ in range(n)]


def dpo_rows(n: int, seq_len: int, tokenizer, rng: random.Random) -> list[dict]:
    """Text pairs of varied length (prompt about a quarter of the pair's budget): DPOTrainer tokenizes text."""
    words = [w for w in tokenizer.get_vocab() if w.isalpha()] or ["a", "b", "c"]

    def text(tokens: int) -> str:
        return " ".join(rng.choice(words) for _ in range(tokens))

    rows = []
    for _ in range(n):
        prompt = rng.randint(seq_len // 16, seq_len // 4)
        rows.append(
            {
                "prompt": text(prompt),
                "chosen": text(rng.randint(seq_len // 4, seq_len - prompt)),
                "rejected": text(rng.randint(seq_len // 4, seq_len - prompt)),
            }
        )
    return rows


def rl_rows(n: int, prompt_tokens: int, tokenizer, rng: random.Random) -> list[dict]:
    words = [w for w in tokenizer.get_vocab() if w.isalpha()] or ["a", "b", "c"]
    return [{"prompt": " ".join(rng.choice(words) for _ in range(prompt_tokens))} for _ in range(n)]


def run(kind: str, packing: bool, args, tokenizer, device: dict) -> dict:
    import torch
    from datasets import Dataset
    from transformers import LlamaConfig, Qwen2Config, TrainerCallback

    from training.trainer.hyperparameters import resolve
    from training.trainer.runner import build_trainer_args

    shape = TINY if args.tiny else QWEN2_05B
    config_class = LlamaConfig if args.tiny else Qwen2Config
    rng = random.Random(0)
    steps = args.warmup + args.steps
    n = steps * args.batch_size * (4 if packing else 1)
    hp = resolve(
        kind,
        "full",
        {
            "max_steps": steps,
            "batch_size": args.batch_size,
            "max_length": args.seq_len,
            "logging_steps": 1000,
            "warmup_ratio": 0.0,
            "learning_rate": 1e-5,
        },
    )
    spec = {"seed": 0}
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    common = build_trainer_args(spec, hp, device, folder, has_eval=False)
    common["activation_checkpointing"] = False
    tokens_per_step: list[int] = []
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            if device["cuda"]:
                torch.cuda.synchronize()
            times.append(time.perf_counter())

        def on_step_end(self, a, state, control, **kw):
            if device["cuda"]:
                torch.cuda.synchronize()
            times.append(time.perf_counter())
            tokens_per_step.append(state.num_input_tokens_seen)

    dtype = torch.bfloat16 if device["bf16"] else torch.float32
    if kind == "sft":
        from transformers import AutoModelForCausalLM
        from trl import SFTConfig, SFTTrainer

        model = AutoModelForCausalLM.from_config(
            config_class(**shape, pad_token_id=tokenizer.pad_token_id), dtype=dtype
        )
        data = Dataset.from_list(sft_rows(n, args.seq_len, shape["vocab_size"], rng))
        trainer_args = SFTConfig(
            **common, packing=packing, completion_only_loss=True, include_num_input_tokens_seen="non_padding"
        )
        trainer = SFTTrainer(
            model=model, args=trainer_args, train_dataset=data, processing_class=tokenizer, callbacks=[Clock()]
        )
        seen = None
    elif kind == "reward":
        from transformers import AutoModelForSequenceClassification
        from trl import RewardConfig, RewardTrainer

        model = AutoModelForSequenceClassification.from_config(
            config_class(**shape, pad_token_id=tokenizer.pad_token_id, num_labels=1), dtype=dtype
        )
        rows = rm_rows(n, args.seq_len, shape["vocab_size"], rng)
        data = Dataset.from_list(rows)
        trainer = RewardTrainer(
            model=model,
            args=RewardConfig(**common),
            train_dataset=data,
            processing_class=tokenizer,
            callbacks=[Clock()],
        )
        seen = [len(r["chosen_ids"]) + len(r["rejected_ids"]) for r in rows]
    elif kind == "dpo":  # the policy and a frozen reference copy (what a full DPO job runs)
        from transformers import AutoModelForCausalLM
        from trl import DPOConfig, DPOTrainer

        config = config_class(**shape, pad_token_id=tokenizer.pad_token_id)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        reference = AutoModelForCausalLM.from_config(config, dtype=dtype)
        rows = dpo_rows(n, args.seq_len, tokenizer, rng)
        trainer = DPOTrainer(
            model=model,
            ref_model=reference,
            args=DPOConfig(**common, beta=0.1),
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            callbacks=[Clock()],
        )
        seen = [
            len(tokenizer(r["prompt"] + " " + r["chosen"])["input_ids"])
            + len(tokenizer(r["prompt"] + " " + r["rejected"])["input_ids"])
            for r in rows
        ]
    elif kind == "rloo":  # policy, reference and reward model; sampling inside every step
        from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
        from trl import RLOOConfig, RLOOTrainer

        config = config_class(**shape, pad_token_id=tokenizer.pad_token_id)
        policy = folder / "policy"  # TRL loads the KL reference from the policy's own folder, as a job's base
        AutoModelForCausalLM.from_config(config, dtype=dtype).save_pretrained(policy)
        tokenizer.save_pretrained(policy)
        scorer = AutoModelForSequenceClassification.from_config(
            config_class(**shape, pad_token_id=tokenizer.pad_token_id, num_labels=1), dtype=dtype
        )
        prompt_tokens = args.rl_length // 4
        answer_tokens = args.rl_length - prompt_tokens
        rows = rl_rows(steps * args.batch_size, prompt_tokens, tokenizer, rng)
        common.pop("max_length")
        trainer = RLOOTrainer(
            model=str(policy),
            reward_funcs=scorer,
            args=RLOOConfig(
                **common,
                beta=0.05,
                num_generations=args.rl_generations,
                max_completion_length=answer_tokens,
                include_num_input_tokens_seen="non_padding",
            ),
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            reward_processing_classes=tokenizer,
            callbacks=[Clock()],
        )
        model = trainer.model
        seen = [len(tokenizer(r["prompt"])["input_ids"]) + answer_tokens for r in rows]
    params = sum(p.numel() for p in model.parameters())
    if device["cuda"]:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    begin = times[2 * args.warmup]
    elapsed = times[-1] - begin
    if seen is None:  # SFT: the trainer counted non-padding tokens
        tokens = tokens_per_step[-1] - tokens_per_step[args.warmup - 1] if args.warmup else tokens_per_step[-1]
    else:  # RM, DPO, RL: rows are consumed in a seeded shuffle; the mean row length times the rows timed (RL: each
        # step's batch_size samples are batch_size / generations prompts, each answered that many times)
        tokens = sum(seen) / len(seen) * args.batch_size * args.steps
    tokens_per_s = tokens / elapsed
    result = {
        "kind": kind,
        "packing": packing,
        "params": params,
        "steps_timed": args.steps,
        "tokens_per_s": round(tokens_per_s),
        "step_s": round(elapsed / args.steps, 4),
    }
    if device["cuda"]:
        result["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
        if args.peak:
            result["mfu"] = round(6 * params * tokens_per_s / args.peak, 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a tiny model on CPU: checks the script, not a GPU figure")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rl-length", type=int, default=512, help="RL: prompt + answer tokens per sample")
    parser.add_argument("--rl-generations", type=int, default=4, help="RL: answers sampled per prompt")
    parser.add_argument("--peak-tflops", type=float, help="override the GPU's dense bf16 peak")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "train_throughput.json")
    args = parser.parse_args()
    import torch

    from training.trainer.runner import device_settings

    device = device_settings({"bf16": "auto", "gradient_checkpointing": False})
    name = torch.cuda.get_device_name(0) if device["cuda"] else "cpu"
    args.peak = (
        (args.peak_tflops * 1e12) if args.peak_tflops else next((v for k, v in PEAK_BF16.items() if k in name), None)
    )
    if args.tiny:
        args.seq_len, args.batch_size, args.steps, args.warmup = min(args.seq_len, 256), 4, 6, 2
        args.rl_length, args.rl_generations = min(args.rl_length, 64), 2
    elif not device["cuda"]:
        sys.exit("no GPU here: the figure this benchmark is for cannot be measured (use --tiny for a smoke run)")
    tokenizer = tokenizer_for(Path(tempfile.mkdtemp(prefix="bench-tok-")))
    runs = [
        run("sft", False, args, tokenizer, device),
        run("sft", True, args, tokenizer, device),
        run("reward", False, args, tokenizer, device),
        run("dpo", False, args, tokenizer, device),
        run("rloo", False, args, tokenizer, device),
    ]
    baseline = runs[0]["tokens_per_s"]
    for r in runs:
        r["vs_sft_unpacked"] = round(r["tokens_per_s"] / baseline, 2)
    result = {
        "device": name,
        "bf16": device["bf16"],
        "seq_len": args.seq_len,
        "rl": {"length": args.rl_length, "generations": args.rl_generations},
        "batch_size": args.batch_size,
        "model": "tiny llama (smoke)" if args.tiny else "Qwen2-0.5B shape, random init",
        "peak_flops": args.peak,
        "runs": runs,
        "target": {"sft_full_mfu": 0.45, "dpo_vs_sft_tokens_per_s": 0.8},
    }
    if not args.tiny:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
