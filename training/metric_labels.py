"""What a training metric or result is called on pages, and which chart (family) it is drawn in: one mapping for
the job page's charts and tables, the run comparison and the CLI. Keys are TRL's logged names (loss, grad_norm,
rewards/accuracies, eval_…) and the job's result names (training/trainer/runner*.py)."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

LABELS = {
    # logged while training (TRL / transformers)
    "loss": _("Loss"),
    "eval_loss": _("Eval loss"),
    "train_loss": _("Average training loss"),
    "learning_rate": _("Learning rate"),
    "grad_norm": _("Gradient norm"),
    "epoch": _("Epoch"),
    "num_tokens": _("Tokens seen"),
    "eval_num_tokens": _("Eval tokens seen"),
    "num_input_tokens_seen": _("Input tokens seen"),
    "total_flos": _("Total FLOPs"),
    "mean_token_accuracy": _("Token accuracy"),
    "eval_mean_token_accuracy": _("Eval token accuracy"),
    "entropy": _("Entropy"),
    "eval_entropy": _("Eval entropy"),
    "train_runtime": _("Training time (s)"),
    "train_samples_per_second": _("Training samples per second"),
    "train_steps_per_second": _("Training steps per second"),
    "eval_runtime": _("Eval time (s)"),
    "eval_samples_per_second": _("Eval samples per second"),
    "eval_steps_per_second": _("Eval steps per second"),
    "rewards/accuracies": _("Reward accuracy"),
    "eval_rewards/accuracies": _("Eval reward accuracy"),
    "rewards/margins": _("Reward margin"),
    "eval_rewards/margins": _("Eval reward margin"),
    "rewards/chosen": _("Chosen reward"),
    "eval_rewards/chosen": _("Eval chosen reward"),
    "rewards/rejected": _("Rejected reward"),
    "eval_rewards/rejected": _("Eval rejected reward"),
    "logps/chosen": _("Log-probability of chosen answers"),
    "logps/rejected": _("Log-probability of rejected answers"),
    "logits/chosen": _("Mean logit of chosen answers"),
    "logits/rejected": _("Mean logit of rejected answers"),
    "kl": _("KL divergence"),
    "eval_kl": _("Eval KL divergence"),
    "reward": _("Reward"),
    "reward_std": _("Reward standard deviation"),
    "rewards/chosen_sum": _("Reward of desirable answers (sum)"),
    "rewards/rejected_sum": _("Reward of undesirable answers (sum)"),
    "logps/chosen_sum": _("Log-probability of desirable answers (sum)"),
    "logps/rejected_sum": _("Log-probability of undesirable answers (sum)"),
    "count/chosen": _("Desirable answers"),
    "count/rejected": _("Undesirable answers"),
    "completions/mean_length": _("Mean answer length (tokens)"),
    "completions/min_length": _("Shortest answer (tokens)"),
    "completions/max_length": _("Longest answer (tokens)"),
    "completions/clipped_ratio": _("Share of answers cut off"),
    "completions/mean_terminated_length": _("Mean length of finished answers (tokens)"),
    "completions/min_terminated_length": _("Shortest finished answer (tokens)"),
    "completions/max_terminated_length": _("Longest finished answer (tokens)"),
    "eval_reward_mean": _("Eval mean reward"),
    # results (the job's final numbers)
    "eval_accuracy": _("Eval reward accuracy"),
    "accuracy": _("Reward accuracy"),
    "eval_margin": _("Eval reward margin"),
    "margin": _("Reward margin"),
    "reward_accuracy": _("Reward accuracy"),
    "reward_margin": _("Reward margin"),
    "reward_chosen": _("Chosen reward"),
    "reward_rejected": _("Rejected reward"),
    "reward_mean": _("Mean reward"),
    "reward_desirable_sum": _("Reward of desirable answers (sum)"),
    "reward_undesirable_sum": _("Reward of undesirable answers (sum)"),
    "reward_first": _("First reward"),
    "reward_last": _("Last reward"),
    "kl_last": _("Last KL divergence"),
    "pairs_evaluated": _("Pairs evaluated"),
    "train_rows": _("Training rows"),
    "test_rows": _("Test rows"),
    "train_pairs": _("Training pairs"),
    "test_pairs": _("Test pairs"),
    "train_pairs_dropped_for_length": _("Training pairs dropped (too long)"),
    "test_pairs_dropped_for_length": _("Test pairs dropped (too long)"),
    "train_prompts": _("Training prompts"),
    "test_prompts": _("Test prompts"),
    "train_desirable": _("Desirable training answers"),
    "max_length": _("Maximum length (tokens)"),
    "eval_note": _("Note on evaluation"),
    "loss_type": _("Loss type"),
    "device": _("Device"),
    "bf16": _("bf16 (16-bit training)"),
}

# The charts of the job page, in this order; a metric of no family goes under "Other metrics", one chart each, so
# counters (num_tokens, total_flos, epoch, runtimes) never share an axis with the loss.
FAMILIES = (
    ("loss", _("Loss"), ("loss", "eval_loss")),
    ("learning_rate", _("Learning rate"), ("learning_rate", "lr")),
    ("grad_norm", _("Gradient norm"), ("grad_norm",)),
    ("reward_accuracy", _("Reward accuracy"), ("rewards/accuracies", "eval_rewards/accuracies", "eval_accuracy")),
    (
        "rewards",
        _("Rewards"),
        (
            "rewards/chosen",
            "rewards/rejected",
            "rewards/margins",
            "eval_rewards/chosen",
            "eval_rewards/rejected",
            "eval_rewards/margins",
            "eval_margin",
            "eval_reward_mean",
        ),
    ),
    ("reward", _("Reward (RL)"), ("reward", "reward_std", "objective/rlhf_reward", "objective/scores")),
    ("kl", _("KL divergence"), ("kl", "eval_kl", "objective/kl")),
    ("entropy", _("Entropy"), ("entropy", "eval_entropy", "objective/entropy")),
    ("token_accuracy", _("Token accuracy"), ("mean_token_accuracy", "eval_mean_token_accuracy")),
)
FAMILY_OF = {key: family for family, _title, keys in FAMILIES for key in keys}
ORDER = {key: n for n, key in enumerate(FAMILY_OF)}


def metric_label(key: str) -> str:
    """The readable, translated name of a logged metric or result ("eval_loss" → "Eval loss"); an unknown eval_ key
    of a known metric as that metric's name marked "(eval)"; any other key as it is, underscores as spaces."""
    label = LABELS.get(key)
    if label is not None:
        return str(label)
    if key.startswith("eval_") and key[5:] in LABELS:
        return gettext("%(metric)s (eval)") % {"metric": LABELS[key[5:]]}
    return key.replace("_", " ")


def family_of(key: str) -> str | None:
    """The chart a metric is drawn in, or None: it goes under "Other metrics" (a chart of its own)."""
    return FAMILY_OF.get(key)


def metric_order(key: str) -> tuple:
    """Sort key: the known families' metrics first, in chart order, then the rest by name."""
    return (0, ORDER[key], "") if key in ORDER else (1, 0, key)
