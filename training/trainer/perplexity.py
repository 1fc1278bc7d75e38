"""Causal-LM perplexities for instruction difficulty (no Django here): for each (prompt, response) the perplexity of
the prompt, of the response alone and of the response after the prompt, and IFD = the last ÷ the response alone, as
the Cherry-LLM paper computes them (the response alone starts after the tokenizer's BOS when it has one, else its
first token is context only). Texts longer than `max_length` tokens keep their first tokens; a response with no
token left after its prompt gets no conditioned perplexity (and no IFD)."""

from __future__ import annotations

import math
from pathlib import Path


class PerplexityScorer:
    def __init__(self, folder: Path, *, max_length: int = 1024, device: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        dtype = torch.bfloat16 if self.device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, local_files_only=True).to(self.device)
        self.model.eval()
        limit = getattr(self.model.config, "max_position_embeddings", None) or max_length
        self.max_length = max(2, min(int(limit), max_length))
        self.pad = self.tokenizer.pad_token_id
        if self.pad is None:
            self.pad = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else 0

    def _mean_nll(self, sequences: list[tuple[list[int], int]], batch_size: int) -> list[float | None]:
        """Mean negative log-likelihood of each sequence's tokens from index `start` on (each predicted from the
        tokens before it); None when no token is left to predict."""
        torch = self.torch
        out: list[float | None] = [None] * len(sequences)
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i][0]))
        for begin in range(0, len(order), batch_size):
            chunk = [i for i in order[begin : begin + batch_size] if len(sequences[i][0]) > max(sequences[i][1], 1)]
            if not chunk:
                continue
            width = max(len(sequences[i][0]) for i in chunk)
            ids = torch.full((len(chunk), width), self.pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, i in enumerate(chunk):
                tokens = sequences[i][0]
                ids[row, : len(tokens)] = torch.tensor(tokens)
                mask[row, : len(tokens)] = 1
            with torch.no_grad():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
            logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            picked = logprobs.gather(-1, ids[:, 1:].to(self.device).unsqueeze(-1)).squeeze(-1).cpu()
            for row, i in enumerate(chunk):
                tokens, start = sequences[i]
                start = max(start, 1)
                out[i] = float(-picked[row, start - 1 : len(tokens) - 1].mean())
        return out

    def score(self, items: list[tuple[str, str]], *, batch_size: int = 8) -> list[dict]:
        """[{ppl_instruction, ppl_response, ppl_response_given, ifd}] per (prompt, response), in order; the response
        values are None for an empty response."""
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        cap = self.max_length
        prompts, alone, given = [], [], []
        for prompt, response in items:
            p = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
            r = self.tokenizer(response, add_special_tokens=False)["input_ids"] if response else []
            prompts.append(((bos + p)[:cap], 1))
            alone.append(((bos + r)[:cap], 1) if r else ([], 0))
            given.append(((bos + p + r)[:cap], len(bos + p)) if r else ([], 0))
        nll_prompt = self._mean_nll(prompts, batch_size)
        nll_alone = self._mean_nll(alone, batch_size)
        nll_given = self._mean_nll(given, batch_size)
        results = []
        for a, b, c in zip(nll_prompt, nll_alone, nll_given, strict=True):
            ppl = {
                "ppl_instruction": _ppl(a),
                "ppl_response": _ppl(b),
                "ppl_response_given": _ppl(c),
            }
            ifd = None
            if ppl["ppl_response"] and ppl["ppl_response_given"] is not None:
                ifd = ppl["ppl_response_given"] / ppl["ppl_response"]
            results.append({**ppl, "ifd": ifd})
        return results


def _ppl(nll: float | None) -> float | None:
    if nll is None:
        return None
    return math.exp(min(nll, 700.0))  # a float stays finite
