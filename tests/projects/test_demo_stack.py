"""What `make run` does after installing: load the demo, start web + worker + teacher, stop them all on Ctrl-C."""

import json
import signal
import socket
import sys
import time
import urllib.request

import pytest

from annotation.models import RankingTask, SamplingRun
from projects.models import Membership
from selfinstruct.models import SeedTask
from tests.helpers.processes import REPO, free_port, manage, process_env, spawn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.long(12)
def test_load_demo_is_idempotent_and_prints_working_logins(settings):
    teacher_port = str(free_port())
    first = manage("load_demo", "--teacher-port", teacher_port, check=True)
    second = manage("load_demo", "--teacher-port", teacher_port, check=True)
    logins = [line for line in first.stdout.splitlines() if line.startswith("login")]
    assert len(logins) == 5 and logins == [line for line in second.stdout.splitlines() if line.startswith("login")]
    assert SeedTask.objects.filter(project__slug="demo", language="en").count() >= 30
    assert SeedTask.objects.filter(project__slug="demo", language="zh").count() >= 30
    assert set(Membership.objects.filter(project__slug="demo").values_list("role", flat=True)) == {
        "admin",
        "labeler",
        "reviewer",
        "consumer",
    }
    saved = json.loads((settings.DATA_DIR / "demo-logins.json").read_text())
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    request = RequestFactory().post("/accounts/login/")  # sign-in lock-outs (axes) need the request
    assert authenticate(request, username="labeler", password=saved["labeler"]["password"]) is not None
    lead = authenticate(request, username="lead", password=saved["lead"]["password"])
    assert lead is not None and not lead.is_staff  # the demo project's admin is not staff


@pytest.mark.long(90)
@pytest.mark.embedded_only  # `make run` on a bare laptop; the production start: tests/system/test_production_start.py
def test_runstack_serves_everything_and_stops_cleanly_on_ctrl_c():
    port, teacher_port = free_port(), free_port()
    manage("load_demo", "--teacher-port", str(teacher_port), check=True)
    cmd = [
        sys.executable,
        str(REPO / "manage.py"),
        "runstack",
        "--port",
        str(port),
        "--teacher-port",
        str(teacher_port),
        "--concurrency",
        "1",
    ]
    with spawn(cmd, ready="Ctrl-C stops everything", env=process_env(), timeout=90) as stack:
        banner = stack.output()
        assert f"http://127.0.0.1:{port}/admin/" in banner and "login       labeler /" in banner
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/") as resp:
            assert resp.status == 200 and b"csrfmiddlewaretoken" in resp.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{teacher_port}/v1/models") as resp:
            assert resp.status == 200
        check = manage("check_endpoint", "demo-teacher", "--wait", "--timeout", "60")
        assert check.returncode == 0, check.stderr  # the stack's own worker answered
        deadline = time.monotonic() + 120
        run = SamplingRun.objects.get(project__slug="demo")
        while run.status == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
            run.refresh_from_db()
        assert run.status == "succeeded", (run.status, run.error)  # the demo's ranking work is ready
        tasks = RankingTask.objects.filter(project__slug="demo").count()  # none where every answer is one text
        assert tasks + run.prompts_single_answer == run.prompts_total == 24 and tasks
        assert "/label/demo/" in banner and banner.index("/console/demo/") < banner.index("/label/demo/")
        _rank_and_train_a_reward_model(banner)  # the stack's gpu worker trains on the demo base model
        stack.proc.send_signal(signal.SIGINT)
        assert stack.proc.wait(timeout=30) == 0
        assert "all stopped" in stack.output()
    for p in (port, teacher_port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", p), timeout=1).close()


def _rank_and_train_a_reward_model(banner: str) -> None:
    from django.contrib.auth import get_user_model

    from annotation.claims import claim_next_ranking_task, submit_ranking
    from exports.services import create_dataset_version
    from projects.models import Project
    from training.models import TrainingJob
    from training.services import create_training_job, demo_base_model_path

    base = demo_base_model_path()
    assert f"base model  {base}" in banner and (base / "config.json").is_file()
    project = Project.objects.get(slug="demo")
    labeler = get_user_model().objects.get(username="labeler")
    while (assignment := claim_next_ranking_task(project=project, labeler=labeler)) is not None:
        submit_ranking(task=assignment.task, labeler=labeler, ranking=sorted(assignment.task.completion_ids))
    # prompt ids (hence the split) vary from run to run: 0.4 of 24 prompts never leaves the test split empty (0.2 did)
    version = create_dataset_version(project=project, kind="preference", test_fraction=0.4)
    deadline = time.monotonic() + 120
    while version.status == "building" and time.monotonic() < deadline:
        time.sleep(0.3)
        version.refresh_from_db()
    assert version.status == "ready", version.error
    job = create_training_job(
        project=project,
        dataset_version=version,
        kind="reward",
        base_model=str(base),
        hyperparameters={"max_steps": 5, "max_length": 512},
    )
    deadline = time.monotonic() + 180
    while job.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = TrainingJob.objects.get(pk=job.pk)
    assert job.status == "succeeded", job.error
    assert job.step == 5 and "accuracy" in job.results
