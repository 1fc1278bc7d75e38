"""LLM endpoints (any OpenAI-compatible server), every HTTP attempt made to them, and endpoint checks."""

import re
import uuid
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext as _

from core.models import RunModel
from llm.runs import ENDPOINT_CHECK

# The environment variables an endpoint may read its API key from: NAME_API_KEY (OPENAI_API_KEY, DEEPSEEK_API_KEY …)
# or LLM_KEY_anything — never another variable of the server's environment, and never one the platform's own
# settings read (SECRET_KEY, DATABASE_URL …): the key is sent as a Bearer token to the endpoint's URL.
KEY_VARIABLE = re.compile(r"^(?:[A-Z][A-Z0-9_]*_API_KEY|LLM_KEY_[A-Z0-9_]+)$")
ALWAYS_REFUSED = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "DJANGO_SETTINGS_MODULE"}


def key_variable_problem(name: str) -> str | None:
    """Why `name` may not hold an endpoint's API key, or None when it may."""
    from core.env import SETTINGS_VARIABLES

    if not KEY_VARIABLE.match(name or ""):
        return _(
            "Give the NAME of the environment variable holding the key, in capitals, ending in _API_KEY (e.g. "
            "OPENAI_API_KEY) or starting with LLM_KEY_ — never the key itself nor any other server variable."
        )
    if name in ALWAYS_REFUSED or name in SETTINGS_VARIABLES:
        return _("%(name)s is one of the platform's own settings; it is never sent to an endpoint.") % {"name": name}
    return None


def validate_key_variable(value: str) -> None:
    problem = key_variable_problem(value)
    if value and problem:
        raise ValidationError(problem)


def validate_base_url(value: str) -> None:
    """http(s) with a host; single-label hosts (vllm, gpu-box) are fine, unlike Django's URLValidator."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or " " in value:
        raise ValidationError(_("Enter an http:// or https:// URL with a host, e.g. http://127.0.0.1:8000/v1"))


class ApiStyle(models.TextChoices):
    CHAT = "chat", "Chat completions (/v1/chat/completions)"
    COMPLETIONS = "completions", "Text completions (/v1/completions)"


class LLMEndpoint(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    base_url = models.CharField(
        max_length=500,
        validators=[validate_base_url],
        help_text="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1",
    )
    model = models.CharField(max_length=200)
    api_style = models.CharField(max_length=16, choices=ApiStyle.choices, default=ApiStyle.CHAT)
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        validators=[validate_key_variable],
        help_text="Name of the environment variable that holds the API key (NAME_API_KEY or LLM_KEY_NAME); empty "
        "for servers without keys.",
    )
    max_concurrency = models.PositiveIntegerField(default=4, validators=[MinValueValidator(1)])
    request_timeout_s = models.FloatField(default=60.0, validators=[MinValueValidator(0.1)])
    max_retries = models.PositiveSmallIntegerField(default=5)
    price_input_per_1k = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    price_output_per_1k = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    served_key = models.CharField(
        max_length=128,
        blank=True,
        editable=False,
        help_text="A model server this platform started (serve_model): the API key it was started with, sent as the "
        "Bearer token. Never set by users; api_key_env is for every other endpoint.",
    )
    is_active = models.BooleanField(default=True, help_text="Switched off: no run of any kind may use it.")
    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="llm_endpoints",
        help_text="Empty: a global endpoint any project may use. Set: only this project's runs may use it (a served "
        "model belongs to its training job's project).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    config_changed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When its URL, model, API style or key variable last changed: checks and requests from before are "
        "about another server and no longer show as its health.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "LLM endpoint"
        # names are unique ignoring case too (demo-teacher beside Demo-Teacher: two near-identical entries in every
        # picker): llm.services.taken_name_problem refuses such a name, a unique index on LOWER(name) (migration
        # 0006, where no existing names clash) stops two requests at once

    def __str__(self) -> str:
        return f"{self.name} ({self.model})"


class ErrorKind(models.TextChoices):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    MALFORMED = "malformed"
    EMPTY = "empty"
    CLIENT_ERROR = "client_error"
    CONFIGURATION = "configuration"


class LLMRequest(models.Model):
    """One HTTP attempt. Attempts of one logical call share call_id; retries are further rows."""

    endpoint = models.ForeignKey(LLMEndpoint, on_delete=models.PROTECT, related_name="requests")
    project = models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.SET_NULL)
    purpose = models.CharField(max_length=64)
    call_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    ok = models.BooleanField()
    error_kind = models.CharField(max_length=32, choices=ErrorKind.choices, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    retry_after_s = models.FloatField(null=True, blank=True)
    request_payload = models.JSONField(default=dict)
    response_text = models.TextField(blank=True)
    response_truncated = models.BooleanField(
        default=False, help_text="The reply was longer than LLM_MAX_REPLY_BYTES: response_text holds its start."
    )
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    slot_wait_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "LLM request"
        # each endpoint's latest outcome (its health in every picker) without walking all its requests
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="llm_request_endpoint_latest")]

    def __str__(self) -> str:
        return f"{self.endpoint_id}/{self.purpose} attempt {self.attempt}: {'ok' if self.ok else self.error_kind}"


class EndpointCheck(RunModel):
    """A round trip through the queue, a worker and the endpoint: proves the whole chain is wired."""

    created_by = None  # who asked is `requested_by`

    endpoint = models.ForeignKey(LLMEndpoint, on_delete=models.CASCADE, related_name="checks")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = ENDPOINT_CHECK.status_field()
    reply = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"check {self.pk} of {self.endpoint_id}: {self.status}"
