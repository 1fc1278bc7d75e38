"""The console's pages for project admins (not staff): the project overview and generation batches (start one from
fields, watch it live, pause/resume/cancel it), live while work runs."""

import time
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from console.access import admin_project
from console.dataset_display import download_table, filter_summary, lineage_summary, preview_records
from console.forms import NewBatchForm, NewJobForm, NewVersionForm
from console.model_forms import TriggerForm
from console.pipeline import running, stages
from core.forms import add_service_error
from exports.selectors import get_project_version, preview_rows, stats_charts, versions_of_project
from exports.services import DatasetError, create_dataset_version
from projects.models import Role
from projects.selectors import get_project_for_user
from selfinstruct.batches import BatchError, cancel_batch, pause_batch, resume_batch, start_batch
from selfinstruct.selectors import batch_progress, batch_timeline, get_project_batch
from selfinstruct.services import ensure_builtin_templates
from selfinstruct.timeline import batch_events, pause_spans
from training.metric_selectors import MAX_COMPARE_JOBS
from training.models import GENERATIVE_KINDS, JOB_KIND_FOR_DATASET
from training.oversight import triggers_of_project
from training.selectors import jobs_of_project
from training.services import TrainingJobError, create_training_job


@login_required
def overview(request, slug: str):
    project = get_project_for_user(user=request.user, slug=slug, roles=(Role.ADMIN,))
    context = {"project": project, "stages": stages(project=project), "runs": running(project=project)}
    return render(request, "console/overview.html", context)


@login_required
def running_now(request, slug: str):
    """The stages and the running-now panel alone: the overview polls them (htmx) every few seconds."""
    project = get_project_for_user(user=request.user, slug=slug, roles=(Role.ADMIN,))
    context = {"project": project, "stages": stages(project=project), "runs": running(project=project)}
    return render(request, "console/running.html", context)


# --- generation -------------------------------------------------------------------------------------------------


def _batch(project, batch_id: int):
    batch = get_project_batch(project=project, batch_id=batch_id)
    if batch is None:
        raise Http404("No such batch.")
    return batch


NEW_BATCH_TOKEN_SECONDS = 3600  # how long a new-batch form's submit token names the batch it started
NEW_BATCH_WAIT_SECONDS = 10.0  # a second submit of the same form waits this long for the first one's batch


def _token_key(project, token: str) -> str:
    """The cache key a new-batch form's submit token holds (0 while its batch starts, then the batch's id); ""
    for a form without a well-formed token: nothing to guard."""
    if not token.isalnum() or len(token) != 32:
        return ""
    return f"console:new-batch:{project.pk}:{token}"


def _submitted_batch(key: str) -> tuple[str | None, int | None]:
    """(key, None): this submission holds the token and starts the batch; (None, id of the batch the same form's
    first submission started: a double-click); (None, None) when the first is still starting it after
    NEW_BATCH_WAIT_SECONDS."""
    deadline = time.monotonic() + NEW_BATCH_WAIT_SECONDS
    while True:
        if cache.add(key, 0, NEW_BATCH_TOKEN_SECONDS):  # free (or the first submission failed and let it go)
            return key, None
        batch_id = cache.get(key)
        if batch_id:
            return None, batch_id
        if time.monotonic() > deadline:
            return None, None
        time.sleep(0.1)


def _see_other(url: str) -> HttpResponseRedirect:
    """Post/redirect/get with 303: whatever answers a POST of the form, the address bar shows the page it names."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


@login_required
def new_batch(request, slug: str):
    """Start a generation batch from fields with defaults; on success, 303 to its live page (post/redirect/get).
    The form carries a one-time token: a double-click's second POST answers 303 to the batch the first one started
    (waiting for it while it starts, then to the overview's running panel); it never renders the batch here."""
    project = admin_project(request, slug)
    ensure_builtin_templates()  # the built-in templates exist before anyone picks one
    form = NewBatchForm(request.POST or None, project=project)
    token = request.POST.get("submit_token", "")[:64] if request.method == "POST" else uuid.uuid4().hex
    key = _token_key(project, token) if request.method == "POST" else ""
    if key and (already := cache.get(key)):  # sent before and started: whatever this copy of the form says
        return _see_other(reverse("console-batch", kwargs={"slug": project.slug, "batch_id": already}))
    if request.method == "POST" and form.is_valid():
        if key:
            key, already = _submitted_batch(key)
            if already:
                return _see_other(reverse("console-batch", kwargs={"slug": project.slug, "batch_id": already}))
            if key is None:
                messages.info(request, _("This form was sent twice; its batch is still starting: it shows here soon."))
                return _see_other(reverse("console-overview", kwargs={"slug": project.slug}))
        values = form.cleaned_data
        try:
            batch = start_batch(
                project=project,
                endpoint=values["endpoint"],
                template_name=values["template"].name,
                target=values["target"],
                language=values["language"] or None,
                topic=values["topic"],
                token_budget=values["token_budget"],
                cost_budget=values["cost_budget"],
                created_by=request.user,
                type_quotas=values["quotas"],
            )
        except BatchError as exc:
            if key:
                cache.delete(key)  # the form comes back with the error; submitting it again may start a batch
            add_service_error(form, exc)
        else:
            if key:
                cache.set(key, batch.pk, NEW_BATCH_TOKEN_SECONDS)
            return _see_other(reverse("console-batch", kwargs={"slug": project.slug, "batch_id": batch.pk}))
    status = 400 if form.errors else 200
    context = {"project": project, "form": form, "submit_token": token if form.errors else uuid.uuid4().hex}
    return render(request, "console/new_batch.html", context, status=status)


def _batch_context(project, batch) -> dict:
    progress = batch_progress(batch=batch)
    overshoot = max(progress["accepted"] - progress["target"], 0)
    events = batch_events(batch=batch)
    return {
        "project": project,
        "batch": batch,
        "progress": progress,
        "overshoot": overshoot,
        "timeline": batch_timeline(batch=batch),
        "last_event": events[-1] if events else None,
        "pauses": pause_spans(batch=batch, events=events),
        "charts": settings.CHARTJS_DIR.is_dir(),
    }


@login_required
def batch_page(request, slug: str, batch_id: int):
    project = admin_project(request, slug)
    return render(request, "console/batch.html", _batch_context(project, _batch(project, batch_id)))


@login_required
def batch_live(request, slug: str, batch_id: int):
    """The batch's numbers alone: its page polls them (htmx) while it runs."""
    project = admin_project(request, slug)
    return render(request, "console/batch_live.html", _batch_context(project, _batch(project, batch_id)))


BATCH_ACTIONS = {"pause": pause_batch, "resume": resume_batch, "cancel": cancel_batch}


@login_required
@require_POST
def batch_action(request, slug: str, batch_id: int, action: str):
    project = admin_project(request, slug)
    batch = _batch(project, batch_id)
    if action not in BATCH_ACTIONS:
        raise Http404("No such action.")
    try:
        BATCH_ACTIONS[action](batch=batch, by=request.user)
    except BatchError as exc:
        messages.error(request, str(exc).partition(": ")[2] or str(exc))
    return redirect("console-batch", slug=project.slug, batch_id=batch.pk)


# --- datasets ---------------------------------------------------------------------------------------------------


@login_required
def datasets(request, slug: str):
    """The project's dataset versions (building ones live) and a form to build a new one."""
    project = admin_project(request, slug)
    # the difficulty page links here with its band filled in (kind, scorer, metric, drop_easiest, drop_hardest)
    given = ("kind", "scorer", "metric", "drop_easiest", "drop_hardest")
    initial = {k: request.GET[k][:200] for k in given if k in request.GET}
    form = NewVersionForm(request.POST or None, initial=initial, project=project)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            version = create_dataset_version(
                project=project,
                kind=values["kind"],
                filters=form.filters(),
                test_fraction=values["test_fraction"],
                split_seed=values["split_seed"],
                name=values["name"],
                created_by=request.user,
            )
        except DatasetError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("console-dataset", slug=project.slug, version_id=version.pk)
    context = {"project": project, "form": form, "versions": versions_of_project(project=project)[:100]}
    return render(request, "console/datasets.html", context, status=400 if form.errors else 200)


def _version(project, version_id: int):
    version = get_project_version(project=project, version_id=version_id)
    if version is None:
        raise Http404("No such dataset version.")
    return version


@login_required
def dataset_page(request, slug: str, version_id: int):
    project = admin_project(request, slug)
    version = _version(project, version_id)
    return render(request, "console/dataset.html", _version_context(project, version))


@login_required
def dataset_live(request, slug: str, version_id: int):
    """The version's state alone: its page polls it while it builds."""
    project = admin_project(request, slug)
    version = _version(project, version_id)
    return render(request, "console/dataset_live.html", _version_context(project, version))


def _version_context(project, version) -> dict:
    ready = version.status == "ready"
    return {
        "project": project,
        "version": version,
        "records": preview_records(preview_rows(version=version)),
        "lineage": lineage_summary(version.lineage, slug=project.slug),
        "filters": filter_summary(version.filters),
        "downloads": download_table(version) if ready else None,
        "charts": _stat_charts(version) if version.status == "ready" else [],
        "chartjs": settings.CHARTJS_DIR.is_dir(),
    }


STAT_CHART_TITLES = {
    "lengths": (gettext_lazy("Rows by length"), gettext_lazy("characters")),
    "languages": (gettext_lazy("Rows by language"), ""),
    "categories": (gettext_lazy("Rows by category"), ""),
    "margins": (gettext_lazy("Pairs by margin (rank distance)"), gettext_lazy("margin")),
}
# The margins' title when some came from the labelers' preference strengths (the lineage's margin_from says).
STRENGTH_MARGINS_TITLE = gettext_lazy("Pairs by margin (preference strength where given, else rank distance)")


def _stat_charts(version) -> list[dict]:
    found = stats_charts(version=version)
    titles = dict(STAT_CHART_TITLES)
    if ((version.lineage or {}).get("margin_from") or {}).get("strength"):
        titles["margins"] = (STRENGTH_MARGINS_TITLE, titles["margins"][1])
    return [
        {"id": f"stats-{key}", "title": titles[key][0], "x": titles[key][1], "data": found[key]}
        for key in titles
        if key in found
    ]


# --- training ---------------------------------------------------------------------------------------------------


def _job_form(request, project):
    versions = versions_of_project(project=project).filter(status="ready")
    base_jobs = jobs_of_project(project=project).filter(kind__in=GENERATIVE_KINDS, status="succeeded")
    reward_jobs = jobs_of_project(project=project).filter(kind="reward", status="succeeded")
    return NewJobForm(request.POST or None, versions=versions, base_jobs=base_jobs, reward_jobs=reward_jobs)


@login_required
def training(request, slug: str):
    """The project's training jobs and a form to start one from a ready version (SFT or reward, by its kind)."""
    project = admin_project(request, slug)
    form = _job_form(request, project)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        version = values["dataset"]
        try:
            job = create_training_job(
                project=project,
                dataset_version=version,
                kind=form.job_kind(JOB_KIND_FOR_DATASET[version.kind]),
                base_model=values["base_model"] if not values["base_job"] else "",
                base_job=values["base_job"],
                reward_job=values["reward_job"],
                method=values["method"],
                hyperparameters=form.hyperparameters(),
                seed=values["seed"],
                created_by=request.user,
            )
        except TrainingJobError as exc:
            add_service_error(form, exc)
        else:
            return redirect("console-job", slug=project.slug, job_id=job.pk)
    context = {
        "project": project,
        "form": form,
        "jobs": jobs_of_project(project=project)[:100],
        "triggers": triggers_of_project(project=project),
        "trigger_form": TriggerForm(),
        "max_compare_jobs": MAX_COMPARE_JOBS,
    }
    return render(request, "console/training.html", context, status=400 if form.errors else 200)
