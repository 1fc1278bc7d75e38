"""Sampling and ranking settings from the console: a sampling run started from endpoint rows with their own
parameters (no JSON), its live page and the tasks it made; the ranking settings page says what an overlap change
does to open tasks and applies it when asked (complete tasks stay complete)."""

from annotation import consensus
from annotation.claims import claim_next_ranking_task, submit_ranking
from annotation.models import Consensus, RankingTask, SamplingRun
from annotation.sampling import run_sampling_chunk
from annotation.services import get_ranking_config
from console.ranking_views import SETTINGS_FIELDS
from selfinstruct.services import import_seed_file
from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures


def test_a_sampling_run_starts_from_fields_and_shows_its_tasks(client, cast, project, endpoint, tmp_path):
    seeds = tmp_path / "s.jsonl"
    seeds.write_text("".join(f'{{"instruction": "Give a short tip about topic {i}."}}\n' for i in range(3)))
    import_seed_file(project=project, path=seeds)
    client.force_login(cast["project_admin"])
    form = client.get("/console/alpha/sampling/").content.decode()
    assert f'value="{endpoint.name}" selected' in form and 'name="temperature_0" value="0.9"' in form
    bad = client.post("/console/alpha/sampling/", {"endpoint_0": endpoint.name, "temperature_0": 5, "sources": "seed"})
    assert bad.status_code == 400 and "less than or equal to 2" in bad.content.decode()
    empty = client.post("/console/alpha/sampling/", {"endpoint_0": endpoint.name, "sources": "imported"})
    assert empty.status_code == 400 and "has no prompts" in empty.content.decode()
    made = client.post(
        "/console/alpha/sampling/",
        {"endpoint_0": endpoint.name, "temperature_0": 0.3, "max_tokens_0": 64, "per_prompt": 2, "sources": "seed"},
    )
    run = SamplingRun.objects.get()
    assert made.status_code == 302 and made["Location"] == f"/console/alpha/sampling/{run.pk}/"
    assert (
        run.per_prompt == 2 and run.plan[0]["params"]["temperature"] == 0.3 and run.plan[0]["params"]["top_p"] == 0.95
    )
    page = client.get(made["Location"]).content.decode()
    assert 'hx-trigger="every 2s"' in page and 'id="cancel"' in page
    for number in range(run.chunks_total):
        run_sampling_chunk(run_id=run.pk, number=number)  # as a worker would
    live = client.get(f"/console/alpha/sampling/{run.pk}/live").content.decode()
    run.refresh_from_db()  # a prompt whose two answers are one text has nothing to rank: no task (issue 35)
    assert 'data-status="succeeded"' in live and "hx-trigger" not in live
    assert live.count("data-task=") + run.prompts_single_answer == 3 and live.count("data-task=") >= 1
    assert 'href="/console/alpha/sampling/"' in client.get("/console/alpha/").content.decode()  # linked
    client.force_login(cast["other_admin"])
    assert client.get(f"/console/beta/sampling/{run.pk}/").status_code == 404


def test_changing_the_overlap_says_what_happens_to_open_tasks_and_applies_it(client, cast, project, make_tasks):  # noqa: F811
    tasks = make_tasks(4)  # overlap 1
    RankingTask.objects.filter(pk=tasks[0].pk).update(rankings_count=1, fill=1, is_complete=True)
    RankingTask.objects.filter(pk=tasks[1].pk).update(rankings_count=1, fill=1, required=3)  # open, holds 1
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/ranking/settings").content.decode()
    assert 'data-open-other="1"' in page  # task 1 asks for 3 while the project says 1
    fields = {
        "completions_per_prompt": 4,
        "overlap": 2,
        "lease_minutes": 30,
        "gold_rate": 0,
        "undo_seconds": 60,
        "task_order": "sequential",
        "rationale": "off",
        "review_policy": "none",
        "review_sample_rate": 0.1,
        "review_agreement_below": 0.5,
        "consensus_method": "ranked_pairs",
    }
    bad = client.post("/console/alpha/ranking/settings", {**fields, "lease_minutes": 10**9})
    assert bad.status_code == 400 and get_ranking_config(project=project).overlap == 1
    saved = client.post("/console/alpha/ranking/settings", fields, follow=True).content.decode()
    assert "Ranking settings saved." in saved and 'data-open-other="3"' in saved  # tasks 1-3 differ from 2 now
    assert RankingTask.objects.get(pk=tasks[2].pk).required == 1  # nothing applied until asked
    client.post("/console/alpha/ranking/settings", {**fields, "overlap": 1, "apply_to_open": "on"})
    required = dict(RankingTask.objects.values_list("pk", "required"))
    assert required == {t.pk: 1 for t in tasks}
    done = RankingTask.objects.get(pk=tasks[1].pk)
    assert done.is_complete  # it held 1 ranking, and 1 is now enough
    client.post("/console/alpha/ranking/settings", {**fields, "overlap": 2})
    applied = client.post("/console/alpha/ranking/apply-overlap", follow=True).content.decode()
    assert "2 open tasks now need 2 rankings; 0 completed." in applied
    assert RankingTask.objects.get(pk=tasks[0].pk).required == 1  # complete tasks stay as they were


def test_changing_the_consensus_method_computes_the_consensus_again(
    client,
    cast,
    project,
    make_tasks,  # noqa: F811
    labelers,  # noqa: F811
    monkeypatch,
):
    (task,) = make_tasks(1)
    (user,) = labelers(1)
    claim_next_ranking_task(project=project, labeler=user)
    submit_ranking(task=task, labeler=user, ranking=task.completion_ids)
    assert Consensus.objects.get(task=task).method == "ranked_pairs"
    client.force_login(cast["project_admin"])
    url = "/console/alpha/ranking/settings"
    assert 'name="consensus_method"' in client.get(url).content.decode()
    config = get_ranking_config(project=project)
    fields = {name: getattr(config, name) for name in SETTINGS_FIELDS if getattr(config, name) is not False}
    fields["aspects"] = ""
    assert client.post(url, {**fields, "consensus_method": "nope"}).status_code == 400
    saved = client.post(url, {**fields, "consensus_method": "weighted_bt"}, follow=True).content.decode()
    assert "Consensus computed again with the new method for 1 tasks." in saved
    assert Consensus.objects.get(task=task).method == "weighted_bt"
    monkeypatch.setattr(consensus, "INLINE_REFRESH_MAX_TASKS", 0)  # a big project: the admin runs the command
    told = client.post(url, {**fields, "consensus_method": "ranked_pairs"}, follow=True).content.decode()
    assert "manage.py agreement --project alpha --refresh-consensus" in told
    assert Consensus.objects.get(task=task).method == "weighted_bt"  # left as it was until then


def test_completions_written_elsewhere_are_imported_as_tasks(client, cast, project):
    import io

    def upload(name, lines):
        handle = io.BytesIO("".join(lines).encode())
        handle.name = name
        return handle

    rows = [f'{{"instruction": "Q{i}", "response": "answer {i} by %s"}}\n' for i in range(3)]
    client.force_login(cast["project_admin"])
    bad = client.post(
        "/console/alpha/completions/import", {"files": [upload("m1.jsonl", ["{oops\n"])]}, follow=True
    ).content.decode()
    assert "Nothing was imported" in bad and not RankingTask.objects.exists()
    files = [upload("m1.jsonl", [r % "m1" for r in rows]), upload("m2.jsonl", [r % "m2" for r in rows])]
    done = client.post("/console/alpha/completions/import", {"files": files}, follow=True).content.decode()
    assert "Imported 6 completions from m1, m2; 3 ranking tasks made" in done
    assert RankingTask.objects.filter(project=project).count() == 3
