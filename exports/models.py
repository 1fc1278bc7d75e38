"""Dataset versions: immutable, content-hashed snapshots of a project's SFT examples or preference pairs.

The rows of a version are written once, in a canonical JSONL file in shared storage (`exports.files`), and never
change: downloads in every format are derived from that file, so the same version gives the same bytes next month
even if the rows it came from are edited or deleted.
"""

from django.conf import settings
from django.db import models


class DatasetKind(models.TextChoices):
    SFT = "sft", "SFT (instruction / input / output)"
    PREFERENCE = "preference", "Preference pairs (prompt / chosen / rejected)"


class VersionStatus(models.TextChoices):
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class DatasetVersion(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="dataset_versions")
    kind = models.CharField(max_length=16, choices=DatasetKind.choices)
    number = models.PositiveIntegerField(help_text="1, 2, 3… per project and kind")
    name = models.CharField(max_length=200, blank=True)
    filters = models.JSONField(default=dict, help_text="What the version was built from (see the README).")
    test_fraction = models.FloatField(default=0.1)
    split_seed = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.BUILDING)
    rows_written = models.PositiveBigIntegerField(default=0, help_text="Progress while building.")
    build_token = models.UUIDField(null=True, blank=True, editable=False, help_text="The build allowed to finish.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the build.")
    row_count = models.PositiveBigIntegerField(default=0)
    train_rows = models.PositiveBigIntegerField(default=0)
    test_rows = models.PositiveBigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of the canonical rows file")
    storage_prefix = models.CharField(
        max_length=200, blank=True, editable=False, help_text="Where its published files are in shared storage."
    )
    stats = models.JSONField(default=dict)
    lineage = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "kind", "number"], name="one_version_number_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.project} {self.kind} v{self.number}"
