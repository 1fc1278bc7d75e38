"""Training fixtures: a tiny base model (2-layer Llama, hidden 64, tokenizer trained offline) built once per run,
and ready SFT / preference dataset versions of the `alpha` project."""

import random
from pathlib import Path

import pytest

from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures

WORDS = (
    "the cat dog runs quickly slowly eats apple banana red blue green sky sea answer task number explain item "
    "good bad tip cook rice water"
).split()


@pytest.fixture(scope="session")
def tiny_base():
    """Built under DATA_DIR/models, the default allowed model root (base models come only from allowed roots)."""
    from django.conf import settings

    from training.trainer.tiny import build_tiny_base_model

    folder = Path(settings.DATA_DIR) / "models" / "tiny-base"
    if (folder / "config.json").is_file():
        return folder
    rng = random.Random(0)
    texts = [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(400)]
    texts += [f"Task number {i}: explain item {i}. answer {j} to {i}" for i in range(50) for j in range(4)]
    return build_tiny_base_model(folder, texts)


@pytest.fixture
def preference_version(project, make_tasks, labelers):  # noqa: F811
    from annotation.claims import claim_next_ranking_task, submit_ranking
    from exports.services import build_dataset_version, create_dataset_version, split_of

    tasks = make_tasks(12, k=3)
    (user,) = labelers(1)
    while (assignment := claim_next_ranking_task(project=project, labeler=user)) is not None:
        ids = sorted(assignment.task.completion_ids)  # completion "answer 0" always best: learnable
        submit_ranking(task=assignment.task, labeler=user, ranking=ids)
    # prompt ids (hence split groups) differ from run to run: pick a split seed that puts prompts on both sides
    groups = [f"prompt-{task.prompt_id}" for task in tasks]
    seed = next(
        s for s in range(1, 1000) if {split_of(g, seed=s, test_fraction=0.25) for g in groups} == {"train", "test"}
    )
    version = create_dataset_version(project=project, kind="preference", test_fraction=0.25, split_seed=seed)
    build_dataset_version(version_id=version.pk, token=str(version.build_token))
    version.refresh_from_db()
    assert version.status == "ready" and version.train_rows and version.test_rows, version.error
    return version


@pytest.fixture
def sft_version(project):
    from demo.teacher import default_seed_files
    from exports.services import build_dataset_version, create_dataset_version
    from selfinstruct.services import import_seed_file

    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    # seed ids (hence prompt groups, hence the split) differ from run to run: 0.4 keeps ≥ 2 held-out rows
    version = create_dataset_version(project=project, kind="sft", filters={"languages": ["en"]}, test_fraction=0.4)
    build_dataset_version(version_id=version.pk, token=str(version.build_token))
    version.refresh_from_db()
    assert version.status == "ready" and version.train_rows and version.test_rows >= 2, version.error
    return version


@pytest.fixture
def reward_job(project, preference_version, tiny_base):
    """A succeeded reward job whose model is the tiny base with a (seeded) fresh one-output head."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.lifecycle import RunStatus
    from training.models import JobKind, TrainingJob
    from training.services import model_dir

    job = TrainingJob.objects.create(
        project=project,
        dataset_version=preference_version,
        kind=JobKind.REWARD,
        base_model=str(tiny_base),
        status=RunStatus.SUCCEEDED,
    )
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=1)
    model.save_pretrained(model_dir(job))
    AutoTokenizer.from_pretrained(tiny_base).save_pretrained(model_dir(job))
    return job
