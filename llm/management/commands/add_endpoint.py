"""manage.py add_endpoint NAME --base-url URL --model MODEL [--api-style chat|completions] [--api-key-env VAR] ...
[--update]: a taken name (in any letter case) is refused unless --update says to replace that endpoint's settings."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from llm.models import ApiStyle
from llm.selectors import get_endpoint
from llm.served_names import reserved_name_problem
from llm.services import create_endpoint, taken_name_problem
from projects.selectors import get_project_by_slug


class Command(BaseCommand):
    help = (
        "Add an OpenAI-compatible LLM endpoint (--update: change the one of that name). The API key stays in an "
        "environment variable. Switch off, on or delete one with `manage.py endpoint NAME off|on|delete`."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--base-url", required=True)
        parser.add_argument("--model", required=True)
        parser.add_argument("--api-style", choices=ApiStyle.values, default=ApiStyle.CHAT)
        parser.add_argument(
            "--api-key-env",
            default="",
            help="NAME of the env var holding the key, e.g. OPENAI_API_KEY; with --project it must start with "
            "LLM_KEY_P<project id>_",
        )
        parser.add_argument("--max-concurrency", type=int, default=4)
        parser.add_argument("--timeout", type=float, default=60.0, help="request timeout in seconds")
        parser.add_argument("--max-retries", type=int, default=5)
        parser.add_argument("--price-input", type=float, default=0.0, help="price per 1K input tokens")
        parser.add_argument("--price-output", type=float, default=0.0, help="price per 1K output tokens")
        parser.add_argument("--project", default="", help="slug of the project that owns it (default: global)")
        parser.add_argument(
            "--update",
            action="store_true",
            help="change the endpoint of this name (its settings are replaced by these); without it a taken name is "
            "refused",
        )

    def handle(
        self,
        *args,
        name,
        base_url,
        model,
        api_style,
        api_key_env,
        max_concurrency,
        timeout,
        max_retries,
        price_input,
        price_output,
        **options,
    ):
        if api_key_env.startswith(("sk-", "sk_")) or len(api_key_env) > 60:
            raise CommandError("--api-key-env takes the NAME of an environment variable, not the key itself")
        existing = get_endpoint(name=name)
        if existing is not None and not options.get("update"):
            raise CommandError(
                f"name: an endpoint named {name!r} exists; edit it instead (add_endpoint {name} --update …, or "
                f"`manage.py endpoint {name} off|on|delete`)"
            )
        if existing is None and options.get("update"):
            raise CommandError(f"--update: no endpoint named {name!r}; leave out --update to add it")
        if existing is None and (taken := taken_name_problem(name) or reserved_name_problem(name)):
            raise CommandError(taken)  # the same name in other letter case, or a served model's job-<id>
        project = None
        if options.get("project"):
            project = get_project_by_slug(slug=options["project"])
            if project is None:
                raise CommandError(f"--project: no project {options['project']!r}")
        try:
            endpoint = create_endpoint(
                name=name,
                base_url=base_url,
                model=model,
                api_style=api_style,
                api_key_env=api_key_env,
                max_concurrency=max_concurrency,
                request_timeout_s=timeout,
                max_retries=max_retries,
                price_input_per_1k=price_input,
                price_output_per_1k=price_output,
                project=project,
            )
        except ValidationError as exc:
            fields = "; ".join(f"--{k.replace('_', '-')}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(fields) from None
        self.stdout.write(
            f"endpoint {endpoint.name} {'updated' if existing else 'added'}: {endpoint.base_url} "
            f"model={endpoint.model} style={endpoint.api_style} max_concurrency={endpoint.max_concurrency}"
        )
