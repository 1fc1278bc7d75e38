"""Several machines that share nothing but PostgreSQL, Redis and an S3-compatible server (s3rver): the web server, a
default worker and a gpu worker each have their own empty DATA_DIR, as on three boxes. Through the web API:
generation → ranking → dataset builds → downloads → SFT and reward-model jobs → artifact downloads → serving (a
fourth empty disk) → reward scoring; and a dataset build that goes on through a restart of the storage server."""

from __future__ import annotations

import hashlib
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - fixtures
from tests.exports.test_build_worker import ranked  # noqa: F401 - fixture
from tests.helpers.processes import celery_worker, free_port, process_env, spawn
from tests.helpers.s3 import s3_server  # noqa: F401 - fixture
from tests.training.conftest import tiny_base  # noqa: F401 - fixture

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]
FAST = {"max_length": 64, "batch_size": 4, "learning_rate": 1e-3, "epochs": 1}


class Web:
    """HTTP calls to the web machine with a token."""

    def __init__(self, port: int, token: str):
        self.base, self.token = f"http://127.0.0.1:{port}/api/v1", token

    def call(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, body=None) -> dict:
        status, _, data = self.call(method, path, body)
        assert status < 300, (status, data[:2000])
        return json.loads(data)

    def wait(self, path: str, done, timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.json("GET", path)
            if done(state):
                return state
            time.sleep(0.3)
        raise AssertionError(f"{path} never finished: {state}")


def machine(tmp_path: Path, name: str, shared: dict) -> dict:
    folder = tmp_path / name
    folder.mkdir()
    return process_env(DATA_DIR=str(folder), **shared)


def files_under(folder: Path, sub: str) -> list[str]:
    root = folder / sub
    return sorted(p.relative_to(folder).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.long(120)
def test_the_loop_on_three_machines_sharing_only_postgres_redis_and_s3(
    tmp_path,
    s3_server,  # noqa: F811
    project,
    ranked,  # noqa: F811
    tiny_base,  # noqa: F811
    teacher,
):
    from demo.teacher import default_seed_files
    from llm.services import create_endpoint
    from projects.services import create_user, issue_token
    from selfinstruct.services import import_seed_file

    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    create_endpoint(name="teacher", base_url=teacher.url, model="demo-teacher", max_concurrency=4)
    admin, _, _ = create_user(username="padmin", role="project-admin", project=project)
    # base models sit at the same path on every machine that trains (a shared read-only mount, say)
    shared = {**s3_server.env(), "TRAINING_MODEL_ROOTS": str(tiny_base.parent), "LOG_LEVEL": "INFO"}
    web_env, cpu_env, gpu_env = (machine(tmp_path, name, shared) for name in ("web", "cpu", "gpu"))
    port = free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
    with (
        spawn([*gunicorn, "--threads", "4", "--log-level", "info"], ready="Listening at", env=web_env),
        celery_worker(queues=("default",), concurrency=2, env=cpu_env),
        celery_worker(queues=("gpu",), env=gpu_env) as gpu,
    ):
        web = Web(port, issue_token(user=admin))
        batch = web.json("POST", "/generation-batches", {"project": "alpha", "endpoint": "teacher", "target": 6})
        batch = web.wait(f"/generation-batches/{batch['id']}", lambda b: b["status"] in ("succeeded", "failed"))
        assert batch["status"] == "succeeded" and batch["progress"]["accepted"] >= 6, batch

        versions = {}
        for kind in ("preference", "sft"):
            created = web.json("POST", "/datasets", {"project": "alpha", "kind": kind, "test_fraction": 0.3})
            versions[kind] = web.wait(f"/datasets/{created['id']}", lambda v: v["status"] in ("ready", "failed"))
            assert versions[kind]["status"] == "ready", versions[kind]
        pref = versions["preference"]
        status, headers, body = web.call("GET", f"/datasets/{pref['id']}/download?format=raw")
        assert status == 200 and headers["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
        built = s3_server.keys(f"datasets/{pref['id']}/")
        (rows_key,) = [key for key in built if key.endswith("/rows.jsonl")]
        assert hashlib.sha256(s3_server.read(rows_key)).hexdigest() == pref["content_hash"]
        assert [json.loads(line)["id"] for line in body.splitlines()] == list(range(1, pref["row_count"] + 1))
        status, _, resumed = web.call(
            "GET", f"/datasets/{pref['id']}/download?format=raw", headers={"Range": "bytes=50-"}
        )
        assert status == 206 and resumed == body[50:]

        jobs = {}
        for kind, version, extra in (("reward", pref, {"save_steps": 1}), ("sft", versions["sft"], {})):
            job = web.json(
                "POST",
                "/training-jobs",
                {
                    "dataset": version["id"],
                    "kind": kind,
                    "base_model": "tiny-base",
                    "hyperparameters": {**FAST, **extra},
                },
            )
            jobs[kind] = web.wait(
                f"/training-jobs/{job['id']}", lambda j: j["status"] in ("succeeded", "failed", "cancelled")
            )
            assert jobs[kind]["status"] == "succeeded", jobs[kind]["error"] + gpu.output()[-3000:]
        rm = jobs["reward"]
        names = {a["name"] for a in rm["artifacts"]}
        assert {"model/config.json", "model/model.safetensors", "metrics.json", "loss.png", "train.log"} <= names
        checkpoints = {key.split("/")[3] for key in s3_server.keys(f"training/{rm['id']}/checkpoints/")}
        assert "checkpoint-1" in checkpoints and len(checkpoints) == rm["total_steps"]  # each uploaded when whole
        assert f"training/{rm['id']}/checkpoints/checkpoint-1/trainer_state.json" in s3_server.keys("training/")
        status, _, weights = web.call("GET", f"/training-jobs/{rm['id']}/artifacts/model/model.safetensors")
        assert status == 200 and weights == s3_server.read(f"training/{rm['id']}/model/model.safetensors")
        status, _, log = web.call("GET", f"/training-jobs/{rm['id']}/artifacts/train.log")
        assert status == 200 and str(tmp_path) not in log.decode()  # server paths redacted

        score = web.json("POST", f"/training-jobs/{rm['id']}/scoring")
        score = web.wait(
            f"/training-jobs/{rm['id']}/scoring",
            lambda runs: runs[0]["status"] in ("succeeded", "failed"),
        )[0]
        assert score["status"] == "succeeded" and score["completions_scored"] > 0, score

    serve_env = machine(tmp_path, "serving", shared)
    serve_port = free_port()
    serve = [sys.executable, "manage.py", "serve_model", str(jobs["sft"]["id"]), "--port", str(serve_port)]
    with spawn([*serve, "--engine", "builtin"], ready="serving job", env=serve_env, timeout=120):
        from llm.models import LLMEndpoint

        served_key = LLMEndpoint.objects.get(name=f"job-{jobs['sft']['id']}").served_key  # the server's own key
        models = f"http://127.0.0.1:{serve_port}/v1/models"
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(models, timeout=30)
        asked = urllib.request.Request(models, headers={"Authorization": f"Bearer {served_key}"})
        with urllib.request.urlopen(asked, timeout=30) as response:
            assert f"job-{jobs['sft']['id']}" in response.read().decode()
    assert (tmp_path / "serving" / "cache" / "models" / f"job-{jobs['sft']['id']}" / "config.json").is_file()

    # Each machine kept only what is its own: the web server wrote no dataset or training files; the cpu worker
    # built in scratch space it removed; the gpu worker's dataset copies sit in its cache, checked by hash.
    web_dir, cpu_dir, gpu_dir = (tmp_path / name for name in ("web", "cpu", "gpu"))
    assert files_under(web_dir, "datasets") == files_under(web_dir, "training") == []
    assert files_under(cpu_dir, "datasets") == [] and not any(p.suffix == ".jsonl" for p in cpu_dir.rglob("*"))
    assert any(name.startswith("cache/datasets/") for name in files_under(gpu_dir, "cache"))


@pytest.mark.long(25)
def test_a_build_goes_on_through_a_restart_of_the_storage_server(tmp_path, s3_server, project):  # noqa: F811
    """The storage server stops while the worker writes rows, and comes back: the build's upload fails, the
    reconciler restarts it, and the version publishes the same rows an undisturbed build gives."""
    from exports.models import DatasetVersion, VersionStatus
    from exports.services import create_dataset_version
    from selfinstruct.services import import_seed_file
    from tests.helpers.datasets import wait_while_building

    seeds = tmp_path / "many.jsonl"
    with seeds.open("w") as out:
        for i in range(20_000):
            row = {"instruction": f"Write line {i} about item {i}.", "instances": [{"input": "", "output": f"L{i}"}]}
            out.write(json.dumps(row) + "\n")
    import_seed_file(project=project, path=seeds)
    env = machine(
        tmp_path,
        "cpu",
        {
            **s3_server.env(),
            "DATASET_BUILD_HEARTBEAT_SECONDS": "0",
            "DATASET_BUILD_STALE_SECONDS": "2",
            "GENERATION_RECONCILE_SECONDS": "1",
            "STORAGE_MAX_ATTEMPTS": "1",  # no retries: the upload fails while the server is down
        },
    )
    with celery_worker(env=env) as worker:
        version = create_dataset_version(project=project, kind="sft", test_fraction=0.1)
        deadline = time.monotonic() + 120
        while not DatasetVersion.objects.filter(pk=version.pk, rows_written__gte=1000).exists():
            assert time.monotonic() < deadline, worker.output()[-2000:]
            time.sleep(0.01)
        s3_server.stop()  # mid-build: the rows are being written; the upload will find no server
        deadline = time.monotonic() + 120
        while "EndpointConnectionError" not in worker.output():  # back once an upload failed, not after a guess
            assert time.monotonic() < deadline, worker.output()[-2000:]
            time.sleep(0.1)
        s3_server.start()
        wait_while_building(version, timeout=180)
        log = worker.output()
    assert version.status == VersionStatus.READY, log[-3000:]
    assert "build stalled; restarting it" in log and "EndpointConnectionError" in log
    prefix = f"datasets/{version.pk}/{version.build_token}"
    assert version.storage_prefix == prefix and s3_server.keys(f"datasets/{version.pk}/")[0].startswith(prefix)
    rows = s3_server.read(f"{prefix}/rows.jsonl")
    assert hashlib.sha256(rows).hexdigest() == version.content_hash and rows.count(b"\n") == 20_000
