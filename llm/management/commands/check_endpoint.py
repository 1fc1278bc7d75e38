"""manage.py check_endpoint NAME [--wait] — queue a round trip through a worker to the endpoint."""

import time

from django.core.management.base import BaseCommand, CommandError

from llm.models import CheckStatus
from llm.selectors import get_check, get_endpoint
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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check = get_check(check_id=check.pk)
            if check.status == CheckStatus.SUCCEEDED:
                self.stdout.write(f"ok in {check.latency_ms} ms via {check.worker}: {check.reply}")
                return
            if check.status == CheckStatus.FAILED:
                raise CommandError(f"check failed: {check.error}")
            time.sleep(0.2)
        raise CommandError(f"check {check.pk} still {check.status} after {timeout:.0f}s — is a worker running?")
