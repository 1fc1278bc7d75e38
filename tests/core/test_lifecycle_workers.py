"""The lifecycle with real worker processes: a worker SIGKILLed while a judge run, an evaluation and a sampling run
are all mid-flight; a fresh worker's reconciler finds the three silent runs and each finishes through its own
resume path, with nothing done twice."""

import time

import pytest

from annotation.models import Completion, JudgeRanking, JudgeRun, Prompt, SamplingRun
from annotation.services import prompt_text_key
from llm.models import LLMRequest
from llm.services import create_endpoint
from tests.helpers.processes import celery_worker, process_env
from training.models import EvaluationRun

pytestmark = pytest.mark.django_db(transaction=True)


def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout}s")


@pytest.mark.long(40)
def test_a_worker_killed_mid_run_leaves_three_runs_that_a_fresh_worker_finishes(project, teacher, make_tasks):
    from annotation.judging import start_judge_run
    from annotation.sampling import start_sampling_run
    from training.evaluations import start_evaluation

    endpoint = create_endpoint(
        name="teach", base_url=teacher.url, model="demo-teacher", max_concurrency=6, request_timeout_s=5
    )
    make_tasks(3, k=3)
    for i in range(6):
        text = f"Give one tip about cooking dish number {i}."
        Prompt.objects.create(project=project, source="imported", instruction=text, text_key=prompt_text_key(text, ""))
    teacher.faults(latency_ms=300)
    env = process_env(RUN_STALE_SECONDS="3", RUN_HEARTBEAT_SECONDS="1", GENERATION_RECONCILE_SECONDS="1")
    with celery_worker(concurrency=3, env=env) as first:
        judge = start_judge_run(project=project, endpoint=endpoint)
        evaluation = start_evaluation(
            project=project,
            model_endpoint=endpoint,
            judge_endpoint=endpoint,
            prompt_set="api",
            items=[{"question": f"Name colour {i}.", "reference": "Blue."} for i in range(4)],
        )
        sampling = start_sampling_run(project=project, endpoints=[(endpoint, {})], per_prompt=2, sources=("imported",))
        _until(
            lambda: (
                LLMRequest.objects.filter(purpose="completion").exists()
                and JudgeRun.objects.get(pk=judge.pk).status == "running"
                and EvaluationRun.objects.get(pk=evaluation.pk).status == "running"
            ),
            60,
            "all three running",
        )
        first.kill()  # SIGKILL: no failure can be recorded, heartbeats just stop
    assert JudgeRun.objects.get(pk=judge.pk).status == "running"
    assert EvaluationRun.objects.get(pk=evaluation.pk).status == "running"
    assert SamplingRun.objects.get(pk=sampling.pk).status == "running"
    with celery_worker(concurrency=3, env=env) as second:  # its queue was purged: only the reconciler can help
        _until(
            lambda: (
                {
                    JudgeRun.objects.get(pk=judge.pk).status,
                    EvaluationRun.objects.get(pk=evaluation.pk).status,
                    SamplingRun.objects.get(pk=sampling.pk).status,
                }
                == {"succeeded"}
            ),
            120,
            f"all three succeeded\n{second.output()[-3000:]}",
        )
        log = second.output()
    assert "stalled runs restarted or failed" in log
    judge.refresh_from_db()
    assert (judge.tasks_done, JudgeRanking.objects.filter(run=judge).count()) == (3, 3)
    assert EvaluationRun.objects.get(pk=evaluation.pk).items_done == 4
    sampling.refresh_from_db()
    assert sampling.prompts_total == 9  # the six prompts here and the three behind the ranking tasks
    assert sampling.prompts_done == 9 and Completion.objects.filter(sampling_run=sampling).count() == 2 * 9
