"""The console's model pages: every trained model with what it can do next (serve it on a gpu worker and stop it,
register a server already running it, score the project's completions with a reward model, evaluate against
references), the project's evaluation, scoring and judge runs live, and one evaluation's results as tables."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from annotation.judging import cancel_judge_run, resume_judge_run, start_judge_run
from annotation.selectors import judge_runs_for_projects
from annotation.services import AnnotationError
from console.access import admin_project, project_job
from console.figures import evaluation_table
from console.model_forms import EvaluationForm, JudgeRunForm, RegisterServedForm, TriggerForm
from core.forms import add_service_error
from llm.health import with_health
from llm.selectors import endpoints_for_project
from projects.models import Project
from training.evaluations import resume_evaluation, start_evaluation_from_upload, start_round_evaluation
from training.metric_selectors import labelled_results
from training.oversight import (
    any_active,
    evaluation_page,
    evaluations_of_project,
    get_project_evaluation,
    scoring_runs_of_project,
    trained_models,
)
from training.reward_scoring import start_reward_scoring
from training.selectors import get_project_job
from training.services import (
    TrainingJobError,
    delete_trigger,
    register_running_server,
    save_trigger,
    set_trigger_enabled,
)
from training.serving_runs import latest_serving_by_job, serving_runs_of_project, start_serving, stop_serving


def _models_context(request, project, *, evaluation_form=None, judge_form=None) -> dict:
    usable = list(endpoints_for_project(project=project).order_by("name"))
    models = _with_serving(project, trained_models(project=project))
    served = next((m.served.name for m in models if m.served is not None), "")
    evaluations = evaluations_of_project(project=project)
    scorings = scoring_runs_of_project(project=project)
    judges = judge_runs_for_projects(projects=Project.objects.filter(pk=project.pk)).order_by("-id")
    return {
        "project": project,
        "models": models,
        "evaluations": evaluations[:30],
        "scorings": scorings[:30],
        "judges": judges.select_related("endpoint")[:30],
        "active": any_active(evaluations, scorings, judges),
        "evaluation_form": evaluation_form or EvaluationForm(endpoints=usable, model_default=served),
        "judge_form": judge_form or JudgeRunForm(endpoints=usable),
        "register_form": RegisterServedForm(),
        "judge_endpoints": with_health(usable),
    }


SHORT_RESULT_CHARS = 24  # a result longer than this (a note) is on the job's page only


def _with_serving(project, models):
    """Each model with its newest serving run (`serving`), whether its endpoint is up for use (`live_endpoint`) and
    its short results under their translated names (`result_rows`)."""
    latest = latest_serving_by_job(project=project, job_ids=[m.pk for m in models])
    for model in models:
        model.result_rows = [
            row
            for row in labelled_results(job=model)
            if row["value"] is not None and len(str(row["value"])) < SHORT_RESULT_CHARS
        ]
        model.serving = latest.get(model.pk)
        model.live_endpoint = model.served if model.served is not None and model.served.is_active else None
    return models


@login_required
def models(request, slug: str):
    project = admin_project(request, slug)
    return render(request, "console/models.html", _models_context(request, project))


@login_required
def models_live(request, slug: str):
    """The runs tables alone: the models page polls them while any run is going."""
    project = admin_project(request, slug)
    return render(request, "console/models_runs.html", _models_context(request, project))


@login_required
@require_POST
def serve(request, slug: str, job_id: int):
    """Register the server already running this SFT model, with its API key, as the project's endpoint job-<id>."""
    project = admin_project(request, slug)
    job = project_job(project, job_id)
    form = RegisterServedForm(request.POST)
    if form.is_valid():
        values = form.cleaned_data
        try:
            endpoint = register_running_server(job=job, base_url=values["base_url"], api_key=values["api_key"])
        except TrainingJobError as exc:
            messages.error(request, str(exc))
        else:
            text = _("Endpoint %(name)s registered: check it on the endpoints page.")
            messages.success(request, text % {"name": endpoint.name})
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    return redirect("console-models", slug=project.slug)


@login_required
@require_POST
def serving_start(request, slug: str, job_id: int):
    """Serve this model on a gpu worker (a serving run); the page follows it until the endpoint is up."""
    project = admin_project(request, slug)
    job = project_job(project, job_id)
    try:
        run = start_serving(job=job, created_by=request.user)
    except TrainingJobError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Serving run #%(id)d queued: a gpu worker starts the server.") % {"id": run.pk})
    return redirect("console-models", slug=project.slug)


@login_required
@require_POST
def serving_stop(request, slug: str, run_id: int):
    project = admin_project(request, slug)
    run = serving_runs_of_project(project=project).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such serving run.")
    try:
        stop_serving(run=run)
    except TrainingJobError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Stopped: endpoint job-%(job)d is switched off.") % {"job": run.job_id})
    return redirect("console-models", slug=project.slug)


@login_required
def serving_cell(request, slug: str, job_id: int):
    """One model's serving state alone: the models page polls it while a serving run starts or serves."""
    project = admin_project(request, slug)
    job = _with_serving(project, [m for m in trained_models(project=project) if m.pk == job_id])
    if not job:
        raise Http404("No such trained model.")
    context = {"project": project, "job": job[0], "register_form": RegisterServedForm()}
    return render(request, "console/models_serving.html", context)


@login_required
@require_POST
def score(request, slug: str, job_id: int):
    """Score the project's unscored completions with this reward model (a GPU worker does it)."""
    project = admin_project(request, slug)
    job = project_job(project, job_id)
    try:
        run = start_reward_scoring(job=job, created_by=request.user)
    except TrainingJobError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Scoring run #%(id)d queued.") % {"id": run.pk})
    return redirect("console-models", slug=project.slug)


@login_required
def evaluate(request, slug: str):
    project = admin_project(request, slug)
    usable = {e.name: e for e in endpoints_for_project(project=project)}
    form = EvaluationForm(request.POST or None, request.FILES or None, endpoints=list(usable.values()))
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        model = usable[values["model_endpoint"]]
        job_id = model.name.removeprefix("job-")  # a served model is its job's project's own endpoint
        own = model.project_id == project.pk and job_id.isdigit() and len(job_id) <= 18
        job = get_project_job(project=project, job_id=int(job_id)) if own else None
        try:
            run, skipped = start_evaluation_from_upload(
                project=project,
                upload=values["prompts"],
                model_endpoint=model,
                judge_endpoint=usable[values["judge_endpoint"]],
                per_category=values["per_category"],
                max_tokens=values["max_tokens"],
                job=job,
                created_by=request.user,
            )
        except TrainingJobError as exc:
            add_service_error(form, exc)
        else:
            if skipped:
                messages.info(request, _("%(n)d prompts without a reference answer were left out.") % {"n": skipped})
            return redirect("console-evaluation", slug=project.slug, run_id=run.pk)
    context = _models_context(request, project, evaluation_form=form)
    return render(request, "console/models.html", context, status=400 if form.errors else 200)


@login_required
def judge(request, slug: str):
    project = admin_project(request, slug)
    usable = {e.name: e for e in endpoints_for_project(project=project)}
    form = JudgeRunForm(request.POST or None, endpoints=list(usable.values()))
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            run = start_judge_run(
                project=project,
                endpoint=usable[values["endpoint"]],
                limit=values["limit"],
                only_ranked=values["only_ranked"],
                created_by=request.user,
            )
        except AnnotationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Judge run #%(id)d queued.") % {"id": run.pk})
            return redirect("console-models", slug=project.slug)
    context = _models_context(request, project, judge_form=form)
    return render(request, "console/models.html", context, status=400 if form.errors else 200)


def _evaluation(project, run_id: int):
    run = get_project_evaluation(project=project, run_id=run_id)
    if run is None:
        raise Http404("No such evaluation.")
    return run


def _evaluation_context(project, run) -> dict:
    page = evaluation_page(run=run)
    table = evaluation_table(page["columns"], page["rows"])  # headers translated, few-item figures flagged
    return {"project": project, "run": run, "active": run.status in ("queued", "running"), **page, "table": table}


@login_required
def evaluation(request, slug: str, run_id: int):
    project = admin_project(request, slug)
    return render(request, "console/evaluation.html", _evaluation_context(project, _evaluation(project, run_id)))


@login_required
def evaluation_live(request, slug: str, run_id: int):
    project = admin_project(request, slug)
    return render(request, "console/evaluation_live.html", _evaluation_context(project, _evaluation(project, run_id)))


# --- run actions on the models page ------------------------------------------------------------------------------


@login_required
@require_POST
def judge_action(request, slug: str, run_id: int, action: str):
    project = admin_project(request, slug)
    run = judge_runs_for_projects(projects=Project.objects.filter(pk=project.pk)).filter(pk=run_id).first()
    if run is None or action not in ("cancel", "resume"):
        raise Http404("No such judge run or action.")
    try:
        (cancel_judge_run if action == "cancel" else resume_judge_run)(run=run)
    except AnnotationError as exc:
        messages.error(request, str(exc))
    return redirect("console-models", slug=project.slug)


@login_required
@require_POST
def evaluation_resume(request, slug: str, run_id: int):
    """Run again the items of an evaluation not judged yet (judged items are kept)."""
    project = admin_project(request, slug)
    run = _evaluation(project, run_id)
    try:
        resume_evaluation(run=run)
    except TrainingJobError as exc:
        messages.error(request, str(exc))
    return redirect("console-evaluation", slug=project.slug, run_id=run.pk)


# --- triggers -----------------------------------------------------------------------------------------------------


@login_required
@require_POST
def triggers(request, slug: str):
    """Add a trigger (from the training page's form); refusals name the field there."""
    project = admin_project(request, slug)
    form = TriggerForm(request.POST)
    if form.is_valid():
        values = form.cleaned_data
        try:
            save_trigger(
                project=project,
                kind=values["kind"],
                base_model=values["base_model"],
                method=values["method"],
                hyperparameters=form.hyperparameters(),
            )
        except TrainingJobError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Trigger saved: the next ready version of its kind starts a job."))
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    return redirect("console-training", slug=project.slug)


@login_required
@require_POST
def trigger_action(request, slug: str, trigger_id: int, action: str):
    project = admin_project(request, slug)
    if action == "delete":
        delete_trigger(project=project, trigger_id=trigger_id)
    elif action in ("enable", "disable"):
        set_trigger_enabled(project=project, trigger_id=trigger_id, enabled=action == "enable")
    else:
        raise Http404("No such action.")
    return redirect("console-training", slug=project.slug)


@login_required
@require_POST
def win_rate(request, slug: str, job_id: int):
    """A round's win-rate from the models page: this model against the one it started from, held-out prompts."""
    project = admin_project(request, slug)
    job = project_job(project, job_id)
    judge_endpoint = endpoints_for_project(project=project).filter(name=request.POST.get("judge", "")[:64]).first()
    if judge_endpoint is None:
        messages.error(request, _("judge: pick one of the project's endpoints."))
        return redirect("console-models", slug=project.slug)
    try:
        run = start_round_evaluation(job=job, judge_endpoint=judge_endpoint, created_by=request.user)
    except TrainingJobError as exc:
        messages.error(request, str(exc))
        return redirect("console-models", slug=project.slug)
    return redirect("console-evaluation", slug=project.slug, run_id=run.pk)
