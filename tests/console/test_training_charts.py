"""A job's metrics as people read them: one chart per metric family (counters like num_tokens and total_flos never on
the loss's axis, the rest under "Other metrics"), numbers in significant figures (a learning rate of 2e-5 is never
0.0000), translated labels; and several jobs of a project compared on a metric on the page, the API and the CLI,
bounded (at most 10 jobs, all of the project) and scoped (no one reads another project's jobs)."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from training.metric_labels import metric_label

pytestmark = pytest.mark.django_db


def _dpo_metrics(step: int) -> dict:
    return {
        "loss": 0.7 - step / 100,
        "grad_norm": 3.0,
        "learning_rate": 2e-5,
        "num_tokens": 4096.0 * step,
        "epoch": step / 10,
        "rewards/chosen": 0.01 * step,
        "rewards/rejected": -0.01 * step,
        "rewards/accuracies": 0.5,
        "rewards/margins": 0.02 * step,
        "logps/chosen": -120.0,
    }


def _job(project, n_steps: int = 5, loss_offset: float = 0.0):
    from exports.models import DatasetVersion
    from training.models import TrainingJob, TrainingMetric

    version = DatasetVersion.objects.filter(project=project).first() or DatasetVersion.objects.create(
        project=project, kind="preference", number=1, status="ready"
    )
    job = TrainingJob.objects.create(
        project=project,
        dataset_version=version,
        kind="dpo",
        base_model="x",
        status="succeeded",
        results={"eval_loss": 0.41234567, "reward_accuracy": 0.8667, "train_pairs": 812},
    )
    rows = [TrainingMetric(job=job, step=s, values=_dpo_metrics(s)) for s in range(1, n_steps + 1)]
    rows.append(TrainingMetric(job=job, step=n_steps, values={"eval_loss": 0.5 + loss_offset, "total_flos": 3.7e11}))
    TrainingMetric.objects.bulk_create(rows)
    return job


def _json_block(html: str, block_id: str) -> dict:
    found = re.search(rf'<script id="{block_id}" type="application/json">(.*?)</script>', html, re.S)
    assert found, f"no {block_id} block"
    return json.loads(found.group(1))


def test_the_job_page_draws_a_chart_per_metric_family_and_shows_human_numbers(client, cast, project):
    job = _job(project)
    client.force_login(cast["project_admin"])
    page = client.get(f"/console/alpha/training/{job.pk}/").content.decode()
    data = _json_block(page, "series-data")
    charts = {chart["id"]: [line["key"] for line in chart["series"]] for chart in data["charts"]}
    assert charts == {
        "loss": ["loss", "eval_loss"],
        "learning_rate": ["learning_rate"],
        "grad_norm": ["grad_norm"],
        "reward_accuracy": ["rewards/accuracies"],
        "rewards": ["rewards/chosen", "rewards/rejected", "rewards/margins"],
    }
    other = [line["key"] for chart in data["other"] for line in chart["series"]]
    assert len(other) == len(data["other"]) and set(other) == {"epoch", "logps/chosen", "num_tokens", "total_flos"}
    assert data["charts"][0]["series"][1]["label"] == "Eval loss"
    assert 'data-part="other"' in page and "Other metrics" in page
    metrics = page[page.index('id="metrics"') :]
    assert "0.0000" not in page and "2e-05" in metrics and "3.700e+11" in metrics  # learning rate, FLOPs
    assert "Reward accuracy" in page and "0.4123" in page and "812" in page  # results: labels and 4 figures
    with translation.override("zh-hans"):
        assert metric_label("eval_loss") == "评估损失" and metric_label("logps/chosen") == "优选回答的对数概率"
    live = client.get(f"/console/alpha/training/{job.pk}/live").content.decode()
    assert _json_block(live, "series-data") == data  # the polled fragment carries the charts' data
    # what the trainer writes (train_rows, bf16 …) under translated names, booleans in words, no server path
    job.results.update(train_rows=62, test_rows=11, device="cpu", bf16=False)
    job.base_model = "/srv/platform/models/demo-tiny-llama"
    job.save(update_fields=["results", "base_model"])
    models = client.get("/console/alpha/models/").content.decode()
    assert "Training rows" in models and "train_rows" not in models and "False" not in models
    zh = client.get("/console/alpha/models/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "训练行数" in zh and "否" in zh and "bf16 False" not in zh
    page = client.get(f"/console/alpha/training/{job.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "/srv/platform" not in page and '<span id="base-model">demo-tiny-llama</span>' in page
    assert "<td>否</td>" in page and "False" not in page
    from console.forms import NewJobForm

    type(job.dataset_version).objects.filter(pk=job.dataset_version_id).update(row_count=1)
    none = type(job).objects.none()
    form = NewJobForm(versions=type(job.dataset_version).objects.all(), base_jobs=none, reward_jobs=none)
    with translation.override("en"):
        assert "preference v1 (1 row)</option>" in str(form["dataset"])  # a plural that agrees
        assert form["beta"].label_tag().count(":") == 1
    with translation.override("zh-hans"):
        assert "preference v1（1 行）" in str(form["dataset"]) and "：beta:" not in form["beta"].label_tag()
    client.force_login(cast["other_admin"])
    assert client.get(f"/console/alpha/training/{job.pk}/").status_code == 404


def test_jobs_are_compared_on_the_page(client, cast, project, other_project):
    first, second = _job(project), _job(project, loss_offset=0.1)
    foreign = _job(other_project)
    client.force_login(cast["project_admin"])
    listing = client.get("/console/alpha/training/").content.decode()
    assert f'name="jobs" value="{first.pk}"' in listing and 'id="compare-jobs"' in listing
    page = client.get(f"/console/alpha/training/compare?jobs={first.pk}&jobs={second.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    (chart,) = _json_block(html, "compare-data")["charts"]
    assert [line["label"] for line in chart["series"]] == [f"job-{first.pk} · dpo/full", f"job-{second.pk} · dpo/full"]
    assert 'value="grad_norm"' in html and 'value="loss" checked' in html  # the metric picker: what they share
    picked = client.get(f"/console/alpha/training/compare?jobs={first.pk},{second.pk}&metric=eval_loss").content
    assert [line["points"] for line in _json_block(picked.decode(), "compare-data")["charts"][0]["series"]] == [
        [[5, 0.5]],
        [[5, 0.6]],
    ]
    refused = client.get(f"/console/alpha/training/compare?jobs={first.pk},{foreign.pk}")
    assert refused.status_code == 400 and f"no training job {foreign.pk} in this project" in refused.content.decode()
    client.force_login(cast["other_admin"])
    assert client.get(f"/console/alpha/training/compare?jobs={first.pk}").status_code == 404


def test_the_comparison_api_is_bounded_and_scoped(api_as, project, other_project):
    first, second = _job(project), _job(project, loss_offset=0.1)
    foreign = _job(other_project)
    url = f"/api/v1/training/compare?project=alpha&jobs={first.pk},{second.pk}"
    body = api_as("consumer").get(url + "&metric=loss,eval_loss").json()
    assert [m["key"] for m in body["metrics"]] == ["loss", "eval_loss"]
    loss = body["metrics"][0]["runs"][0]
    assert loss["label"] == f"job-{first.pk} · dpo/full" and loss["last_step"] == 5 and len(loss["points"]) == 5
    assert loss["final"] == pytest.approx(0.65) and loss["min"] == pytest.approx(0.65)
    assert "num_tokens" in [m["key"] for m in body["shared_metrics"]]
    eleven = ",".join(str(_job(project, n_steps=1).pk) for _ in range(11))
    too_many = api_as("project_admin").get(f"/api/v1/training/compare?project=alpha&jobs={eleven}")
    assert too_many.status_code == 400 and too_many.json()["detail"].startswith("jobs: compare at most 10")
    mixed = api_as("consumer").get(f"/api/v1/training/compare?project=alpha&jobs={first.pk},{foreign.pk}")
    assert mixed.status_code == 400 and mixed.json()["detail"] == f"jobs: no training job {foreign.pk} in this project"
    unknown = api_as("consumer").get(url + "&metric=nope")
    assert unknown.status_code == 400 and unknown.json()["detail"].startswith("metric:")
    assert api_as("consumer").get("/api/v1/training/compare?project=alpha&jobs=x").status_code == 400
    assert api_as("labeler").get(url).status_code == 404  # labelers do not read training jobs
    assert api_as("other_labeler").get(url).status_code == 404
    assert api_as("other_consumer").get(url).status_code == 404


def test_the_cli_prints_final_and_lowest_values(project, other_project):
    first, second = _job(project), _job(project, loss_offset=0.1)
    out = StringIO()
    call_command("train", "--compare", str(first.pk), str(second.pk), "--metric", "eval_loss", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("eval_loss") and lines[1].split() == ["run", "final", "min", "steps"]
    assert lines[2].split() == ["job-" + str(first.pk), "·", "dpo/full", "0.5", "0.5", "5"]
    assert lines[3].split()[-3:] == ["0.6", "0.6", "5"]
    with pytest.raises(CommandError, match=r"--compare: no training job \d+ in this project"):
        call_command("train", "--compare", str(first.pk), str(_job(other_project).pk), stdout=StringIO())
