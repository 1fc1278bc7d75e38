"""python -m training.trainer.zygote — a preloaded parent for trainer processes (started by
training/trainer/launcher.py).

Importing torch, transformers, TRL, PEFT and datasets costs a trainer 5–9 s of CPU before it trains anything. This
process pays it once per worker: it imports them, says it is ready, and then forks one child per request, which
runs `training.trainer.runner` as `python -m training.trainer.runner JOB_DIR` would, in its own session, with its
output in the job's log. Nothing here knows Django or the database.

Protocol (one JSON object per line): the worker writes {"id", "folder", "log"} to stdin; this process writes
{"ready": true} once, {"id", "pid"} for each child it forked, and {"pid", "code"} when a child ended (`code` as
Popen's returncode: the exit status, or minus the signal that killed it). End of stdin (the worker is gone, however it
ended) ends this process within 0.2 s; the kernel then kills the trainers (each one's parent-death signal is this
process).
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import sys
import traceback

# What the runner imports, so that a forked trainer finds it in memory; a name that fails to import is skipped
# (the trainer that needs it reports the error itself, as a freshly started one would).
PRELOAD = (
    ("torch", ()),
    ("transformers", ("AutoModelForCausalLM", "AutoModelForSequenceClassification", "AutoTokenizer")),
    ("transformers", ("TrainerCallback", "set_seed")),
    ("datasets", ("load_dataset",)),
    ("peft", ("LoraConfig", "PeftModel")),
    ("trl", ("SFTConfig", "SFTTrainer", "RewardConfig", "RewardTrainer", "DPOConfig", "DPOTrainer")),
    ("trl", ("KTOConfig", "KTOTrainer", "RLOOConfig", "RLOOTrainer")),
    ("training.trainer.runner", ()),
    ("training.trainer.runner_preference", ()),
)


EXIT_UNSAFE = 4  # CUDA came up during the imports: a forked trainer could not use it, so this zygote must not fork


def _cuda_initialized() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def _preload() -> None:
    import matplotlib

    matplotlib.use("Agg")  # the loss plot; never a display
    for module, names in PRELOAD:
        try:
            loaded = importlib.import_module(module)
            for name in names:
                getattr(loaded, name)
        except Exception:  # noqa: BLE001
            traceback.print_exc()


class _Replies:
    def __init__(self, fd: int):
        self.fd = fd

    def send(self, message: dict) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data) :]


def arm_parent_death_signal(parent: int | None = None) -> None:  # pragma: no cover - runs in a child
    """The kernel kills this process (SIGKILL) when its parent dies; given the parent's pid, exit at once if it
    already has. Also the supervisor's preexec step for trainers started as processes."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if parent is not None and os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _run_child(request: dict, parent: int, private: tuple[int, ...], started: int) -> None:  # pragma: no cover
    code = 1
    try:
        os.setsid()  # its own process group: the supervisor stops the trainer and whatever it started with killpg
        arm_parent_death_signal(parent)
        os.close(started)  # now the zygote may hand out the pid: killpg(pid) reaches this process
        for fd in private:
            os.close(fd)
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        from training.trainer import runner

        sys.argv = [runner.__file__, request["folder"]]
        code = runner.main(sys.argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _reap(replies: _Replies) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        replies.send({"pid": pid, "code": os.waitstatus_to_exitcode(status)})


def main() -> int:
    requests, replies = os.dup(0), _Replies(os.dup(1))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # a stray print goes to the worker's log, never into the replies
    os.close(devnull)
    _preload()
    if _cuda_initialized():
        print("trainer zygote: CUDA was initialized while importing; trainers start as processes", file=sys.stderr)
        return EXIT_UNSAFE
    replies.send({"ready": True})
    me, buffer = os.getpid(), b""
    while True:
        readable, _, _ = select.select([requests], [], [], 0.2)
        if readable:
            chunk = os.read(requests, 65536)
            if not chunk:
                return 0  # the worker is gone
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                sys.stdout.flush()
                sys.stderr.flush()
                wait_for_child, started = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(wait_for_child)
                    _run_child(request, me, (requests, replies.fd), started)
                os.close(started)
                os.read(wait_for_child, 1)  # end of file once the child has its own session
                os.close(wait_for_child)
                replies.send({"id": request["id"], "pid": pid})
        _reap(replies)


if __name__ == "__main__":
    sys.exit(main())
