"""manage.py load_demo — the demo project, its seeds, an admin, a labeler, a reviewer, a consumer and the demo
teacher endpoint.

Idempotent: running it again changes nothing and prints the same logins (kept in DATA_DIR/demo-logins.json).
"""

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from annotation.sampling import start_sampling_run
from demo.teacher import default_seed_files
from llm.services import create_endpoint
from projects.services import add_member, create_user, get_or_create_project, issue_token, membership_role
from projects.tokens import is_current_key
from selfinstruct.services import import_seed_file
from training.services import ensure_demo_base_model

# `lead` runs the demo project (a project admin, not staff: API, CLI and pages, no Django admin).
DEMO_USERS = (
    ("admin", "admin"),
    ("lead", "project-admin"),
    ("labeler", "labeler"),
    ("reviewer", "reviewer"),  # reviews and adjudicates the labelers' rankings (issue 37)
    ("consumer", "consumer"),
)


class Command(BaseCommand):
    help = "Create the demo project with seeds, users (printed logins) and the demo-teacher endpoint."

    def add_arguments(self, parser):
        parser.add_argument("--teacher-port", type=int, default=8765)

    def handle(self, *args, teacher_port, **options):
        project = get_or_create_project(
            slug="demo",
            name="Demo project",
            description="Bilingual demo seeds (English and Chinese) and the offline demo teacher.",
            guidelines="Rank the most helpful, correct and harmless answer first.",
        )
        for path in default_seed_files():
            result = import_seed_file(project=project, path=path, display_name=f"demo_seeds/{path.name}")
            if result.created:
                self.stdout.write(f"imported {result.created} demo seeds from {path.name}")
        endpoint = create_endpoint(
            name="demo-teacher",
            base_url=f"http://127.0.0.1:{teacher_port}/v1",
            model="demo-teacher",
            max_concurrency=4,
            request_timeout_s=30,
        )
        if not project.sampling_runs.exists():
            # Ranking work for the labeler: 4 answers from the demo teacher for 24 demo seeds. The worker started
            # by `make run` samples them (the teacher may come up a moment later: the client retries).
            run = start_sampling_run(
                project=project, endpoints=[(endpoint, {})], per_prompt=4, sources=("seed",), limit=24
            )
            self.stdout.write(f"sampling run {run.pk}: {run.prompts_total} prompts x 4 answers queued for ranking")
        texts = [line for path in default_seed_files() for line in path.read_text(encoding="utf-8").splitlines()]
        base, created = ensure_demo_base_model(texts=texts)
        if created:
            self.stdout.write(f"built a tiny demo base model for training jobs at {base}")
        logins_path = settings.DATA_DIR / "demo-logins.json"
        logins = json.loads(logins_path.read_text()) if logins_path.exists() else {}
        user_model = get_user_model()
        for username, role in DEMO_USERS:
            user = user_model.objects.filter(username=username).first()
            if user is None:
                user, password, _ = create_user(username=username, role=role, project=project)
                logins[username] = {"role": role, "password": password}
            else:
                add_member(project=project, user=user, role=membership_role(role))
            if role == "consumer" and not is_current_key(user=user, key=logins.get(username, {}).get("token")):
                # Only a token's digest is stored: a key saved earlier is reprinted while it works, else replaced.
                logins.setdefault(username, {"role": role})["token"] = issue_token(user=user)
        logins_path.write_text(json.dumps(logins, indent=2))
        logins_path.chmod(0o600)
        for username, info in logins.items():
            extra = f"  token {info['token']}" if info.get("token") else ""
            self.stdout.write(
                f"login {username:9} password {info.get('password', '(set earlier)')}  ({info['role']}){extra}"
            )
