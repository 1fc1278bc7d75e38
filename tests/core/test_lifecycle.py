"""The one run lifecycle: every kind registered with a queue and a stall policy; legal moves only; a worker that
dies mid-run (claimed, then silent) is recovered by the reconciler through the kind's real resume path, or the
run ends failed with the reason; work that raises ends the run failed with the message; duplicates are no-ops."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from core import lifecycle
from core.lifecycle import RunStatus

KINDS = {
    "generation",
    "sampling",
    "judge",
    "dataset-build",
    "training",
    "scoring",
    "difficulty",
    "serving",
    "rating",
    "evaluation",
    "endpoint-check",
}
LLM_ONLY = {"generation", "sampling", "judge", "evaluation", "endpoint-check", "dataset-build", "rating"}


def test_every_kind_is_registered_with_a_queue_and_a_stall_policy():
    kinds = {k.name: k for k in lifecycle.kinds()}
    assert set(kinds) == KINDS
    assert all(kinds[name].queue == settings.CELERY_TASK_DEFAULT_QUEUE for name in LLM_ONLY)
    assert {k.name for k in kinds.values() if k.queue == settings.TRAINING_QUEUE} == {
        "training",
        "scoring",
        "difficulty",
        "serving",
    }
    routes = settings.CELERY_TASK_ROUTES
    assert routes["training.tasks.evaluation_task"]["queue"] == settings.CELERY_TASK_DEFAULT_QUEUE
    assert all("*" not in name for name in routes)  # every task named, none by wildcard
    with pytest.raises(ValueError):
        lifecycle.register(
            lifecycle.RunKind(
                name="x",
                model="llm.EndpointCheck",
                statuses=("running",),
                send=print,
                queue="default",
                on_stall="forget",
                stale_seconds=lambda: 1,
            )
        )


def _sent(monkeypatch, task):
    sent = []
    monkeypatch.setattr(task, "apply_async", lambda args, **options: sent.append((tuple(args), options["queue"])))
    return sent


def _silence(model, pk, field="heartbeat_at", seconds=3600):
    model.objects.filter(pk=pk).update(**{field: timezone.now() - timedelta(seconds=seconds)})


def test_moves_are_legal_conditional_and_token_bound(db, endpoint):
    from llm.models import EndpointCheck
    from llm.services import request_endpoint_check

    kind = lifecycle.kind("endpoint-check")
    check = request_endpoint_check(endpoint=endpoint)
    with pytest.raises(lifecycle.IllegalMove):
        lifecycle.move(kind, check.pk, RunStatus.PAUSED)  # a check never pauses
    token = lifecycle.claim(kind, check.pk)
    assert token and lifecycle.claim(kind, check.pk) is None  # a duplicate message finds it claimed
    assert not lifecycle.finish(kind, check.pk, RunStatus.SUCCEEDED, token="00000000-0000-0000-0000-000000000000")
    assert lifecycle.finish(kind, check.pk, RunStatus.FAILED, token=token, error="x" * 9000)
    check = EndpointCheck.objects.get(pk=check.pk)
    assert check.status == "failed" and len(check.error) == lifecycle.ERROR_LIMIT and check.finished_at
    assert not lifecycle.move(kind, check.pk, RunStatus.SUCCEEDED)  # only a running check may succeed


def test_a_sampling_run_whose_worker_died_gets_its_unfinished_chunks_sent_again(
    project, endpoint, teacher, monkeypatch
):
    from annotation.models import Prompt, SamplingRun
    from annotation.sampling import run_sampling_chunk, start_sampling_run
    from annotation.services import prompt_text_key
    from annotation.tasks import sampling_chunk_task

    for i in range(10):  # two chunks of 8 and 2
        text = f"Explain item {i}."
        Prompt.objects.create(project=project, source="imported", instruction=text, text_key=prompt_text_key(text, ""))
    run = start_sampling_run(project=project, endpoints=[(endpoint, {})], per_prompt=2, sources=("imported",))
    sent = _sent(monkeypatch, sampling_chunk_task)
    run_sampling_chunk(run_id=run.pk, number=0)  # the worker did chunk 0, then died holding chunk 1
    _silence(SamplingRun, run.pk)
    assert lifecycle.reconcile()["sampling"] == 1 and sent == [((run.pk, 1), "default")]
    assert lifecycle.reconcile()["sampling"] == 0  # beating again: left alone
    run_sampling_chunk(run_id=run.pk, number=1)
    run.refresh_from_db()
    assert (run.status, run.prompts_done, run.completions_created) == ("succeeded", 10, 20)
    progress = lifecycle.progress(run)
    assert (progress.done, progress.total, progress.eta_seconds) == (10, 10, None) and progress.rate > 0


def test_a_judge_run_whose_worker_died_is_claimed_again_and_the_dead_worker_cannot_finish_it(
    project, endpoint, teacher, make_tasks, monkeypatch
):
    from annotation.judging import run_judge, start_judge_run
    from annotation.models import JudgeRun
    from annotation.tasks import judge_run_task

    make_tasks(2, k=2)
    run = start_judge_run(project=project, endpoint=endpoint)
    kind = lifecycle.kind("judge")
    dead = lifecycle.claim(kind, run.pk)  # a worker took it and was SIGKILLed
    _silence(JudgeRun, run.pk)
    sent = _sent(monkeypatch, judge_run_task)
    assert lifecycle.reconcile()["judge"] == 1 and sent == [((run.pk,), "default")]
    assert JudgeRun.objects.get(pk=run.pk).status == "queued"
    run_judge(run_id=run.pk)  # the real resume path: the message the reconciler sent
    assert not lifecycle.finish(kind, run.pk, RunStatus.FAILED, token=dead)  # the old holder's word counts no more
    run.refresh_from_db()
    assert (run.status, run.tasks_done) == ("succeeded", 2)


def test_an_evaluation_whose_worker_died_resumes_and_keeps_what_was_judged(project, endpoint, teacher, monkeypatch):
    from training.evaluations import run_evaluation, start_evaluation
    from training.models import EvaluationRun
    from training.tasks import evaluation_task

    items = [{"question": f"Name a colour ({i}).", "reference": "Blue.", "category": "qa"} for i in range(3)]
    run = start_evaluation(
        project=project, model_endpoint=endpoint, judge_endpoint=endpoint, items=items, prompt_set="api"
    )
    lifecycle.claim(lifecycle.kind("evaluation"), run.pk)
    _silence(EvaluationRun, run.pk)
    sent = _sent(monkeypatch, evaluation_task)
    assert lifecycle.reconcile()["evaluation"] == 1 and sent == [((run.pk,), "default")]
    run_evaluation(run_id=run.pk)
    run.refresh_from_db()
    assert (run.status, run.items_done) == ("succeeded", 3)


def test_an_endpoint_check_whose_worker_died_ends_failed_and_a_lost_message_is_sent_again(endpoint, monkeypatch):
    from llm.models import EndpointCheck
    from llm.services import request_endpoint_check, run_endpoint_check
    from llm.tasks import run_endpoint_check_task

    stuck, lost = request_endpoint_check(endpoint=endpoint), request_endpoint_check(endpoint=endpoint)
    lifecycle.claim(lifecycle.kind("endpoint-check"), stuck.pk)
    _silence(EndpointCheck, stuck.pk)
    _silence(EndpointCheck, lost.pk, seconds=settings.RUN_REQUEUE_SECONDS + 60)
    sent = _sent(monkeypatch, run_endpoint_check_task)
    assert lifecycle.reconcile()["endpoint-check"] == 2 and sent == [((lost.pk,), "default")]
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "stopped reporting" in stuck.error and stuck.finished_at
    run_endpoint_check(check_id=lost.pk)
    assert EndpointCheck.objects.get(pk=lost.pk).status == "succeeded"


def test_a_training_job_whose_supervisor_died_ends_failed_and_a_lost_message_is_sent_again(
    project, sft_version, tiny_base, monkeypatch
):
    from training.models import TrainingJob
    from training.services import create_training_job
    from training.tasks import run_training_job_task

    dead, waiting = (
        create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model="tiny-base")
        for _ in range(2)
    )
    lifecycle.claim(lifecycle.kind("training"), dead.pk)
    _silence(TrainingJob, dead.pk)
    _silence(TrainingJob, waiting.pk, field="enqueued_at", seconds=settings.TRAINING_REQUEUE_SECONDS + 60)
    sent = _sent(monkeypatch, run_training_job_task)
    assert lifecycle.reconcile()["training"] == 2 and sent == [((waiting.pk,), settings.TRAINING_QUEUE)]
    dead.refresh_from_db()
    assert dead.status == "failed" and "stopped reporting" in dead.error


def test_a_scoring_run_whose_worker_died_goes_back_to_the_gpu_queue(project, monkeypatch):
    from training.models import ScoringRun, TrainingJob
    from training.tasks import score_completions_task

    job = TrainingJob.objects.create(
        project=project,
        dataset_version=_ready_version(project),
        kind="reward",
        base_model="tiny-base",
        status="succeeded",
    )
    run = ScoringRun.objects.create(job=job, heartbeat_at=timezone.now())
    dead = lifecycle.claim(lifecycle.kind("scoring"), run.pk)
    _silence(ScoringRun, run.pk)
    sent = _sent(monkeypatch, score_completions_task)
    assert lifecycle.reconcile()["scoring"] == 1 and sent == [((run.pk,), settings.TRAINING_QUEUE)]
    assert ScoringRun.objects.get(pk=run.pk).status == "queued"
    assert lifecycle.claim(lifecycle.kind("scoring"), run.pk) not in (None, dead)


def test_a_difficulty_run_whose_worker_died_goes_back_to_the_gpu_queue_and_one_that_raises_fails(project, monkeypatch):
    from training.difficulty import run_difficulty_scoring
    from training.models import DifficultyRun
    from training.tasks import difficulty_task

    run = DifficultyRun.objects.create(project=project, base_model="/nowhere", scorer="x", heartbeat_at=timezone.now())
    dead = lifecycle.claim(lifecycle.kind("difficulty"), run.pk)
    _silence(DifficultyRun, run.pk)
    sent = _sent(monkeypatch, difficulty_task)
    assert lifecycle.reconcile()["difficulty"] == 1 and sent == [((run.pk,), settings.TRAINING_QUEUE)]
    assert DifficultyRun.objects.get(pk=run.pk).status == "queued"
    assert lifecycle.claim(lifecycle.kind("difficulty"), run.pk) not in (None, dead)
    other = DifficultyRun.objects.create(project=project, base_model="/nowhere", scorer="y")

    def broken(folder, **kwargs):
        raise RuntimeError("the scorer broke")

    monkeypatch.setattr("training.difficulty._model_dir", lambda run: "/nowhere")
    run_difficulty_scoring(run_id=other.pk, scorer_factory=broken)
    other.refresh_from_db()
    assert other.status == "failed" and "RuntimeError: the scorer broke" in other.error and other.finished_at


def _ready_version(project):
    from exports.models import DatasetVersion

    return DatasetVersion.objects.create(project=project, kind="preference", number=1, status="ready")


def test_a_dataset_build_whose_worker_died_is_rebuilt_under_a_new_token(project, monkeypatch):
    from exports.models import DatasetVersion
    from exports.services import build_dataset_version, create_dataset_version
    from exports.tasks import build_dataset_version_task

    version = create_dataset_version(project=project, kind="sft")
    old = str(version.build_token)
    _silence(DatasetVersion, version.pk)
    sent = _sent(monkeypatch, build_dataset_version_task)
    assert lifecycle.reconcile()["dataset-build"] == 1
    (((pk, token), queue),) = sent
    assert pk == version.pk and token != old and queue == "default"
    build_dataset_version(version_id=pk, token=old)  # the dead build's copy does nothing
    assert DatasetVersion.objects.get(pk=pk).status == "building"
    build_dataset_version(version_id=pk, token=token)
    version.refresh_from_db()
    assert version.status == "ready" and lifecycle.status(lifecycle.kind("dataset-build"), pk) == "succeeded"


def test_a_generation_batch_whose_lanes_went_silent_gets_them_restarted(project, endpoint, monkeypatch):
    from demo.teacher import default_seed_files
    from selfinstruct.batches import start_batch
    from selfinstruct.models import GenerationLane
    from selfinstruct.services import import_seed_file
    from selfinstruct.tasks import generation_step_task

    import_seed_file(project=project, path=default_seed_files()[0])
    batch = start_batch(project=project, endpoint=endpoint, template_name="self-instruct", target=40)
    assert batch.lanes >= 2
    GenerationLane.objects.filter(batch=batch).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    sent = _sent(monkeypatch, generation_step_task)
    with_commit = []
    monkeypatch.setattr("django.db.transaction.on_commit", lambda fn, **kw: with_commit.append(fn))
    assert lifecycle.reconcile()["generation"] == batch.lanes
    for fn in with_commit:
        fn()
    assert len(sent) == batch.lanes and {queue for _, queue in sent} == {"default"}


@pytest.mark.parametrize("which", ["sampling", "judge", "evaluation", "endpoint-check", "generation"])
def test_work_that_raises_ends_the_run_failed_with_the_message(which, project, endpoint, make_tasks, monkeypatch):
    """Whatever a run's work raises (here: the LLM client itself breaks), the run ends failed with the message."""
    from annotation.models import Prompt
    from annotation.services import prompt_text_key

    def broken(*args, **kwargs):
        raise RuntimeError("the client broke")

    for target in (
        "annotation.sampling.call_llm",
        "llm.client.call_llm",
        "selfinstruct.engine.call_llm",
        "llm.judge.judge_pair",
    ):
        monkeypatch.setattr(target, broken)
    if which == "sampling":
        from annotation.sampling import run_sampling_chunk, start_sampling_run

        Prompt.objects.create(
            project=project, source="imported", instruction="Hi.", text_key=prompt_text_key("Hi.", "")
        )
        run = start_sampling_run(project=project, endpoints=[(endpoint, {})], per_prompt=2, sources=("imported",))
        run_sampling_chunk(run_id=run.pk, number=0)
    elif which == "judge":
        from annotation.judging import run_judge, start_judge_run

        make_tasks(1, k=2)
        run = start_judge_run(project=project, endpoint=endpoint)
        run_judge(run_id=run.pk)
    elif which == "evaluation":
        from training.evaluations import run_evaluation, start_evaluation

        run = start_evaluation(
            project=project,
            model_endpoint=endpoint,
            judge_endpoint=endpoint,
            prompt_set="api",
            items=[{"question": "Q?", "reference": "A."}],
        )
        run_evaluation(run_id=run.pk)
    elif which == "endpoint-check":
        from llm.services import request_endpoint_check, run_endpoint_check

        run = request_endpoint_check(endpoint=endpoint)
        run_endpoint_check(check_id=run.pk)
    else:
        from demo.teacher import default_seed_files
        from selfinstruct.batches import start_batch
        from selfinstruct.engine import run_generation_step
        from selfinstruct.services import import_seed_file

        import_seed_file(project=project, path=default_seed_files()[0])
        run = start_batch(project=project, endpoint=endpoint, template_name="self-instruct", target=5)
        lane = run.lane_rows.get()
        run_generation_step(batch_id=run.pk, lane_number=0, token=str(lane.token), step=0)
    run.refresh_from_db()
    assert run.status == "failed" and "RuntimeError: the client broke" in run.error and run.finished_at


def test_a_lost_database_or_broker_leaves_the_run_to_the_reconciler(endpoint, monkeypatch):
    """Nothing is wrong with the run when PostgreSQL or Redis went away: it is not failed; the error propagates
    and the reconciler restarts it from its heartbeat once they are back."""
    from django.db import OperationalError
    from kombu.exceptions import OperationalError as BrokerError

    from llm.models import EndpointCheck
    from llm.services import request_endpoint_check, run_endpoint_check

    for error in (OperationalError("server closed the connection unexpectedly"), BrokerError("Redis is gone")):
        check = request_endpoint_check(endpoint=endpoint)

        def lost(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr("llm.client.call_llm", lost)
        with pytest.raises(type(error)):
            run_endpoint_check(check_id=check.pk)
        check = EndpointCheck.objects.get(pk=check.pk)
        assert check.status == "running" and check.error == ""
