"""Preference optimization from the project's rankings (TRL's DPOTrainer and KTOTrainer, run in-process on the job
files as the runner subprocess runs them): DPO with the sigmoid and IPO losses (full and LoRA), KTO on the unpaired
export (each ranking's top answer desirable, its bottom one not); held-out implicit-reward metrics, sample
generations, a saved model and TensorBoard event files."""

import json

import pytest

from exports.services import materialize
from training.trainer import runner
from training.trainer.hyperparameters import resolve


def _run(folder, tiny_base, version, kind, method, shape, reward_model=None, **given):
    folder.mkdir()
    files = {
        split: materialize(version=version, shape=shape, split=split, file_type="jsonl", compress=False)[0]
        for split in ("train", "test")
    }
    spec = {
        "job": 1,
        "kind": kind,
        "method": method,
        "base_model": str(tiny_base),
        "reward_model": reward_model,
        "dataset_version": version.pk,
        "train_file": str(files["train"]),
        "test_file": str(files["test"]),
        "seed": 0,
        "hyperparameters": resolve(kind, method, {"max_steps": 2, "max_length": 64, "sample_prompts": 1} | given),
    }
    (folder / "job.json").write_text(json.dumps(spec))
    assert runner.main(["runner", str(folder)]) == runner.EXIT_SUCCEEDED, (folder / "result.json").read_text()
    return json.loads((folder / "result.json").read_text())["results"]


def test_the_kto_export_keeps_each_rankings_two_ends(preference_version):
    rows = [
        json.loads(line)
        for line in materialize(
            version=preference_version, shape="trl-kto", split="all", file_type="jsonl", compress=False
        )[0]
        .read_text()
        .splitlines()
    ]
    rankings = preference_version.lineage["rankings"]
    assert len(rows) == 2 * rankings and [r["label"] for r in rows[:2]] == [True, False]
    assert all(r["completion"].startswith("answer 0") for r in rows if r["label"])  # the best answer of each task
    assert all(set(r) == {"prompt", "completion", "label"} for r in rows)


@pytest.mark.parametrize(("method", "loss", "template"), [("full", "sigmoid", ""), ("lora", "ipo", "llama3")])
def test_dpo_trains_from_the_rankings(tiny_base, preference_version, tmp_path, monkeypatch, method, loss, template):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    folder = tmp_path / "job"
    given = {"loss_type": loss, "chat_template": template, "max_length": 512 if template else 64}
    results = _run(folder, tiny_base, preference_version, "dpo", method, "trl-preference", **given)
    assert results["loss_type"] == loss and results["test_pairs"] > 0
    assert 0.0 <= results["reward_accuracy"] <= 1.0 and "reward_margin" in results
    assert results["samples"][0]["reference"].startswith("answer 0")  # the chosen answer, next to the model's
    assert (folder / "model" / "config.json").is_file()
    assert (folder / "adapter").is_dir() == (method == "lora")
    assert list((folder / "tensorboard").glob("events.out.tfevents.*"))  # tensorboard --logdir reads them


def test_kto_trains_on_unpaired_answers(tiny_base, preference_version, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    folder = tmp_path / "job"
    results = _run(folder, tiny_base, preference_version, "kto", "full", "trl-kto", desirable_weight=1.5)
    assert results["train_desirable"] * 2 == results["train_rows"] and results["test_rows"] > 0
    assert "eval_loss" in results and (folder / "model" / "config.json").is_file()


def test_preference_hyperparameters_are_checked():
    assert resolve("dpo", "full", {})["beta"] == 0.1 and resolve("dpo", "lora", {})["learning_rate"] == 5e-6
    for kind, given, words in (
        ("dpo", {"loss_type": "magic"}, "hyperparameters.loss_type: must be one of"),
        ("dpo", {"beta": 0}, "hyperparameters.beta: must be from"),
        ("kto", {"loss_type": "ipo"}, "unknown key(s) for kto"),
        ("kto", {"undesirable_weight": 1000}, "hyperparameters.undesirable_weight"),
    ):
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            resolve(kind, "full", given)


def test_rloo_samples_and_is_scored_by_the_projects_reward_model(
    project, tiny_base, preference_version, reward_job, tmp_path, monkeypatch
):
    from training.services import TrainingJobError, create_training_job, model_dir

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    prompts = materialize(
        version=preference_version, shape="trl-prompts", split="all", file_type="jsonl", compress=False
    )
    listed = [json.loads(line)["prompt"] for line in prompts[0].read_text().splitlines()]
    assert len(listed) == len(set(listed)) == 12  # each ranked prompt once
    with pytest.raises(TrainingJobError, match="reward_job: an RL job needs"):
        create_training_job(project=project, dataset_version=preference_version, kind="rloo", base_model=str(tiny_base))
    with pytest.raises(TrainingJobError, match="only RL jobs take a reward model"):
        create_training_job(
            project=project,
            dataset_version=preference_version,
            kind="dpo",
            base_model=str(tiny_base),
            reward_job=reward_job,
        )
    with pytest.raises(TrainingJobError, match="multiple of num_generations"):
        create_training_job(
            project=project,
            dataset_version=preference_version,
            kind="rloo",
            base_model=str(tiny_base),
            reward_job=reward_job,
            hyperparameters={"batch_size": 3},
        )
    folder = tmp_path / "job"
    results = _run(
        folder,
        tiny_base,
        preference_version,
        "rloo",
        "full",
        "trl-prompts",
        reward_model=str(model_dir(reward_job)),
        num_generations=2,
        batch_size=2,
        max_completion_length=8,
    )
    assert results["train_prompts"] > 0 and "reward_last" in results and "kl_last" in results
    logged = json.loads((folder / "metrics.json").read_text())["logs"]
    assert any("reward" in e["values"] and "completions/mean_length" in e["values"] for e in logged)  # the curves
