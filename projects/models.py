"""A Project scopes seeds, batches, ranking tasks and datasets; a Membership decides who may see it."""

from django.conf import settings
from django.core.validators import validate_slug
from django.db import models


class Project(models.Model):
    slug = models.SlugField(max_length=64, unique=True, validators=[validate_slug])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to labelers on every ranking page.")
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="projects")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Role(models.TextChoices):
    ADMIN = "admin", "Project admin"
    LABELER = "labeler", "Labeler"
    CONSUMER = "consumer", "API consumer"


# Who may pull a project's datasets — and therefore train and evaluate models on them: its admins and consumers.
DATA_ROLES = (Role.ADMIN, Role.CONSUMER)


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]
        ordering = ["project__slug", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"
