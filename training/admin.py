"""Admin: start training jobs from a dataset version ("Train SFT" / "Train reward model"), watch progress and the
loss curve, cancel, download artifacts; manage automatic triggers."""

import json

from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin_pages import ReadOnlyRecordMixin, clean_json_object, form_page
from exports.models import DatasetVersion
from training import selectors
from training.evaluations import resume_evaluation
from training.jobs import TrainingJobError, check_base_model
from training.models import EvaluationItem, EvaluationRun, JobKind, JobMethod, TrainingJob, TrainingTrigger
from training.plots import line_chart
from training.reward_scoring import start_reward_scoring
from training.services import cancel_training_job, create_training_job, demo_base_model_path


class JobForm(forms.Form):
    dataset_version = forms.ModelChoiceField(queryset=DatasetVersion.objects.filter(status="ready"))
    kind = forms.ChoiceField(choices=JobKind.choices)
    base_model = forms.CharField(
        required=False, max_length=500, help_text="a checkpoint folder under TRAINING_MODEL_ROOTS, e.g. demo-tiny-llama"
    )
    base_job = forms.ModelChoiceField(
        queryset=TrainingJob.objects.filter(status="succeeded"),
        required=False,
        help_text="or start from the model an earlier job trained",
    )
    method = forms.ChoiceField(choices=JobMethod.choices)
    hyperparameters = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='JSON; left out keys take the defaults, e.g. {"epochs": 2, "learning_rate": 1e-4}',
    )
    seed = forms.IntegerField(initial=0, min_value=0)

    def clean_hyperparameters(self):
        return clean_json_object(self.cleaned_data["hyperparameters"])


@admin.register(TrainingJob)
class TrainingJobAdmin(ReadOnlyRecordMixin, admin.ModelAdmin):
    list_display = ["id", "project", "kind", "method", "dataset_version", "status", "progress", "created_at"]
    list_filter = ["project", "kind", "status"]
    readonly_fields = [
        "project",
        "dataset_link",
        "kind",
        "method",
        "base_model",
        "base_job",
        "seed",
        "status",
        "progress",
        "error",
        "lineage_view",
        "charts",
        "results_view",
        "hyperparameters_view",
        "artifact_links",
        "cancel_button",
        "scoring_view",
        "hostname",
        "pid",
        "heartbeat_at",
        "created_at",
        "started_at",
        "finished_at",
        "created_by",
    ]
    fields = readonly_fields

    @admin.display(description="progress")
    def progress(self, obj):
        if not obj.total_steps:
            return f"{obj.step}"
        eta = f", eta {obj.eta_seconds:.0f}s" if obj.eta_seconds and obj.status == "running" else ""
        return f"{obj.step}/{obj.total_steps} ({100 * obj.step // obj.total_steps}%{eta})"

    @admin.display(description="dataset version")
    def dataset_link(self, obj):
        url = reverse("admin:exports_datasetversion_change", args=[obj.dataset_version_id])
        return format_html('<a href="{}">{}</a>', url, obj.dataset_version)

    @admin.display(description="lineage")
    def lineage_view(self, obj):
        """The dataset version and what its rows came from, then the earlier rounds this model builds on."""
        data = selectors.lineage(job=obj)
        rows = []

        def add(label, value):
            if value not in (None, "", [], 0):
                rows.append((label, value))

        def describe(version):
            info = version["lineage"] or {}
            batch_links = format_html_join(
                ", ",
                '<a href="{}">batch {}</a>',
                ((reverse("admin:selfinstruct_generationbatch_change", args=[b]), b) for b in info.get("batches", [])),
            )
            add(f"dataset v{version['number']} ({version['kind']})", f"sha256 {version['content_hash'][:16]}…")
            add("generation batches", batch_links)
            add("templates", ", ".join(info.get("templates", [])))
            add("endpoints", ", ".join(info.get("endpoints", [])))
            add("seed tasks", info.get("seeds"))
            add("generated instructions", info.get("generated_instructions"))
            add("labelers", ", ".join(info.get("labelers", [])))
            add("ranked tasks / rankings", f"{info['tasks']} / {info['rankings']}" if info.get("tasks") else None)
            add("completion models", ", ".join(info.get("models", [])))
            add("sampling runs", ", ".join(map(str, info.get("sampling_runs", []))))

        describe(data["dataset_version"])
        add("base model", data["base_model"])
        for earlier in data["earlier_rounds"]:
            url = reverse("admin:training_trainingjob_change", args=[earlier["job"]])
            add(
                "built on",
                format_html(
                    '<a href="{}">job {}</a> ({}, {})', url, earlier["job"], earlier["kind"], earlier["status"]
                ),
            )
            describe(earlier["dataset_version"])
        body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        return format_html('<table class="lineage">{}</table>', body)

    @admin.display(description="curves")
    def charts(self, obj):
        series = selectors.metric_series(job=obj)
        loss = {k: series[k] for k in ("loss", "eval_loss") if k in series}
        accuracy = {k: series[k] for k in ("accuracy", "eval_accuracy") if k in series}
        svg = line_chart(loss, title="loss") + " " + line_chart(accuracy, title="reward accuracy")
        return mark_safe(svg) if svg.strip() else "-"  # numbers and escaped names only (training/plots.py)

    @admin.display(description="results")
    def results_view(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.results, indent=2, ensure_ascii=False))

    @admin.display(description="hyperparameters")
    def hyperparameters_view(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.hyperparameters, indent=2))

    @admin.display(description="artifacts")
    def artifact_links(self, obj):
        links = [
            (
                reverse("project-training-job-artifact", args=[obj.project.slug, obj.pk, a["name"]]),
                a["name"],
                f"{a['bytes']:,}",
            )
            for a in selectors.artifacts(job=obj)
        ]
        return format_html_join(mark_safe("<br>"), '<a href="{}">{}</a> ({} bytes)', links) if links else "-"

    @admin.display(description="")
    def cancel_button(self, obj):
        if obj.status == "running" and obj.cancel_requested:
            return "cancelling…"
        if obj.status not in ("queued", "running"):
            return "-"
        url = reverse("admin:training_trainingjob_cancel", args=[obj.pk])
        return format_html('<a class="button" href="{}">Cancel this job</a>', url)

    @admin.display(description="scoring")
    def scoring_view(self, obj):
        """Reward models: score the project's completions (hints for labelers, uncertainty-first order)."""
        if obj.kind != JobKind.REWARD:
            return "-"
        runs = format_html_join(
            mark_safe("<br>"),
            "run {}: {} — {}/{} completions, {} tasks ordered{}",
            (
                (
                    r.pk,
                    r.status,
                    r.completions_scored,
                    r.completions_total,
                    r.tasks_updated,
                    f" ({r.error})" if r.error else "",
                )
                for r in obj.scoring_runs.all()[:5]
            ),
        )
        button = ""
        if obj.status == "succeeded":
            url = reverse("admin:training_trainingjob_score", args=[obj.pk])
            button = format_html('<a class="button" href="{}">Score the project\'s completions</a>', url)
        return format_html("{}{}{}", runs, mark_safe("<br>") if runs and button else "", button) or "-"

    def get_urls(self):
        extra = [
            path(
                "<int:job_id>/cancel/", self.admin_site.admin_view(self.cancel_view), name="training_trainingjob_cancel"
            ),
            path("<int:job_id>/score/", self.admin_site.admin_view(self.score_view), name="training_trainingjob_score"),
        ]
        return extra + super().get_urls()

    def score_view(self, request, job_id: int):
        job = get_object_or_404(TrainingJob, pk=job_id)
        if request.method == "POST":
            try:
                run = start_reward_scoring(job=job, created_by=request.user)
                self.message_user(request, f"Scoring run {run.pk}: {run.completions_total} completion(s) to score.")
            except TrainingJobError as exc:
                self.message_user(request, str(exc), level=messages.ERROR)
            return redirect("admin:training_trainingjob_change", job.pk)
        title = f"Score the completions of {job.project} with reward model {job.pk}?"
        return form_page(request, self.admin_site, forms.Form(), title, "Queue the scoring run")

    def cancel_view(self, request, job_id: int):
        job = get_object_or_404(TrainingJob, pk=job_id)
        if request.method == "POST":
            try:
                self.message_user(request, f"Job {job.pk}: {cancel_training_job(job=job)}.")
            except TrainingJobError as exc:
                self.message_user(request, str(exc), level=messages.ERROR)
            return redirect("admin:training_trainingjob_change", job.pk)
        return form_page(request, self.admin_site, forms.Form(), f"Cancel training job {job.pk}?", "Cancel the job")

    def add_view(self, request, form_url="", extra_context=None):
        initial = {"dataset_version": request.GET.get("dataset"), "kind": request.GET.get("kind") or JobKind.SFT}
        if demo_base_model_path().is_dir():
            initial["base_model"] = demo_base_model_path().name
        form = JobForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            version = data["dataset_version"]
            try:
                job = create_training_job(
                    project=version.project,
                    dataset_version=version,
                    kind=data["kind"],
                    base_model=data["base_model"],
                    base_job=data["base_job"],
                    method=data["method"],
                    hyperparameters=data["hyperparameters"],
                    seed=data["seed"],
                    created_by=request.user,
                )
            except TrainingJobError as exc:
                field = str(exc).split(":", 1)[0].split(".")[0]
                form.add_error(field if field in form.fields else None, str(exc))
            else:
                self.message_user(request, f"Training job {job.pk} is queued on the gpu queue.")
                return redirect("admin:training_trainingjob_change", job.pk)
        title = {"sft": "Train an SFT model", "reward": "Train a reward model"}.get(initial["kind"], "Train")
        return form_page(request, self.admin_site, form, title, "Queue the job")


class TriggerForm(forms.ModelForm):
    class Meta:
        model = TrainingTrigger
        fields = ["project", "kind", "base_model", "method", "hyperparameters", "enabled"]

    def clean_base_model(self):
        try:
            check_base_model(self.cleaned_data["base_model"])
        except TrainingJobError as exc:
            raise forms.ValidationError(str(exc)) from None
        return self.cleaned_data["base_model"].strip()


@admin.register(TrainingTrigger)
class TrainingTriggerAdmin(admin.ModelAdmin):
    form = TriggerForm
    list_display = ["id", "project", "kind", "method", "base_model", "enabled"]
    list_filter = ["project", "enabled"]


class EvaluationItemInline(admin.TabularInline):
    model = EvaluationItem
    extra = 0
    fields = ["number", "category", "question", "answer", "model_score", "reference_score", "flipped", "error"]
    readonly_fields = fields
    can_delete = False


@admin.register(EvaluationRun)
class EvaluationRunAdmin(ReadOnlyRecordMixin, admin.ModelAdmin):
    """Evaluations are started from the CLI (evaluate_model) or the API; here: watch them and read the table."""

    list_display = [
        "id",
        "project",
        "model_endpoint",
        "judge_endpoint",
        "prompt_set",
        "status",
        "items_done",
        "items_total",
        "created_at",
    ]
    list_filter = ["project", "status"]
    readonly_fields = [
        "project",
        "job",
        "model_endpoint",
        "judge_endpoint",
        "prompt_set",
        "generation",
        "status",
        "items_total",
        "items_done",
        "items_failed",
        "table",
        "error",
        "created_at",
        "finished_at",
    ]
    fields = readonly_fields
    inlines = [EvaluationItemInline]
    actions = ["resume"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Resume (run again the items not judged yet; judged items are kept)")
    def resume(self, request, queryset):
        for run in queryset:
            count = resume_evaluation(run=run)
            self.message_user(request, f"evaluation {run.pk}: {count} item(s) queued again")

    @admin.display(description="per category")
    def table(self, obj):
        columns = selectors.EVALUATION_COLUMNS
        head = format_html_join("", "<th>{}</th>", ((c.replace("_", " "),) for c in columns))
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            (
                (format_html_join("", "<td>{}</td>", ((row.get(c, "–"),) for c in columns)),)
                for row in selectors.evaluation_rows(obj.results)
            ),
        )
        return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)
