"""Chat templates end to end: a job names one (or uses its base model's), trains on its rows as conversations
through it and saves it with the model; the model server applies the same template to chat requests, so the prompt
it generates from is exactly `apply_chat_template(messages, add_generation_prompt=True)`. Also how large models
train: QLoRA refused readably without CUDA, multi-GPU runs launched through accelerate with DeepSpeed ZeRO configs."""

import json
import shutil

import openai
import pytest

from tests.helpers.training import sft_job
from training.trainer import runner
from training.trainer.hyperparameters import resolve


def _sft_run(folder, tiny_base, rows=None, **given):
    folder.mkdir()
    rows = rows or [{"prompt": f"Explain item {i}.", "completion": f" answer 0 to {i}"} for i in range(8)]
    for name, part in (("train", rows[:6]), ("test", rows[6:])):
        (folder / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in part))
    hp = resolve("sft", "full", {"max_steps": 2, "max_length": 1024, "sample_prompts": 1, **given})
    spec = sft_job(folder, tiny_base, hp, test=True)
    (folder / "job.json").write_text(json.dumps(spec))
    code = runner.main(["runner", str(folder)])
    return code, json.loads((folder / "result.json").read_text())


def test_sft_trains_through_a_named_template_and_saves_it(tiny_base, tmp_path, monkeypatch):
    from transformers import AutoTokenizer

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code, result = _sft_run(tmp_path / "job", tiny_base, chat_template="qwen2_5")
    assert code == runner.EXIT_SUCCEEDED, result["error"]
    saved = AutoTokenizer.from_pretrained(tmp_path / "job" / "model")
    assert "<|im_start|>" in saved.chat_template  # the template travels with the model
    sample = result["results"]["samples"][0]
    assert sample["prompt"] == "Explain item 6." and sample["reference"] == " answer 0 to 6"  # readable, not JSON
    code, result = _sft_run(tmp_path / "none", tiny_base, chat_template="model")
    assert code == runner.EXIT_FAILED and "the base model has no chat template; name one" in result["error"]
    with pytest.raises(ValueError, match="hyperparameters.chat_template: must be one of"):
        resolve("sft", "full", {"chat_template": "../../etc/passwd"})


def test_multi_turn_rows_train_on_their_last_answer_with_the_earlier_turns_as_context(tiny_base, tmp_path, monkeypatch):
    from datasets import Dataset

    from training.trainer.runner_common import as_conversations

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    chats = [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": f"Explain item {i}."},
                {"role": "assistant", "content": f"answer {i}"},
                {"role": "user", "content": "Go on."},
                {"role": "assistant", "content": f"more on {i}"},
            ][(i % 2) :]  # every other chat without its system message
        }
        for i in range(8)
    ]
    pairs = as_conversations(Dataset.from_list(chats), "sft")
    assert [len(p) for p in pairs["prompt"][:2]] == [4, 3] and pairs[0]["completion"][0]["content"] == "more on 0"
    code, result = _sft_run(tmp_path / "job", tiny_base, rows=chats, chat_template="llama3")
    assert code == runner.EXIT_SUCCEEDED, result["error"]
    sample = result["results"]["samples"][0]
    assert sample["prompt"] == "Go on." and sample["reference"] == "more on 6"


def test_the_server_applies_the_models_chat_template(tiny_base, tmp_path):
    import trl
    from transformers import AutoTokenizer

    from training.serving import Generator, ModelServer

    model = tmp_path / "model"
    shutil.copytree(tiny_base, model)
    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.chat_template = (
        __import__("pathlib").Path(trl.__file__).parent / "chat_templates" / "llama3.jinja"
    ).read_text()
    tokenizer.save_pretrained(model)
    generator = Generator(model)
    seen = []
    submit = generator.submit
    generator.submit = lambda request, timeout=600: (seen.append(request), submit(request, timeout))[1]
    server = ModelServer("127.0.0.1", 0, generator, model_name="tiny-chat", api_key="chat-template-test-key")
    server.start_in_thread()
    try:
        client = openai.OpenAI(base_url=server.url, api_key="chat-template-test-key", max_retries=0, timeout=60)
        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Explain item 3."}]
        reply = client.chat.completions.create(model="tiny-chat", messages=messages, max_tokens=4)
        assert reply.choices[0].message.role == "assistant"
        expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert seen[0].input_ids == tokenizer(expected, add_special_tokens=False)["input_ids"]  # its own specials
        plain = client.completions.create(model="tiny-chat", prompt="Explain item 3.", max_tokens=2)
        assert plain.choices and seen[1].input_ids == tokenizer("Explain item 3.")["input_ids"]
        with pytest.raises(openai.BadRequestError, match="each role is system, user or assistant"):
            client.chat.completions.create(model="tiny-chat", messages=[{"role": "tool", "content": "x"}], max_tokens=2)
    finally:
        server.shutdown()
        server.server_close()


def test_rows_that_cannot_fit_fail_the_job_readably(tiny_base, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code, result = _sft_run(tmp_path / "job", tiny_base, chat_template="qwen2_5", max_length=16)
    assert code == runner.EXIT_FAILED and "max_length=16" in result["error"], result["error"]


def test_qlora_is_refused_readably_without_cuda(tiny_base, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "train.jsonl").write_text(json.dumps({"prompt": "a", "completion": " b"}))
    hp = resolve("sft", "qlora", {"max_steps": 1})
    assert hp["learning_rate"] == resolve("sft", "lora", {})["learning_rate"]  # the adapters train like LoRA's
    spec = sft_job(folder, tiny_base, hp, method="qlora")
    (folder / "job.json").write_text(json.dumps(spec))
    assert runner.main(["runner", str(folder)]) == runner.EXIT_FAILED
    error = json.loads((folder / "result.json").read_text())["error"]
    assert error == "method: QLoRA needs a CUDA GPU (4-bit bitsandbytes weights); use lora on this worker"


def test_multi_gpu_runs_launch_through_accelerate_with_the_shipped_deepspeed_configs():
    import yaml

    from training.supervisor import _command

    spec = {"folder": "/jobs/7", "hyperparameters": resolve("sft", "full", {"num_processes": 2})}
    ddp = _command(spec)
    assert ddp[2:5] == ["accelerate.commands.launch", "--num_processes", "2"] and "--config_file" not in ddp
    spec["hyperparameters"] = resolve("sft", "full", {"num_processes": 4, "deepspeed": "zero3"})
    zero3 = _command(spec)
    config = zero3[zero3.index("--config_file") + 1]
    settings = yaml.safe_load(open(config, encoding="utf-8"))
    assert settings["distributed_type"] == "DEEPSPEED" and settings["deepspeed_config"]["zero_stage"] == 3
    assert zero3[-3:] == ["-m", "training.trainer.runner", "/jobs/7"]
    assert _command({"folder": "/jobs/7", "hyperparameters": resolve("sft", "full", {})})[1:3] == [
        "-m",
        "training.trainer.runner",
    ]
    with pytest.raises(ValueError, match="hyperparameters.deepspeed: must be one of"):
        resolve("sft", "full", {"deepspeed": "/etc/config.yaml"})


def test_a_job_reports_into_one_mlflow_run_when_mlflow_is_configured(tiny_base, tmp_path, monkeypatch):
    """Runs where mlflow is installed (not a CI dependency: checked with mlflow-skinny 3.18 on PYTHONPATH)."""
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    code, result = _sft_run(tmp_path / "job", tiny_base)
    assert code == runner.EXIT_SUCCEEDED, result["error"]
    client = mlflow.MlflowClient()
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.info.run_name == "job-1" and run.info.status == "FINISHED" and run.data.params["job.kind"] == "sft"
    assert "loss" in run.data.metrics and run.data.metrics["final/eval_loss"] == result["results"]["eval_loss"]
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"model", "result.json", "metrics.json"}
