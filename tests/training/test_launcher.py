"""Trainers forked from the worker's preloaded zygote: they train as a fresh process would, die as one would
(killed, or with their zygote), and a zygote that cannot start leaves the trainer to a fresh process."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.training import sft_job
from training.supervisor import _die_with_parent, _runner_env
from training.trainer import launcher
from training.trainer.hyperparameters import resolve


@pytest.fixture
def start(tiny_base, tmp_path):
    def make(name: str, max_steps: int, spec: bool = True):
        folder = tmp_path / name
        folder.mkdir()
        rows = [{"prompt": f"cat {i}", "completion": " good answer"} for i in range(8)]
        (folder / "train.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
        if spec:  # without one, the runner fails at once
            hp = resolve("sft", "full", {"max_steps": max_steps, "max_length": 16})
            (folder / "job.json").write_text(json.dumps(sft_job(folder, tiny_base, hp)))
        return folder, launcher.start_trainer(
            [sys.executable, "-m", "training.trainer.runner", str(folder)],
            folder=str(folder),
            log=str(folder / "train.log"),
            env=_runner_env(),
            cwd=os.getcwd(),
            preexec_fn=_die_with_parent,
            preload=True,
        )

    yield make
    if launcher._zygote is not None:
        launcher._zygote.stop()
        launcher._zygote = None


def _training(folder, trainer) -> None:
    deadline = time.monotonic() + 120
    while not (folder / "events.jsonl").exists() or b'"progress"' not in (folder / "events.jsonl").read_bytes():
        assert trainer.poll() is None and time.monotonic() < deadline, (folder / "train.log").read_text()[-3000:]
        time.sleep(0.2)


@pytest.mark.long(25)
def test_trainers_fork_from_one_zygote_and_die_as_processes_do(start):
    folder, first = start("first", max_steps=2)
    assert first.pid is None  # waits for the zygote's imports; the supervisor keeps beating meanwhile
    assert first.wait(timeout=180) == 0, (folder / "train.log").read_text()[-3000:]
    assert json.loads((folder / "result.json").read_text())["status"] == "succeeded"
    assert (folder / "model" / "model.safetensors").is_file()
    zygote = launcher._zygote

    folder, killed = start("killed", max_steps=100_000)
    assert killed.pid is not None and launcher._zygote is zygote  # forked at once: no import this time
    assert os.getpgid(killed.pid) == killed.pid  # its own group, which the supervisor's killpg stops whole
    _training(folder, killed)
    os.killpg(killed.pid, signal.SIGKILL)
    assert killed.wait(timeout=30) == -signal.SIGKILL  # as Popen reports it: "killed by SIGKILL"

    folder, orphan = start("orphan", max_steps=100_000)
    _training(folder, orphan)
    zygote.proc.kill()  # a worker killed outright takes its zygote along, and the zygote its trainers
    assert orphan.wait(timeout=30) == -signal.SIGKILL and not launcher._exists(orphan.pid)


def test_a_zygote_that_refuses_to_fork_leaves_trainers_to_fresh_processes(start, monkeypatch):
    # as when CUDA came up while the zygote imported: a forked trainer could not use it
    monkeypatch.setattr(launcher, "ZYGOTE_COMMAND", ["-c", f"raise SystemExit({launcher.EXIT_UNSAFE})"])
    monkeypatch.setattr(launcher, "_refused", False)
    folder, trainer = start("plain", max_steps=2, spec=False)
    assert trainer.wait(timeout=60) == 1 and trainer.fallback is not None  # started as a process after all
    assert "job.json" in (folder / "train.log").read_text()
    folder, second = start("second", max_steps=2, spec=False)
    assert isinstance(second, subprocess.Popen) and launcher._refused  # no zygote any more in this process
    assert second.wait(timeout=60) == 1


def test_a_zygote_replaced_for_a_new_environment_is_stopped_only_once_its_trainers_ended(monkeypatch):
    class Fake:
        def __init__(self, env, cwd):
            self.env, self.running, self.stopped = env, set(), False

        def alive(self):
            return not self.stopped

        def refused(self):
            return False

        def pump(self):
            pass

        def stop(self):
            self.stopped = True

    monkeypatch.setattr(launcher, "_Zygote", Fake)
    monkeypatch.setattr(launcher, "_zygote", None)
    monkeypatch.setattr(launcher, "_retired", [])
    old = launcher._zygote_for({"HF_HOME": "a"}, "/")
    old.running.add(1234)  # a trainer of its own still runs
    new = launcher._zygote_for({"HF_HOME": "b"}, "/")
    assert new is not old and not old.stopped  # stopping it would kill that trainer (its parent-death signal)
    assert launcher._zygote_for({"HF_HOME": "b"}, "/") is new and not old.stopped
    old.running.clear()
    assert launcher._zygote_for({"HF_HOME": "b"}, "/") is new and old.stopped and launcher._retired == []
