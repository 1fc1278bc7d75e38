"""What management commands share: key=value options and the one loop that waits for a background run."""

import json
import time

from django.core.management.base import CommandError
from tqdm import tqdm

from core import lifecycle, safejson


def key_value_arg(value: str, *, option: str, example: str) -> tuple[str, object]:
    """`key=value` with the value read as JSON when it parses (numbers, lists, true/false), else as a string."""
    key, sep, raw = value.partition("=")
    if not sep:
        raise CommandError(f"{option} {value!r}: use key=value, e.g. {example}")
    try:
        return key, safejson.loads(raw)
    except json.JSONDecodeError:
        return key, raw
    except safejson.UnsafeJSON as exc:  # JSON, but not a value the platform stores (NaN, too deep, …)
        raise CommandError(f"{option} {key}: {exc}") from None


def wait_for_run(
    command,
    run,
    *,
    timeout: float | None,
    unit: str = "item",
    hint: str = "is a worker running?",
    every: float = 0.5,
    timeout_code: int = 1,
    stage=None,
):
    """Show the run's progress (done/total, ETA) until it ends, whatever its kind; returns the finished run.
    CommandError (exit `timeout_code`) naming the run when `timeout` seconds pass first. `stage(run)` → (name,
    done, total), for a run that goes through stages (a Self-Instruct batch: instructions, then instances): the
    bar counts the stage's work instead, named in its description, and starts afresh when the stage changes."""
    kind = lifecycle.kind_of(run)
    deadline = time.monotonic() + timeout if timeout else None
    shown_stage = None
    with tqdm(desc=f"{kind.name} {run.pk}", unit=unit, file=command.stderr._out) as bar:
        while True:
            run.refresh_from_db()
            status = kind.status_of(run.status)
            progress = None if stage else lifecycle.progress(run)
            if progress:
                bar.total, bar.n = progress.total or None, progress.done
            if stage:
                name, done, total = stage(run)
                if name != shown_stage:
                    shown_stage = name
                    bar.reset(total=total or None)
                    bar.set_description(f"{kind.name} {run.pk} · {name}", refresh=False)
                bar.total, bar.n = total or None, done
            eta = f", eta {progress.eta_seconds:.0f}s" if progress and progress.eta_seconds else ""
            bar.set_postfix_str(status + eta, refresh=False)
            bar.refresh()
            if status in lifecycle.FINISHED:
                return run
            if deadline and time.monotonic() > deadline:
                raise CommandError(
                    f"{kind.name} run {run.pk} still {status} after {timeout:.0f}s — {hint}", returncode=timeout_code
                )
            time.sleep(every)
