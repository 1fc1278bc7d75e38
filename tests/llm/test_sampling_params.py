"""Finding 5: sampling parameters are checked against an allow-list with types and ranges wherever a user supplies
them (sampling runs, generation batches, evaluations), refused with 400 naming the parameter; and a run whose
worker raises ends `failed` with the error, never silently `running`."""

from __future__ import annotations

import pytest

from annotation.models import SamplingRun
from core.lifecycle import RunStatus
from llm.params import ParamsError, validate_params
from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures

BAD = [
    ({"bogus_kw": 1}, "params.bogus_kw: not an allowed sampling parameter"),
    ({"stream": True}, "params.stream: not an allowed sampling parameter"),
    ({"temperature": 5}, "params.temperature: must be between 0.0 and 2.0"),
    ({"temperature": "hot"}, "params.temperature: a number"),
    ({"max_tokens": 10**30}, "params.max_tokens: must be between 1 and 32768"),
    ({"max_tokens": True}, "params.max_tokens: a whole number"),
    ({"stop": ["a"] * 5}, "params.stop: a string or a list of 1–4 strings"),
    ({"stop": ["x" * 101]}, "params.stop.0: a string of 1–100 characters"),
    ({"seed": -1}, "params.seed: must be between"),
]


@pytest.mark.parametrize(("params", "message"), BAD)
def test_the_allow_list_names_the_parameter(params, message):
    with pytest.raises(ParamsError, match=message.replace("(", r"\(")):
        validate_params(params)


def test_good_parameters_pass_normalized():
    assert validate_params({"temperature": 1, "max_tokens": 64.0, "stop": "###", "seed": 3}) == {
        "temperature": 1.0,
        "max_tokens": 64,
        "stop": "###",
        "seed": 3,
    }


def test_every_api_that_takes_parameters_refuses_bad_ones_with_400(api_as, endpoint, project, make_tasks):  # noqa: F811
    from demo.teacher import default_seed_files
    from selfinstruct.services import import_seed_file

    make_tasks(1)
    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    admin = api_as("project_admin")
    for params, message in BAD[:3]:
        sampling = admin.post(
            "/api/v1/sampling-runs/",
            {"project": "alpha", "sources": ["imported"], "endpoints": [{"name": "teach", "params": params}]},
            format="json",
        )
        assert sampling.status_code == 400 and sampling.json()["detail"].startswith("endpoints.0." + message)
        batch = admin.post(
            "/api/v1/generation-batches/",
            {"project": "alpha", "endpoint": "teach", "target": 3, "template": "alpaca", "params": params},
            format="json",
        )
        assert batch.status_code == 400 and batch.json()["detail"].startswith(message), batch.json()
    assert not SamplingRun.objects.exists()


def test_a_run_saved_with_a_parameter_the_client_rejects_ends_failed(project, endpoint, make_tasks):  # noqa: F811
    """The probe's run: params the openai client raises on (TypeError) — stored before the allow-list existed."""
    from annotation.sampling import run_sampling_chunk, start_sampling_run

    make_tasks(1)
    run = start_sampling_run(project=project, endpoints=[(endpoint, {})], per_prompt=2, sources=("imported",))
    SamplingRun.objects.filter(pk=run.pk).update(plan=[{**run.plan[0], "params": {"bogus_kw": 1}}])
    run_sampling_chunk(run_id=run.pk, number=0)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "bogus_kw" in run.error and run.finished_at is not None


def test_judge_evaluation_scoring_and_endpoint_checks_end_failed_when_their_work_raises(
    project,
    endpoint,
    make_tasks,  # noqa: F811
    monkeypatch,  # noqa: F811, RUF100
):
    import llm.judge
    from annotation.judging import run_judge, start_judge_run
    from annotation.models import JudgeRun
    from llm.models import EndpointCheck
    from llm.services import request_endpoint_check, run_endpoint_check
    from training.evaluations import run_evaluation, start_evaluation
    from training.models import EvaluationRun

    def boom(*args, **kwargs):
        raise RuntimeError("the judge exploded")

    monkeypatch.setattr(llm.judge, "judge_pair", boom)
    make_tasks(1)
    judge = start_judge_run(project=project, endpoint=endpoint)
    run_judge(run_id=judge.pk)
    judge.refresh_from_db()
    assert judge.status == "failed" and judge.error == "RuntimeError: the judge exploded"
    assert JudgeRun.objects.get(pk=judge.pk).finished_at is not None

    evaluation = start_evaluation(
        project=project,
        model_endpoint=endpoint,
        judge_endpoint=endpoint,
        items=[{"question": "q", "reference": "r"}],
        prompt_set="t",
    )
    run_evaluation(run_id=evaluation.pk)
    evaluation.refresh_from_db()
    assert evaluation.status == "failed" and "the judge exploded" in evaluation.error
    assert EvaluationRun.objects.get(pk=evaluation.pk).finished_at is not None

    import llm.client

    monkeypatch.setattr(llm.client, "call_llm", boom)
    check = request_endpoint_check(endpoint=endpoint)
    run_endpoint_check(check_id=check.pk)
    assert EndpointCheck.objects.get(pk=check.pk).status == "failed"
