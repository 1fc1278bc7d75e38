"""manage.py demo_teacher --port P — the offline, OpenAI-compatible demo teacher (not a language model)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from demo.teacher import DISCLAIMER, FAULTS, FaultPlan, make_server


def parse_rates(text: str) -> dict[str, float]:
    rates = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if name not in FAULTS:
            raise CommandError(f"--faults: unknown fault {name!r}; known: {', '.join(FAULTS)}")
        try:
            rates[name] = float(value)
        except ValueError:
            raise CommandError(f"--faults: rate for {name!r} must be a number, got {value!r}") from None
        if not 0 <= rates[name] <= 1:
            raise CommandError(f"--faults: rate for {name!r} must be within 0..1, got {value}")
    return rates


class Command(BaseCommand):
    help = f"Serve the offline OpenAI-compatible demo teacher ({DISCLAIMER})."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--seeds", nargs="*", type=Path, help="seed JSONL files (default: the demo seeds)")
        parser.add_argument("--faults", default="", help="random fault rates, e.g. 429=0.1,500=0.05,malformed=0.02")
        parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on injected 429/503")
        parser.add_argument("--slow-seconds", type=float, default=5.0)
        parser.add_argument("--latency-ms", type=int, default=0, help="simulated model latency per request")
        parser.add_argument("--verbose", action="store_true")

    def handle(self, *args, host, port, seed, seeds, faults, retry_after, slow_seconds, latency_ms, verbose, **kw):
        plan = FaultPlan(
            rates=parse_rates(faults), retry_after=retry_after, slow_seconds=slow_seconds, latency_ms=latency_ms
        )
        try:
            server = make_server(host, port, seed=seed, seed_files=seeds, plan=plan, verbose=verbose)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from None
        self.stdout.write(f"demo teacher listening on {server.url} ({DISCLAIMER})", ending="\n")
        self.stdout.flush()
        server.serve_until_interrupted()
