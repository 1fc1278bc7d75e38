"""Dataset versions: immutable, content-hashed snapshots of a project's SFT examples or preference pairs.

The rows of a version are written once, in a canonical JSONL file in shared storage (`exports.files`), and never
change: downloads in every format are derived from that file, so the same version gives the same bytes next month
even if the rows it came from are edited or deleted.
"""

from django.db import models

from core.models import RunModel
from exports.runs import (
    DATASET_BUILD,
    VersionStatus,  # noqa: F401  (declared with the kind; callers import it from here)
)


class DatasetKind(models.TextChoices):
    SFT = "sft", "SFT (instruction / input / output)"
    PREFERENCE = "preference", "Preference pairs (prompt / chosen / rejected)"


class DatasetVersion(RunModel):
    # Its build token (one per build attempt) is `build_token`; a version is building from when it is asked for.
    run_token = started_at = None

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="dataset_versions")
    kind = models.CharField(max_length=16, choices=DatasetKind.choices)
    number = models.PositiveIntegerField(help_text="1, 2, 3… per project and kind")
    name = models.CharField(max_length=200, blank=True)
    filters = models.JSONField(default=dict, help_text="What the version was built from (see the README).")
    test_fraction = models.FloatField(default=0.1)
    split_seed = models.PositiveIntegerField(default=0)
    status = DATASET_BUILD.status_field()
    rows_written = models.PositiveBigIntegerField(default=0, help_text="Progress while building.")
    build_token = models.UUIDField(null=True, blank=True, editable=False, help_text="The build allowed to finish.")
    row_count = models.PositiveBigIntegerField(default=0)
    train_rows = models.PositiveBigIntegerField(default=0)
    test_rows = models.PositiveBigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of the canonical rows file")
    storage_prefix = models.CharField(
        max_length=200, blank=True, editable=False, help_text="Where its published files are in shared storage."
    )
    stats = models.JSONField(default=dict)
    lineage = models.JSONField(default=dict)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "kind", "number"], name="one_version_number_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.project} {self.kind} v{self.number}"
