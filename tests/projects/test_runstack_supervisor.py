"""`make run`'s supervisor (manage.py runstack): a worker that dies is started again with a growing delay, up to a
cap, and the web server stays up; the web server dying still stops the stack."""

from __future__ import annotations

import signal
import sys
import time

from demo.management.commands.runstack import Supervisor, _start


class FakeChild:
    def __init__(self, name: str):
        self.name, self.code, self.pid = name, None, 0

    def poll(self):
        return self.code


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def supervisor(**kwargs):
    started, said, warned, clock = [], [], [], Clock()

    def start(cmd):
        started.append(FakeChild(cmd[0]))
        return started[-1]

    stack = Supervisor(
        {"web": ["web"], "worker": ["worker"]},
        restartable={"worker"},
        say=said.append,
        warn=warned.append,
        start=start,
        kill_leftovers=lambda proc: None,
        clock=clock,
        **kwargs,
    )
    stack.start_all()
    return stack, started, said, warned, clock


def test_a_dead_worker_is_restarted_with_backoff_then_given_up_while_the_web_server_stays_up():
    stack, started, said, warned, clock = supervisor(limit=5, window=60, backoff=1)
    delays = []
    for _ in range(5):
        stack.procs["worker"].code = 1  # the worker stops (an unrecoverable error)
        assert stack.check() is None
        assert "worker exited with code 1; restarting it in" in warned[-1]
        due = stack.due["worker"]
        delays.append(due - clock.now)
        clock.now = due - 0.01
        assert stack.check() is None and stack.procs["worker"].code == 1  # not yet
        clock.now = due
        assert stack.check() is None and stack.procs["worker"].code is None  # a new worker
    assert delays == [1, 2, 4, 8, 16]
    assert [child.name for child in started] == ["web", "worker"] + ["worker"] * 5
    assert said[-1].startswith("worker restarted (pid")

    stack.procs["worker"].code = -9  # a sixth death within 60 s of the first restart: left down, said loudly
    assert stack.check() is None
    assert "NOT restarting it again" in warned[-1] and "The web server stays up" in warned[-1]
    clock.now += 600
    assert stack.check() is None and len(started) == 7 and stack.given_up == {"worker"}

    stack.procs["web"].code = 1  # the web server dying stops the stack
    assert stack.check() == 1 and warned[-1] == "web exited with code 1; stopping the others"


def test_restarts_older_than_the_window_do_not_count():
    stack, started, _, warned, clock = supervisor(limit=2, window=60, backoff=1)
    for _ in range(4):  # one death a minute, forever: always restarted after the first delay
        stack.procs["worker"].code = 1
        stack.check()
        clock.now = stack.due["worker"]
        stack.check()
        clock.now += 61
    assert len(started) == 6 and not stack.given_up
    assert all("restarting it in 1 s" in line for line in warned)


def test_real_processes_a_crashing_worker_is_restarted_until_the_cap_and_the_rest_stopped():
    starts = []

    def start(cmd):
        starts.append(cmd)
        return _start(cmd)

    warned = []
    stack = Supervisor(
        {
            "web": [sys.executable, "-c", "import time; time.sleep(60)"],
            "worker": [sys.executable, "-c", "raise SystemExit(3)"],
        },
        restartable={"worker"},
        say=lambda line: None,
        warn=warned.append,
        start=start,
        limit=2,
        backoff=0.01,
    )
    stack.start_all()
    try:
        deadline = time.monotonic() + 15
        while not stack.given_up and time.monotonic() < deadline:
            assert stack.check() is None
            time.sleep(0.02)
        assert stack.given_up == {"worker"} and len(starts) == 4  # web, the worker and 2 restarts
        assert sum("worker exited with code 3; restarting" in line for line in warned) == 2
        assert stack.procs["web"].poll() is None
    finally:
        assert stack.stop_all(timeout=10) == []
    assert stack.procs["web"].returncode == -signal.SIGTERM
