"""manage.py endpoint NAME [show|off|on|delete]: an endpoint's settings and health; switch it off (no new run may use
it, its history stays) or on; delete one nothing uses."""

from django.core.management.base import BaseCommand, CommandError

from llm.health import with_health
from llm.selectors import endpoint_references, get_endpoint
from llm.services import EndpointError, delete_endpoint, set_endpoint_active


class Command(BaseCommand):
    help = "Show an LLM endpoint with its health, switch it off or on, or delete it (only when nothing uses it)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("action", nargs="?", choices=["show", "off", "on", "delete"], default="show")

    def handle(self, *args, name, action, **options):
        endpoint = get_endpoint(name=name)
        if endpoint is None:
            raise CommandError(f"name: no endpoint named {name!r}")
        if action in ("off", "on"):
            set_endpoint_active(endpoint, action == "on")
            self.stdout.write(f"endpoint {name} is switched {action}")
            return
        if action == "delete":
            try:
                delete_endpoint(endpoint)
            except EndpointError as exc:
                raise CommandError(str(exc).partition(": ")[2] + f" (manage.py endpoint {name} off)") from None
            self.stdout.write(f"endpoint {name} deleted")
            return
        (endpoint,) = with_health([endpoint])
        owner = endpoint.project.slug if endpoint.project_id else "site-wide"
        used = sum(endpoint_references(endpoint=endpoint).values())
        self.stdout.write(
            f"endpoint {endpoint.name} ({owner}, {'on' if endpoint.is_active else 'off'}): {endpoint.base_url} "
            f"model={endpoint.model} style={endpoint.api_style}\n"
            f"health: {endpoint.health_text}\nused by {used} runs, requests or completions"
        )
