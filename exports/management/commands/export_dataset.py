"""manage.py export_dataset --project SLUG --kind sft|preference [--format F] [--split S] --out PATH

Creates a dataset version (built by a worker; --build-here builds it in this process) or, with --version ID,
re-downloads an existing one. Writes PATH atomically (no partial file on failure); prints the id and hash."""

import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.cli import key_value_arg, wait_for_run
from exports.formats import DEFAULT_SHAPE, FILE_TYPES, SHAPES, SPLITS
from exports.models import DatasetVersion, VersionStatus
from exports.services import DatasetError, build_dataset_version, create_dataset_version, materialize
from projects.selectors import get_project_by_slug


def _filter_arg(value: str) -> tuple[str, object]:
    return key_value_arg(value, option="--filter", example="languages='[\"zh\"]' (value as JSON)")


class Command(BaseCommand):
    help = "Create (or re-download) a dataset version and write it to a file."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version ID (as documented) replaces Django's built-in --version flag for this command
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--kind", choices=["sft", "preference"])
        parser.add_argument("--version", type=int, help="re-download this version instead of creating one")
        parser.add_argument(
            "--format",
            help="alpaca, messages, trl-sft (sft); trl-preference, trl-kto, trl-prompts, aspects, disagreements "
            "(preference); raw",
        )
        parser.add_argument("--type", choices=FILE_TYPES, default="jsonl")
        parser.add_argument("--gzip", action="store_true")
        parser.add_argument("--split", choices=SPLITS, default="all")
        parser.add_argument("--filter", action="append", default=[], help="key=value, repeatable")
        parser.add_argument("--test-fraction", type=float, default=0.1)
        parser.add_argument("--seed", type=int, default=0, help="split seed")
        parser.add_argument("--out", required=True, type=Path)
        parser.add_argument("--build-here", action="store_true", help="build in this process instead of a worker")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the build")

    def handle(self, *args, **o):
        project = get_project_by_slug(slug=o["project"])
        if project is None:
            raise CommandError(f"--project: no project with slug {o['project']!r}")
        if o["version"]:
            version = DatasetVersion.objects.filter(pk=o["version"], project=project).first()
            if version is None:
                raise CommandError(f"--version: project {project.slug} has no dataset version {o['version']}")
        else:
            if not o["kind"]:
                raise CommandError("--kind: required when creating a version (or give --version ID)")
            try:
                with transaction.atomic():
                    version = create_dataset_version(
                        project=project,
                        kind=o["kind"],
                        filters=dict(_filter_arg(f) for f in o["filter"]),
                        test_fraction=o["test_fraction"],
                        split_seed=o["seed"],
                    )
            except DatasetError as exc:
                raise CommandError(str(exc)) from None
            if o["build_here"]:
                build_dataset_version(version_id=version.pk)
            wait_for_run(self, version, timeout=o["timeout"], unit="row")
        version.refresh_from_db()
        if version.status != VersionStatus.READY:
            raise CommandError(f"version {version.pk} is {version.status}: {version.error}")
        shape = o["format"] or DEFAULT_SHAPE[version.kind]
        if shape not in SHAPES[version.kind]:
            raise CommandError(f"--format: {shape!r} is not a {version.kind} format; use {list(SHAPES[version.kind])}")
        try:
            path, digest = materialize(
                version=version, shape=shape, split=o["split"], file_type=o["type"], compress=o["gzip"]
            )
        except DatasetError as exc:
            raise CommandError(str(exc)) from None
        out: Path = o["out"]
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part")
        try:
            shutil.copyfile(path, partial)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
        rows = {"all": version.row_count, "train": version.train_rows, "test": version.test_rows}[o["split"]]
        self.stdout.write(
            f"version {version.pk} ({version.kind} v{version.number}) content sha256 {version.content_hash}\n"
            f"wrote {rows} {shape} row(s), split {o['split']}, to {out} (sha256 {digest})"
        )
