"""Completions: import of the Self-Instruct prediction files (252 prompts x 4 models), bad files, and sampling K
completions per prompt from several endpoints through the real client."""

import json

import pytest

from annotation.files import AnnotationFileError
from annotation.models import Completion, Prompt, RankingTask, SamplingRun
from annotation.sampling import run_sampling_chunk, start_sampling_run
from annotation.services import import_completions
from core.lifecycle import RunStatus
from llm.models import LLMRequest
from llm.services import create_endpoint
from tests.helpers.processes import manage
from tests.testenv import SHARED_DATA

HUMAN_EVAL = SHARED_DATA / "self_instruct_human_eval"
MODELS = ["davinci-self-instruct", "davinci-t0-ft", "text-davinci-001", "text-davinci-003"]


@pytest.mark.shared_data
def test_the_self_instruct_prediction_files_become_a_task_per_prompt_with_distinct_answers(project):
    paths = [HUMAN_EVAL / f"{m}_predictions.jsonl" for m in MODELS]
    summary = import_completions(project=project, paths=paths)
    assert sorted(summary.models) == MODELS
    assert summary.prompts_created == 252 and summary.completions_created == 1008
    # answers identical up to whitespace are one item; 6 prompts got one answer from all four models: no task
    assert summary.tasks_created == 246 and summary.prompts_single_answer == 6 and summary.completions_merged == 57
    task = RankingTask.objects.filter(project=project).first()
    assert (
        task.k == 4
        and sorted(Completion.objects.filter(pk__in=task.completion_ids).values_list("model", flat=True)) == MODELS
    )
    again = import_completions(project=project, paths=paths)
    assert again.completions_created == 0 and again.completions_skipped == 1008 and again.tasks_created == 0


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"instruction": "a", "response": "b"}', "{not json"], "bad.jsonl:2: invalid JSON"),
        ([{"instruction": "a"}], "bad.jsonl:1: field 'response' is missing"),
        ([{"instruction": 3, "response": "x"}], "bad.jsonl:1: field 'instruction' must be a string"),
        ([{"response": "x"}], "bad.jsonl:1: field 'prompt' is missing"),
        ([{"prompt": "  ", "completion": "x"}], "bad.jsonl:1: field 'prompt' is empty"),
        ([{"prompt": "p", "completion": None}], "bad.jsonl:1: field 'completion' is missing"),
        (['{"prompt": "p", "completion": "c"}', "42"], "bad.jsonl:2: expected a JSON object, got int"),
        ([{"prompt": "p", "completion": "c", "model": ""}], "bad.jsonl:1: field 'model'"),
    ],
)
def test_bad_completion_files_name_file_line_and_field_and_import_nothing(project, tmp_path, lines, message):
    good = write(tmp_path, "good.jsonl", [{"prompt": "Say hi", "completion": "hi"}])
    bad = write(tmp_path, "bad.jsonl", lines)
    with pytest.raises(AnnotationFileError, match=message.replace("(", r"\(")):
        import_completions(project=project, paths=[good, bad])
    assert not Prompt.objects.exists() and not Completion.objects.exists()


def test_empty_and_non_utf8_files_are_refused(project, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"prompt": "caf\xe9", "completion": "x"}'.encode("latin-1"))
    with pytest.raises(AnnotationFileError, match="empty"):
        import_completions(project=project, paths=[empty])
    with pytest.raises(AnnotationFileError, match="not UTF-8"):
        import_completions(project=project, paths=[latin])


def test_import_completions_command(project, tmp_path, transactional_db):
    a = write(tmp_path, "model-a_predictions.jsonl", [{"prompt": f"p{i}", "completion": f"a{i}"} for i in range(3)])
    b = write(tmp_path, "model-b_predictions.jsonl", [{"prompt": f"p{i}", "completion": f"b{i}"} for i in range(3)])
    bad = write(tmp_path, "broken.jsonl", ['{"prompt": "p0"}'])
    result = manage("import_completions", "--project", "alpha", str(a), str(b), str(bad))
    assert result.returncode != 0 and "broken.jsonl:1: field 'response' is missing" in result.stderr
    assert "nothing was imported" in result.stderr and not Completion.objects.exists()
    result = manage("import_completions", "--project", "alpha", str(a), str(b))
    assert result.returncode == 0, result.stderr
    assert "model-a, model-b" in result.stdout and "ranking tasks created: 3" in result.stdout
    assert RankingTask.objects.count() == 3


def test_sampling_k_completions_from_two_endpoints(project, endpoint, teacher, tmp_path):
    from annotation.services import import_prompt_list

    lines = [{"instruction": f"Give a short tip about topic {i}."} for i in range(10)] + [
        {"prompt": "用一句话介绍长城。"}
    ]
    import_prompt_list(project=project, path=write(tmp_path, "prompts.jsonl", lines))
    second = create_endpoint(name="teach-b", base_url=teacher.url, model="demo-teacher-b", max_retries=2)
    run = start_sampling_run(
        project=project,
        endpoints=[(endpoint, {"temperature": 0.2}), (second, {"temperature": 1.1, "top_p": 0.8})],
        per_prompt=4,
        sources=("imported",),
    )
    assert run.prompts_total == 11 and run.chunks_total == 2
    for number in range(run.chunks_total):
        run_sampling_chunk(run_id=run.pk, number=number)
        run_sampling_chunk(run_id=run.pk, number=number)  # a redelivered message changes nothing
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.prompts_done == 11 and run.completions_created == 44
    assert Completion.objects.count() == 44 and RankingTask.objects.count() == 11
    for completion in Completion.objects.all():
        slot = int(completion.origin_key.rsplit(":", 1)[1])
        expected = endpoint if slot % 2 == 0 else second
        assert completion.endpoint_id == expected.pk
        assert completion.params["temperature"] == (0.2 if slot % 2 == 0 else 1.1)
        assert completion.completion_tokens > 0 and completion.llm_request_id
    assert LLMRequest.objects.filter(purpose="completion", ok=True).count() == 44


def test_sampling_survives_faults_and_counts_failed_prompts(project, endpoint, teacher, tmp_path):
    from annotation.services import import_prompt_list

    import_prompt_list(project=project, path=write(tmp_path, "p.jsonl", [{"prompt": f"q{i}"} for i in range(3)]))
    teacher.faults(queue=["429", "500", "malformed"], retry_after=0)  # retried by the client
    run = start_sampling_run(project=project, endpoints=[(endpoint, {})], per_prompt=2, sources=("imported",))
    run_sampling_chunk(run_id=run.pk, number=0)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.prompts_done == 3 and Completion.objects.count() == 6
    assert LLMRequest.objects.filter(purpose="completion", ok=False).count() == 3

    teacher.faults(rates={"500": 1.0})  # the endpoint is down: prompts fail, nothing half-made
    endpoint.max_retries = 0
    endpoint.save()
    run = start_sampling_run(project=project, endpoints=[(endpoint, {})], per_prompt=3, sources=("imported",))
    run_sampling_chunk(run_id=run.pk, number=0)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.prompts_failed == 3 and "3 prompt(s)" in run.error
    assert RankingTask.objects.filter(origin=f"run:{run.pk}").count() == 0


def test_sampling_needs_prompts_and_sane_k(project, endpoint):
    from annotation.services import AnnotationError

    with pytest.raises(AnnotationError, match="no prompts"):
        start_sampling_run(project=project, endpoints=[(endpoint, {})], sources=("generated",))
    with pytest.raises(AnnotationError, match="between 2 and 9"):
        start_sampling_run(project=project, endpoints=[(endpoint, {})], per_prompt=12)
    assert not SamplingRun.objects.exists()
