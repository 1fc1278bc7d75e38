"""manage.py check_endpoint NAME [--wait] — queue a round trip through a worker to the endpoint."""

from django.core.management.base import BaseCommand, CommandError

from core.cli import wait_for_run
from core.lifecycle import RunStatus
from llm.selectors import get_endpoint
from llm.services import request_endpoint_check


class Command(BaseCommand):
    help = "Queue an endpoint check (queue -> worker -> endpoint -> database) and optionally wait for it."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait with --wait")

    def handle(self, *args, name, wait, timeout, **options):
        endpoint = get_endpoint(name=name)
        if endpoint is None:
            raise CommandError(f"no endpoint named {name!r} (see manage.py add_endpoint)")
        check = request_endpoint_check(endpoint=endpoint)
        self.stdout.write(f"check {check.pk} queued for {endpoint.name}")
        if not wait:
            return
        check = wait_for_run(self, check, timeout=timeout)
        if check.status != RunStatus.SUCCEEDED:
            raise CommandError(f"check failed: {check.error}")
        self.stdout.write(f"ok in {check.latency_ms} ms via {check.worker}: {check.reply}")
