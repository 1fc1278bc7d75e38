"""A Project scopes seeds, batches, ranking tasks and datasets; a Membership decides who may see it."""

from django.conf import settings
from django.core.validators import validate_slug
from django.db import models
from django.utils.translation import gettext_lazy as _


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
    ADMIN = "admin", _("Project admin")
    LABELER = "labeler", _("Labeler")
    CONSUMER = "consumer", _("API consumer")
    REVIEWER = "reviewer", _("Reviewer")  # reviews and adjudicates the labelers' rankings (admins may too)


# Who may read a project's data products (datasets, rankings, training jobs, metrics, models, evaluations): its admins
# and consumers. A consumer reads; starting or stopping work that spends the project's GPU or LLM budget is admins'.
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


class ApiToken(models.Model):
    """A user's API token, kept as the SHA-256 digest of its key: the key is shown once when issued, never stored.

    `key` is set only on the instance that projects.tokens.issue_token just made (for the caller to show once);
    a token read back from the database has none."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_token")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="The key's first characters, to tell tokens apart; not secret.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    key: str | None = None

    def __str__(self) -> str:
        return f"{self.prefix}… of {self.user}"


class Invitation(models.Model):
    """A pending offer of a role in a project, which the invitee accepts (home page or link) or declines.

    Only its link's digest is stored; accepting or declining deletes the row."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_invitation_per_user")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} invited to {self.project} as {self.role}"


class UserPreference(models.Model):
    """What a user chose for themselves and keeps across browsers: the pages' language (set by the top bar's
    switch, applied at each sign-in)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    language = models.CharField(max_length=16, blank=True, help_text="A code of settings.LANGUAGES; blank: none.")

    def __str__(self) -> str:
        return f"{self.user}: {self.language or '-'}"
