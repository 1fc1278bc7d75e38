"""Writes for LLM endpoints and endpoint checks (each attempt's request record is the client's own write:
llm.client.record_request).

Like every app's services and tasks: `tasks` imports this module and calls it (a thin shell); this module reaches
its task only inside `send_endpoint_check` (the run kind's `send`), by a function-local import, so the two modules
import each other without either needing the other at import time. The client never imports this module."""

from __future__ import annotations

import socket
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from core import lifecycle
from core.errors import ServiceError
from core.lifecycle import RunStatus
from llm.egress import url_problem
from llm.keyscope import key_scope_problem, new_key_name_problem
from llm.models import ApiStyle, EndpointCheck, LLMEndpoint, LLMRequest
from llm.selectors import CHECK_PURPOSE, endpoint_references
from llm.served_names import reserved_name_problem

CHECK_PROMPT = "Reply with one short sentence that says you are reachable."
# what a check talks to: when one of these changes, earlier checks and requests no longer tell the endpoint's health
CONFIG_FIELDS = ("base_url", "model", "api_style", "api_key_env")


def create_endpoint(
    *,
    name: str,
    base_url: str,
    model: str,
    api_style: str = ApiStyle.CHAT,
    api_key_env: str = "",
    max_concurrency: int = 4,
    request_timeout_s: float = 60.0,
    max_retries: int = 5,
    price_input_per_1k: Decimal | float = 0,
    price_output_per_1k: Decimal | float = 0,
    project=None,
) -> LLMEndpoint:
    """Create or update the endpoint called `name`: global (project None, any project's runs may use it) or owned
    by `project`. For the platform's own registrations (a served model, the demo) and explicit edits; what a user
    creates goes through `add_endpoint` / `save_project_endpoint`, which refuse a taken name. Raises
    ValidationError naming the bad field."""
    endpoint = LLMEndpoint.objects.filter(name=name).first()
    if endpoint is None:
        if problem := taken_name_problem(name):  # the same name in other letter case: never a second entry
            raise ValidationError({"name": [problem.partition(": ")[2]]})
        endpoint = LLMEndpoint(name=name)
    before = {field: getattr(endpoint, field) for field in CONFIG_FIELDS}
    # an old slug-form key name stays only on the row of this project that already has it (llm.keyscope)
    owner_id = project.pk if project is not None else None
    key_kept = endpoint.pk is not None and endpoint.project_id == owner_id and endpoint.api_key_env == api_key_env
    endpoint.project = project
    if endpoint.served_key and endpoint.base_url != base_url.rstrip("/"):
        # a served model's key belongs to the server registered at that URL: never send it anywhere else (an admin
        # editing the URL would otherwise receive it); registering the server again stores a key for the new URL
        endpoint.served_key = ""
    endpoint.base_url = base_url.rstrip("/")
    endpoint.model = model
    endpoint.api_style = api_style
    endpoint.api_key_env = api_key_env
    endpoint.max_concurrency = max_concurrency
    endpoint.request_timeout_s = request_timeout_s
    endpoint.max_retries = max_retries
    endpoint.price_input_per_1k = Decimal(str(price_input_per_1k))
    endpoint.price_output_per_1k = Decimal(str(price_output_per_1k))
    endpoint.full_clean()
    problem = None
    if project is not None:
        check = key_scope_problem if key_kept else new_key_name_problem
        problem = check(project=project, name=api_key_env)
    if problem:  # a project endpoint's key must be its project's alone: it is sent to the endpoint's URL
        raise ValidationError({"api_key_env": [problem]})
    if endpoint.pk is not None and before != {field: getattr(endpoint, field) for field in CONFIG_FIELDS}:
        endpoint.config_changed_at = timezone.now()  # older checks are about another server: shown as stale
    try:
        with transaction.atomic():
            endpoint.save()
    except IntegrityError:  # another request took the name (in some letter case) a moment ago
        problem = taken_name_problem(name) or "name: " + _("another endpoint took this name a moment ago")
        raise ValidationError({"name": [problem.partition(": ")[2]]}) from None
    return endpoint


def add_endpoint(*, name: str, **fields) -> LLMEndpoint:
    """A new endpoint (site admins: global, or given to a project). A taken name is refused, never replaced:
    changing an endpoint is an explicit edit (`create_endpoint`, `update_endpoint`)."""
    if problem := taken_name_problem(name) or reserved_name_problem(name):
        raise EndpointError(problem)
    try:
        return create_endpoint(name=name, **fields)
    except ValidationError as exc:
        raise EndpointError(_first_error(exc)) from None


def taken_name_problem(name: str, *, project=None) -> str | None:
    """Why a new endpoint may not be called `name`, or None: an endpoint has that name (`project`'s own: edit it
    instead), or the same name in other letter case — pickers would list two near-identical entries, so names are
    unique ignoring case (the database's constraint too, llm migration 0006). The message starts with "name: "."""
    taken = list(LLMEndpoint.objects.filter(name__iexact=name).only("name", "project_id")[:5])
    if not taken:
        return None
    exact = next((endpoint for endpoint in taken if endpoint.name == name), None)
    if exact is None:
        return "name: " + _(
            "%(name)r differs only in letter case from the endpoint %(other)r; endpoint names are compared ignoring "
            "case: choose another name"
        ) % {"name": name, "other": taken[0].name}
    if project is None or exact.project_id == project.pk:
        return "name: " + _("an endpoint named %(name)r exists; edit it instead") % {"name": name}
    return "name: " + _("%(name)r is taken by another endpoint; choose another name") % {"name": name}


def _first_error(exc: ValidationError) -> str:
    field, errors = next(iter(exc.message_dict.items()))
    return f"{field}: {' '.join(errors)}"


class EndpointError(ServiceError):
    pass


def host_allowed(base_url: str) -> bool:
    return url_problem(base_url) is None


def save_project_endpoint(
    *, project, name: str, base_url: str, model: str, editing: bool = False, **fields
) -> LLMEndpoint:
    """Create (`editing` False: a taken name is refused) or edit (`editing` True: the project's endpoint of that
    name) an endpoint owned by `project`, as its admin may: a name no global or other project's endpoint has, a
    host and port a site admin allowed (PROJECT_ENDPOINT_HOSTS), a key variable in the project's own scope
    (LLM_KEY_P<id>_…, llm.keyscope). Errors name the field."""
    existing = LLMEndpoint.objects.filter(name=name).first()
    if existing is not None and existing.project_id != project.pk:
        raise EndpointError(taken_name_problem(name, project=project))
    if not editing and (taken := taken_name_problem(name, project=project)):
        raise EndpointError(taken)
    if existing is None and editing:
        raise EndpointError(
            "name: " + _("no endpoint named %(name)r in this project") % {"name": name}, code="not_found"
        )
    if existing is None and (reserved := reserved_name_problem(name)):  # its own served job-<id> stays editable
        raise EndpointError(reserved)
    problem = url_problem(base_url)
    if problem:
        raise EndpointError(f"base_url: {problem}")
    is_active = fields.pop("is_active", None)  # None: a new endpoint is on, an edited one stays as it was
    try:
        with transaction.atomic():
            endpoint = create_endpoint(name=name, base_url=base_url, model=model, project=project, **fields)
            if is_active is not None and endpoint.is_active != is_active:
                set_endpoint_active(endpoint, is_active)
    except ValidationError as exc:
        raise EndpointError(_first_error(exc)) from None
    return endpoint


def set_endpoint_active(endpoint: LLMEndpoint, active: bool) -> LLMEndpoint:
    """Switch an endpoint on or off. A switched-off endpoint is in no picker and no new run may use it; its history
    (requests, checks, the runs that used it) stays."""
    LLMEndpoint.objects.filter(pk=endpoint.pk).update(is_active=active)
    endpoint.is_active = active
    return endpoint


EDITABLE_FIELDS = (
    "base_url",
    "model",
    "api_style",
    "api_key_env",
    "max_concurrency",
    "request_timeout_s",
    "max_retries",
    "price_input_per_1k",
    "price_output_per_1k",
)


def update_endpoint(*, endpoint: LLMEndpoint, **changes) -> LLMEndpoint:
    """An explicit edit: the name and the owner stay, fields not given keep their values (`is_active` too). A
    project's endpoint keeps its project's rules (allowed hosts, key scope). Errors name the field."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS) - {"is_active"})
    if unknown:
        raise EndpointError(f"{unknown[0]}: " + _("not a field an edit may change"))
    values = {field: getattr(endpoint, field) for field in EDITABLE_FIELDS} | changes
    if endpoint.project_id is not None:
        return save_project_endpoint(project=endpoint.project, name=endpoint.name, editing=True, **values)
    is_active = values.pop("is_active", endpoint.is_active)
    try:
        with transaction.atomic():
            updated = create_endpoint(name=endpoint.name, **values)
            if updated.is_active != is_active:
                set_endpoint_active(updated, is_active)
    except ValidationError as exc:
        raise EndpointError(_first_error(exc)) from None
    return updated


def delete_endpoint(endpoint: LLMEndpoint) -> None:
    """Delete an endpoint nothing else names: its own checks (and their requests) go with it. One a run, a request
    or a completion names is refused (their history would lose it): switch it off instead."""
    with transaction.atomic():
        LLMEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()  # no run starts on it meanwhile
        used_by = endpoint_references(endpoint=endpoint)
        if used_by:
            what = ", ".join(f"{count} {label}" for label, count in used_by.items())
            raise EndpointError(
                "endpoint: "
                + _(
                    "%(name)s is used by %(what)s; deleting it would lose their history — switch it off instead (no "
                    "new run may use it)"
                )
                % {"name": endpoint.name, "what": what},
                code="conflict",
            )
        LLMRequest.objects.filter(endpoint=endpoint, purpose=CHECK_PURPOSE).delete()
        try:
            with transaction.atomic():
                endpoint.delete()
        except ProtectedError:  # a reference the count above did not know of: refused all the same
            raise EndpointError(
                "endpoint: " + _("%(name)s is still used; switch it off instead") % {"name": endpoint.name},
                code="conflict",
            ) from None


def request_endpoint_check(*, endpoint: LLMEndpoint, requested_by=None) -> EndpointCheck:
    """Queue a round trip through a worker to the endpoint; the worker fills in the row."""
    with transaction.atomic():
        check = EndpointCheck.objects.create(endpoint=endpoint, requested_by=requested_by, heartbeat_at=timezone.now())
        transaction.on_commit(lambda: send_endpoint_check(check.pk))
    return check


def record_endpoint_check(*, endpoint: LLMEndpoint, latency_ms: int, reply: str) -> EndpointCheck:
    """A check made outside the queue, stored as a finished, succeeded check: a served model's server answering its
    /health when its serving run switches it on (training.serving_runs), so every picker shows it "ok … just now"
    before a run first uses it, not "never checked"."""
    now = timezone.now()
    return EndpointCheck.objects.create(
        endpoint=endpoint,
        status=RunStatus.SUCCEEDED,
        heartbeat_at=now,
        started_at=now,
        finished_at=now,
        latency_ms=max(int(latency_ms), 0),
        reply=reply[:500],
    )


def send_endpoint_check(check_id: int) -> None:
    from llm.tasks import run_endpoint_check_task

    run_endpoint_check_task.apply_async((check_id,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def run_endpoint_check(*, check_id: int) -> None:
    """Idempotent: a redelivered message for a claimed or finished check does nothing."""
    kind = lifecycle.kind("endpoint-check")
    token = lifecycle.claim(kind, check_id, worker=socket.gethostname())
    if token is None:
        return
    with lifecycle.failing(kind, check_id, token=token, what=f"endpoint check {check_id}"):
        _check(check_id, token)


def _check(check_id: int, token) -> None:
    from llm.client import LLMError, call_llm

    check = EndpointCheck.objects.select_related("endpoint").get(pk=check_id)
    kind = lifecycle.kind("endpoint-check")
    try:
        reply = call_llm(check.endpoint, purpose=CHECK_PURPOSE, prompt=CHECK_PROMPT, max_tokens=64, temperature=0)
    except LLMError as exc:
        lifecycle.finish(kind, check_id, RunStatus.FAILED, token=token, error=str(exc))
    else:
        # Ours, not the reply itself: a check's result is shown on pages, and the endpoint's text is not ours to show
        # (the request row keeps it for site admins).
        summary = f"HTTP 200: a reply of {len(reply.text)} characters (finish reason {reply.finish_reason[:32]!r})"
        lifecycle.finish(kind, check_id, RunStatus.SUCCEEDED, token=token, reply=summary, latency_ms=reply.latency_ms)
