"""Reward-model inference: score (prompt, completion) texts with a trained sequence-classification checkpoint.

The text is built exactly as TRL's RewardTrainer builds it for non-conversational rows — prompt + completion, with
the EOS token appended when missing — so a score here is the reward the model learned to give.
"""

from __future__ import annotations

from pathlib import Path


class RewardScorer:
    def __init__(self, folder: Path, *, device: str | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right"
        dtype = torch.bfloat16 if self.device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        self.model = AutoModelForSequenceClassification.from_pretrained(
            folder, num_labels=1, dtype=dtype, local_files_only=True
        ).to(self.device)
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.model.eval()
        limit = getattr(self.model.config, "max_position_embeddings", None) or 4096
        self.max_length = min(int(limit), 4096)

    def _text(self, prompt: str, completion: str) -> str:
        eos = self.tokenizer.eos_token or ""
        text = prompt + completion
        return text if not eos or text.endswith(eos) else text + eos

    def score(self, pairs: list[tuple[str, str]], *, batch_size: int = 16) -> list[float]:
        """One reward per (prompt, completion), in order. Batches are sorted by length to pad little; texts
        longer than the model's context keep their first max_length tokens (the EOS is then cut too)."""
        texts = [self._text(p, c) for p, c in pairs]
        encoded = [self.tokenizer(t, truncation=True, max_length=self.max_length)["input_ids"] for t in texts]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        scores = [0.0] * len(encoded)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in chunk)
            ids = self.torch.full((len(chunk), width), pad, dtype=self.torch.long)
            mask = self.torch.zeros_like(ids)
            for row, i in enumerate(chunk):
                ids[row, : len(encoded[i])] = self.torch.tensor(encoded[i])
                mask[row, : len(encoded[i])] = 1
            with self.torch.no_grad():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
            for row, i in enumerate(chunk):
                scores[i] = float(logits[row, 0].float().cpu())
        return scores
