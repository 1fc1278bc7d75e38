"""The console's ranking side: sampling runs (start one from fields, watch it live, the tasks it made) and the
ranking settings on one page (where changing the overlap says what happens to open tasks and can apply it)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from annotation.consensus import add_rankings_needed, refresh_consensus_if_small
from annotation.files import AnnotationFileError
from annotation.oversight import (
    get_project_sampling_run,
    get_project_task,
    overlap_change_preview,
    sampling_runs_of_project,
    task_detail,
    tasks_of_run,
)
from annotation.sampling import cancel_sampling_run, resume_sampling_run, start_sampling_run
from annotation.services import (
    AnnotationError,
    apply_overlap_to_open_tasks,
    get_ranking_config,
    import_completion_uploads,
    make_gold_from_consensus,
    update_ranking_config,
)
from console.access import admin_project
from console.forms import RankingSettingsForm, SamplingForm
from core.forms import add_service_error
from core.lifecycle import RunStatus
from llm.selectors import endpoints_for_project

MAX_COMPLETION_FILES = 20  # files (one per model) one import may carry
SETTINGS_FIELDS = [name for name in RankingSettingsForm.base_fields if name not in ("apply_to_open", "use_helpsteer2")]


@login_required
def ranking_settings(request, slug: str):
    project = admin_project(request, slug)
    config = get_ranking_config(project=project)
    form = RankingSettingsForm(request.POST or None, initial={name: getattr(config, name) for name in SETTINGS_FIELDS})
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        method_before = config.consensus_method
        try:
            update_ranking_config(project=project, **{name: values[name] for name in SETTINGS_FIELDS})
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            text = _("Ranking settings saved.")
            if values["apply_to_open"]:
                done = apply_overlap_to_open_tasks(project=project)
                text += " " + _("%(changed)d open tasks now need %(overlap)d rankings; %(completed)d completed.") % {
                    "changed": done["changed"],
                    "overlap": values["overlap"],
                    "completed": done["completed"],
                }
            if values["consensus_method"] != method_before:
                text += " " + _consensus_refreshed(project)
            messages.success(request, text)
            return redirect("console-ranking-settings", slug=project.slug)
    config = get_ranking_config(project=project)
    context = {
        "project": project,
        "form": form,
        "config": config,
        "preview": overlap_change_preview(project=project, overlap=config.overlap),
    }
    return render(request, "console/ranking_settings.html", context, status=400 if form.errors else 200)


def _consensus_refreshed(project) -> str:
    """Existing consensus follows a new method: now when the project is small, else the admin runs the command."""
    done = refresh_consensus_if_small(project=project)
    if done is None:
        return _(
            "The project is too large to compute every consensus again here: run "
            "`manage.py agreement --project %(slug)s --refresh-consensus`."
        ) % {"slug": project.slug}
    return _("Consensus computed again with the new method for %(n)d tasks.") % {"n": done}


@login_required
@require_POST
def apply_overlap(request, slug: str):
    project = admin_project(request, slug)
    done = apply_overlap_to_open_tasks(project=project)
    overlap = get_ranking_config(project=project).overlap
    messages.success(
        request,
        _("%(changed)d open tasks now need %(overlap)d rankings; %(completed)d completed.")
        % {"changed": done["changed"], "overlap": overlap, "completed": done["completed"]},
    )
    return redirect("console-ranking-settings", slug=project.slug)


# --- sampling ---------------------------------------------------------------------------------------------------


@login_required
def sampling(request, slug: str):
    """The project's sampling runs and a form to start one."""
    project = admin_project(request, slug)
    usable = list(endpoints_for_project(project=project).order_by("name"))
    form = SamplingForm(request.POST or None, endpoints=usable)
    if request.method == "POST" and form.is_valid():
        by_name = {e.name: e for e in usable}
        values = form.cleaned_data
        try:
            run = start_sampling_run(
                project=project,
                endpoints=[(by_name[name], params) for name, params in form.plan()],
                per_prompt=values["per_prompt"],
                sources=tuple(values["sources"]),
                limit=values["limit"],
                created_by=request.user,
            )
        except AnnotationError as exc:
            add_service_error(form, exc)
        else:
            return redirect("console-sampling-run", slug=project.slug, run_id=run.pk)
    context = {
        "project": project,
        "form": form,
        "runs": sampling_runs_of_project(project=project)[:50],
        "k": get_ranking_config(project=project).completions_per_prompt,
    }
    return render(request, "console/sampling.html", context, status=400 if form.errors else 200)


def _run(project, run_id: int):
    run = get_project_sampling_run(project=project, run_id=run_id)
    if run is None:
        raise Http404("No such sampling run.")
    return run


def _run_context(project, run) -> dict:
    active = run.status in (RunStatus.QUEUED, RunStatus.RUNNING)
    return {"project": project, "run": run, "tasks": tasks_of_run(run=run), "active": active}


@login_required
def sampling_run(request, slug: str, run_id: int):
    project = admin_project(request, slug)
    return render(request, "console/sampling_run.html", _run_context(project, _run(project, run_id)))


@login_required
def sampling_run_live(request, slug: str, run_id: int):
    """The run's numbers and tasks alone: its page polls them while it runs."""
    project = admin_project(request, slug)
    return render(request, "console/sampling_run_live.html", _run_context(project, _run(project, run_id)))


@login_required
@require_POST
def sampling_run_action(request, slug: str, run_id: int, action: str):
    project = admin_project(request, slug)
    run = _run(project, run_id)
    actions = {"cancel": cancel_sampling_run, "resume": resume_sampling_run}
    if action not in actions:
        raise Http404("No such action.")
    try:
        actions[action](run=run)
    except AnnotationError as exc:
        messages.error(request, str(exc).partition(": ")[2] or str(exc))
    return redirect("console-sampling-run", slug=project.slug, run_id=run.pk)


# --- one ranking task -------------------------------------------------------------------------------------------


@login_required
def task_page(request, slug: str, task_id: int):
    """A ranking task as the admin inspects it: its completions with the letters labelers saw, each human ranking,
    the consensus, and the LLM judge's and the reward model's orders."""
    project = admin_project(request, slug)
    detail = task_detail(project=project, task_id=task_id)
    if detail is None:
        raise Http404("No such ranking task.")
    return render(request, "console/task.html", {"project": project, **detail})


@login_required
def task_jump(request, slug: str):
    """The dashboard's "Task #" box: to that task's page."""
    project = admin_project(request, slug)
    raw = request.GET.get("task", "")
    if not raw.isdigit() or len(raw) > 12:
        messages.error(request, _("task: give a task number."))
        return redirect("label-dashboard", slug=project.slug)
    return redirect("console-task", slug=project.slug, task_id=int(raw))


TASK_ACTIONS = ("gold", "more")


@login_required
@require_POST
def task_action(request, slug: str, task_id: int, action: str):
    """On a task's page: make it a gold task with its consensus as the answer, or ask for one more ranking."""
    project = admin_project(request, slug)
    task = get_project_task(project=project, task_id=task_id)
    if task is None or action not in TASK_ACTIONS:
        raise Http404("No such task or action.")
    try:
        if action == "gold":
            make_gold_from_consensus(task=task)
            messages.success(request, _("Task #%(id)d is a gold task now.") % {"id": task.pk})
        else:
            add_rankings_needed(task=task, extra=1)
            messages.success(request, _("Task #%(id)d asks for one more ranking.") % {"id": task.pk})
    except AnnotationError as exc:
        messages.error(request, str(exc))
    return redirect("console-task", slug=project.slug, task_id=task.pk)


@login_required
@require_POST
def import_completions(request, slug: str):
    """Completions written elsewhere (one file per model) become ranking tasks: all or nothing."""
    project = admin_project(request, slug)
    uploads = request.FILES.getlist("files")[: MAX_COMPLETION_FILES + 1]
    if not uploads or len(uploads) > MAX_COMPLETION_FILES:
        messages.error(
            request, _("files: upload between 1 and %(n)d files, one per model.") % {"n": MAX_COMPLETION_FILES}
        )
        return redirect("console-sampling", slug=project.slug)
    try:
        summary = import_completion_uploads(project=project, uploads=uploads)
    except (AnnotationError, AnnotationFileError) as exc:
        messages.error(request, _("Nothing was imported: %(error)s") % {"error": exc})
    else:
        messages.success(
            request,
            _("Imported %(n)d completions from %(models)s; %(tasks)d ranking tasks made, %(skipped)d already there.")
            % {
                "n": summary.completions_created,
                "models": ", ".join(summary.models),
                "tasks": summary.tasks_created,
                "skipped": summary.completions_skipped,
            }
            + " "
            + _("%(merged)d identical answers merged; %(single)d prompts with a single distinct answer (no task).")
            % {"merged": summary.completions_merged, "single": summary.prompts_single_answer},
        )
    return redirect("console-sampling", slug=project.slug)
