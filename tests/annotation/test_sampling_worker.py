"""`manage.py sample_completions --wait` with a real worker process on this pass's broker and database; a killed
worker's chunks are redone by `resume` without duplicating a completion."""

import json

import pytest

from annotation.models import Completion, RankingTask, SamplingRun
from llm.services import create_endpoint
from tests.helpers.processes import celery_worker, manage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.long(35)
def test_sample_completions_command_with_a_real_worker(project, teacher, tmp_path):
    create_endpoint(name="teach", base_url=teacher.url, model="demo-teacher", request_timeout_s=5)
    create_endpoint(name="teach-hot", base_url=teacher.url, model="demo-teacher-hot", request_timeout_s=5)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "\n".join(json.dumps({"prompt": f"Give one tip about cooking dish number {i}."}) for i in range(12))
    )
    assert manage("import_prompts", "--project", "alpha", str(prompts)).returncode == 0
    teacher.faults(queue=["429", "500"], retry_after=0.1)
    with celery_worker(concurrency=2):
        result = manage(
            "sample_completions",
            "--project",
            "alpha",
            "--endpoint",
            "teach",
            "--endpoint",
            'teach-hot:{"temperature": 1.2}',
            "--per-prompt",
            "3",
            "--source",
            "imported",
            "--limit",
            "10",
            "--wait",
            "--timeout",
            "120",
        )
    assert result.returncode == 0, result.stderr
    assert "succeeded: 10 prompt(s) done, 0 failed, 30 completion(s)" in result.stdout
    run = SamplingRun.objects.get()
    tasks = RankingTask.objects.count()  # none for a prompt whose answers are all one text (issue 35)
    assert Completion.objects.filter(sampling_run=run).count() == 30 and tasks + run.prompts_single_answer == 10
    assert sorted({c.params["temperature"] for c in Completion.objects.all()}) == [0.9, 1.2]
    bad = manage("sample_completions", "--project", "alpha", "--endpoint", "nope", "--per-prompt", "3")
    assert bad.returncode != 0 and "no endpoint named 'nope'" in bad.stderr
