"""Admin: ranking settings, prompts and completions, sampling runs (start/watch), tasks (gold), rankings, flags."""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html

from annotation.consensus import add_rankings_needed, resolve_flags
from annotation.files import AnnotationFileError
from annotation.forms import ImportCompletionsForm, JudgeForm, SamplingForm
from annotation.judging import cancel_judge_run, resume_judge_run, start_judge_run
from annotation.models import (
    Completion,
    Consensus,
    JudgeRanking,
    JudgeRun,
    Prompt,
    Ranking,
    RankingConfig,
    RankingTask,
    SamplingRun,
)
from annotation.sampling import cancel_sampling_run, resume_sampling_run, start_sampling_run
from annotation.services import AnnotationError, import_completion_uploads, set_gold
from core.admin_pages import ReadOnlyRecordMixin, form_page


@admin.register(RankingConfig)
class RankingConfigAdmin(admin.ModelAdmin):
    list_display = [
        "project",
        "completions_per_prompt",
        "overlap",
        "allow_ties",
        "gold_rate",
        "lease_minutes",
        "task_order",
        "show_rm_hint",
    ]
    readonly_fields = ["dashboard"]

    @admin.display(description="Dashboard")
    def dashboard(self, obj):
        if not obj.pk:
            return "-"
        return format_html('<a href="{}">open</a>', reverse("label-dashboard", args=[obj.project.slug]))


class CompletionInline(admin.TabularInline):
    model = Completion
    extra = 0
    fields = ["model", "origin_key", "text", "completion_tokens", "latency_ms"]
    readonly_fields = fields
    can_delete = False


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "source", "language", "category", "short_instruction"]
    list_filter = ["project", "source", "language"]
    search_fields = ["instruction", "input"]
    inlines = [CompletionInline]

    @admin.display(description="Instruction")
    def short_instruction(self, obj):
        return obj.instruction[:100]

    def get_urls(self):
        upload = path(
            "import-completions/",
            self.admin_site.admin_view(self.import_view),
            name="annotation_prompt_import_completions",
        )
        return [upload, *super().get_urls()]

    def import_view(self, request):
        form = ImportCompletionsForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                summary = import_completion_uploads(
                    project=form.cleaned_data["project"], uploads=request.FILES.getlist("files")
                )
            except AnnotationFileError as exc:
                form.add_error("files", str(exc))
            else:
                self.message_user(
                    request,
                    f"Imported {summary.completions_created} completion(s) from {', '.join(summary.models)}; "
                    f"{summary.tasks_created} ranking task(s) created, "
                    f"{summary.completions_skipped} already there, {summary.completions_merged} identical answer(s) "
                    f"merged, {summary.prompts_single_answer} prompt(s) with a single distinct answer.",
                    messages.SUCCESS,
                )
                return redirect("admin:annotation_rankingtask_changelist")
        return form_page(request, self.admin_site, form, "Import completions (all or nothing)", "Import")


@admin.register(SamplingRun)
class SamplingRunAdmin(ReadOnlyRecordMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "per_prompt",
        "status",
        "prompts_done",
        "prompts_total",
        "prompts_failed",
        "completions_created",
        "created_at",
    ]
    list_filter = ["status", "project"]
    readonly_fields = [f.name for f in SamplingRun._meta.fields]
    actions = ["resume", "cancel"]

    def add_view(self, request, form_url="", extra_context=None):
        form = SamplingForm(request.POST or None, initial={"project": request.GET.get("project")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                run = start_sampling_run(
                    project=data["project"],
                    endpoints=form.plan(),
                    per_prompt=data["per_prompt"],
                    sources=tuple(data["sources"]),
                    limit=data["limit"],
                    created_by=request.user,
                )
            except AnnotationError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Sampling run {run.pk} started for {run.prompts_total} prompt(s).")
                return redirect("admin:annotation_samplingrun_change", run.pk)
        return form_page(request, self.admin_site, form, "Sample completions", "Start")

    @admin.action(description="Resume (re-enqueue unfinished chunks)")
    def resume(self, request, queryset):
        for run in queryset:
            try:
                resume_sampling_run(run=run)
            except AnnotationError as exc:
                self.message_user(request, f"run {run.pk}: {exc}", messages.ERROR)

    @admin.action(description="Cancel")
    def cancel(self, request, queryset):
        for run in queryset:
            cancel_sampling_run(run=run)


@admin.register(RankingTask)
class RankingTaskAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "origin",
        "k",
        "rankings_count",
        "required",
        "active_count",
        "is_complete",
        "is_gold",
    ]
    list_filter = ["project", "is_complete", "is_gold", "origin"]
    readonly_fields = [f.name for f in RankingTask._meta.fields]
    actions = ["make_gold_from_consensus", "ask_one_more_ranking"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Make gold tasks, with their consensus ranking as the known answer")
    def make_gold_from_consensus(self, request, queryset):
        made = 0
        for task in queryset.select_related("consensus"):
            consensus = getattr(task, "consensus", None)
            if consensus is None:
                self.message_user(request, f"task {task.pk} has no consensus yet", messages.WARNING)
                continue
            set_gold(task=task, ranking=consensus.ranking)
            made += 1
        self.message_user(request, f"{made} gold task(s).")

    @admin.action(description="Ask for one more ranking")
    def ask_one_more_ranking(self, request, queryset):
        for task in queryset:
            add_rankings_needed(task=task, extra=1)


@admin.register(Ranking)
class RankingAdmin(ReadOnlyRecordMixin, admin.ModelAdmin):
    list_display = ["id", "task", "labeler", "flag", "flag_resolved", "is_gold", "time_spent_ms", "created_at"]
    list_filter = ["task__project", "flag", "flag_resolved", "is_gold"]
    readonly_fields = [f.name for f in Ranking._meta.fields]
    actions = ["resolve"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Mark flags resolved")
    def resolve(self, request, queryset):
        self.message_user(
            request, f"{resolve_flags(ranking_ids=list(queryset.values_list('pk', flat=True)))} flag(s) resolved."
        )


@admin.register(Consensus)
class ConsensusAdmin(ReadOnlyRecordMixin, admin.ModelAdmin):
    list_display = ["task", "ranking", "n_rankings", "method", "computed_at"]
    readonly_fields = [f.name for f in Consensus._meta.fields]

    def has_add_permission(self, request):
        return False


class JudgeRankingInline(admin.TabularInline):
    model = JudgeRanking
    extra = 0
    fields = ["task", "ranking", "scores", "created_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(JudgeRun)
class JudgeRunAdmin(ReadOnlyRecordMixin, admin.ModelAdmin):
    """Start an LLM judge over a project's tasks; watch it; see its rankings (and the dashboard for agreement)."""

    list_display = [
        "id",
        "project",
        "endpoint",
        "status",
        "tasks_done",
        "tasks_failed",
        "pairs_judged",
        "position_bias",
        "created_at",
    ]
    list_filter = ["project", "status"]
    readonly_fields = [
        "project",
        "endpoint",
        "status",
        "tasks_done",
        "tasks_failed",
        "pairs_judged",
        "pairs_flipped",
        "position_bias",
        "error",
        "created_by",
        "created_at",
        "finished_at",
    ]
    fields = readonly_fields
    inlines = [JudgeRankingInline]
    actions = ["resume", "cancel"]

    @admin.display(description="position-bias rate")
    def position_bias(self, obj):
        return "-" if obj.position_bias_rate is None else f"{obj.position_bias_rate:.3f}"

    def add_view(self, request, form_url="", extra_context=None):
        form = JudgeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                run = start_judge_run(
                    project=data["project"],
                    endpoint=data["endpoint"],
                    limit=data["limit"],
                    only_ranked=data["only_ranked"],
                    created_by=request.user,
                )
            except AnnotationError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Judge run {run.pk} started: {len(run.task_ids)} task(s).")
                return redirect("admin:annotation_judgerun_change", run.pk)
        return form_page(request, self.admin_site, form, "Judge ranking tasks with an LLM", "Start the judge")

    @admin.action(description="Resume (re-send) the selected runs")
    def resume(self, request, queryset):
        for run in queryset:
            try:
                resume_judge_run(run=run)
            except AnnotationError as exc:
                self.message_user(request, f"run {run.pk}: {exc}", level=messages.ERROR)

    @admin.action(description="Cancel the selected runs")
    def cancel(self, request, queryset):
        for run in queryset:
            cancel_judge_run(run=run)
