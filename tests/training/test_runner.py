"""The trainer subprocess's entry point, run in-process on files: edge cases of its evaluation."""

import json

from tests.helpers.training import sft_job
from training.trainer import runner
from training.trainer.hyperparameters import resolve


def test_sft_eval_with_every_held_out_completion_cut_off_reports_no_loss(tiny_base, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    long_prompt = " ".join(["the cat runs quickly"] * 20)
    short = [{"prompt": f"cat {i}", "completion": " good answer"} for i in range(8)]
    long = [{"prompt": f"{long_prompt} {i}", "completion": " good answer"} for i in range(4)]
    for name, rows in (("train", short), ("test", long)):
        (tmp_path / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    hp = resolve("sft", "full", {"max_steps": 2, "max_length": 16, "sample_prompts": 0})
    spec = sft_job(tmp_path, tiny_base, hp, test=True)
    (tmp_path / "job.json").write_text(json.dumps(spec))
    assert runner.main(["runner", str(tmp_path)]) == runner.EXIT_SUCCEEDED
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "succeeded" and result["results"]["eval_loss"] is None
    assert result["results"]["eval_note"] == "no eval loss: no held-out completion token fits in max_length=16"
