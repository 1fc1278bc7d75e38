"""The models of the review stage (issue 37), kept apart from models.py to keep both short: a reviewer's decision
on a task, and a labeler's standing in a project (paused by a quality guardrail until an admin reinstates them).
annotation.models imports them, so Django sees them as the app's models."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ReviewDecision(models.TextChoices):
    ACCEPT = "accept", _("Accepted the consensus")
    REJECT = "reject", _("Rejected a labeler's ranking")
    ADJUDICATE = "adjudicate", _("Wrote the adjudicated order")


class Review(models.Model):
    """One reviewer decision on a task: who, when, why, and what it changed. Kept as written (a later decision is a
    new row), so a version can count what was adjudicated and a labeler can read why a ranking was rejected."""

    task = models.ForeignKey("annotation.RankingTask", on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decision = models.CharField(max_length=16, choices=ReviewDecision.choices)
    ranking = models.ForeignKey(
        "annotation.Ranking",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviews",
        help_text="The labeler's ranking a rejection is about.",
    )
    order = models.JSONField(null=True, blank=True, help_text="The adjudicated order: groups of completion ids.")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["task", "id"], name="review_task")]

    def __str__(self) -> str:
        return f"{self.decision} on task {self.task_id}"


class LabelerStatus(models.Model):
    """A labeler's standing in one project: paused by a guardrail (gold accuracy or reliability under the project's
    threshold) with the reason they are shown, until an admin reinstates them. No row: in good standing."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    paused = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    reinstated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reinstated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "labeler"], name="one_status_per_labeler")]

    def __str__(self) -> str:
        return f"{self.labeler} in {self.project}: {'paused' if self.paused else 'active'}"
