"""Admin: seeds (with upload), templates (versioned), batches (start, watch live, pause/resume/cancel), review."""

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from core.admin_pages import ReadOnlyRecordMixin, form_page
from selfinstruct.batches import cancel_batch, pause_batch, resume_batch, start_batch
from selfinstruct.forms import SeedUploadForm, StartBatchForm
from selfinstruct.models import (
    GeneratedInstance,
    GeneratedInstruction,
    GenerationBatch,
    GenerationRequest,
    PromptTemplate,
    SeedTask,
)
from selfinstruct.seeds import SeedFileError
from selfinstruct.selectors import batch_progress
from selfinstruct.services import (
    BatchError,
    ensure_builtin_templates,
    import_seed_upload,
    review_instructions,
    save_template,
)


@admin.register(SeedTask)
class SeedTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "language", "is_classification", "short_instruction", "source"]
    list_filter = ["project", "language", "is_classification", "source"]
    search_fields = ["instruction", "name", "external_id"]
    # Seeds enter through the import (which keys, deduplicates and takes the pool lock); the instruction itself is
    # not editable here because the near-duplicate pool is keyed on it.
    readonly_fields = ["project", "instruction", "instruction_key", "language", "source", "created_at"]

    @admin.display(description="instruction")
    def short_instruction(self, obj):
        return obj.instruction[:100]

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        upload = path("import/", self.admin_site.admin_view(self.import_view), name="selfinstruct_seedtask_import")
        return [upload, *super().get_urls()]

    def import_view(self, request):
        form = SeedUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = import_seed_upload(
                    project=form.cleaned_data["project"],
                    upload=form.cleaned_data["file"],
                    fmt=form.cleaned_data["format"],
                )
            except SeedFileError as exc:
                for problem in exc.problems:
                    form.add_error("file", problem)
            else:
                self.message_user(
                    request,
                    f"Imported {result.created} seeds ({result.by_language}); {result.duplicates} duplicates skipped.",
                    messages.SUCCESS,
                )
                return redirect("admin:selfinstruct_seedtask_changelist")
        return form_page(request, self.admin_site, form, "Import seed tasks", "Import (all or nothing)")


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "method", "version", "num_demos", "num_machine_demos", "num_tasks", "is_builtin"]
    readonly_fields = ["version", "is_builtin", "updated_at"]

    def changelist_view(self, request, extra_context=None):
        ensure_builtin_templates()
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        save_template(template=obj)


class RequestInline(admin.TabularInline):
    model = GenerationRequest
    fields = [
        "lane",
        "step",
        "finish_reason",
        "parsed",
        "accepted",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "attempts",
        "error",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    show_change_link = True
    ordering = ["-id"]


@admin.register(GenerationBatch)
class GenerationBatchAdmin(ReadOnlyRecordMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "template_name",
        "language",
        "status",
        "accepted",
        "rejected",
        "target",
        "endpoint",
        "created_at",
    ]
    list_filter = ["status", "project", "language", "endpoint"]
    readonly_fields = [
        "project",
        "endpoint",
        "template",
        "template_snapshot",
        "language",
        "target",
        "topic",
        "params",
        "token_budget",
        "cost_budget",
        "status",
        "stop_reason",
        "lanes",
        "tokens_used",
        "cost_used",
        "consecutive_failures",
        "created_by",
        "created_at",
        "finished_at",
        "seed",
    ]
    exclude = []
    actions = ["pause", "resume", "cancel"]
    inlines = [RequestInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_accepted=Count("instructions", filter=Q(instructions__status="accepted")),
                n_rejected=Count("instructions", filter=Q(instructions__status="rejected")),
            )
        )

    @admin.display(description="template")
    def template_name(self, obj):
        return f"{obj.template_snapshot.get('name')} v{obj.template_snapshot.get('version')}"

    @admin.display(ordering="n_accepted")
    def accepted(self, obj):
        return obj.n_accepted

    @admin.display(ordering="n_rejected")
    def rejected(self, obj):
        return obj.n_rejected

    def has_add_permission(self, request):
        return request.user.is_staff

    def add_view(self, request, form_url="", extra_context=None):
        ensure_builtin_templates()
        form = StartBatchForm(request.POST or None, initial={"project": request.GET.get("project")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                batch = start_batch(
                    project=data["project"],
                    endpoint=data["endpoint"],
                    template_name=data["template"].name,
                    target=data["target"],
                    language=data["language"] or None,
                    topic=data["topic"],
                    token_budget=data["token_budget"],
                    cost_budget=data["cost_budget"],
                    created_by=request.user,
                )
            except BatchError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Batch {batch.pk} started with {batch.lanes} lane(s).", messages.SUCCESS)
                return redirect("admin:selfinstruct_generationbatch_change", batch.pk)
        return form_page(request, self.admin_site, form, "Start a generation batch", "Start")

    def get_urls(self):
        progress = path(
            "<int:batch_id>/progress/",
            self.admin_site.admin_view(self.progress_view),
            name="selfinstruct_generationbatch_progress",
        )
        return [progress, *super().get_urls()]

    def _progress_context(self, batch):
        return {
            "progress": batch_progress(batch=batch),
            "poll_url": reverse("admin:selfinstruct_generationbatch_progress", args=[batch.pk]),
        }

    def progress_view(self, request, batch_id):
        batch = get_object_or_404(GenerationBatch, pk=batch_id)
        return render(request, "selfinstruct/batch_progress.html", self._progress_context(batch))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = get_object_or_404(GenerationBatch, pk=object_id)
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), **self._progress_context(batch)}
        )

    def _apply(self, request, queryset, action, verb):
        done = 0
        for batch in queryset:
            try:
                action(batch=batch, by=request.user)
                done += 1
            except BatchError as exc:
                self.message_user(request, str(exc), messages.WARNING)
        if done:
            self.message_user(request, f"{verb} {done} batch(es).", messages.SUCCESS)

    @admin.action(description="Pause selected batches")
    def pause(self, request, queryset):
        self._apply(request, queryset, pause_batch, "Paused")

    @admin.action(description="Resume selected batches")
    def resume(self, request, queryset):
        self._apply(request, queryset, resume_batch, "Resumed")

    @admin.action(description="Cancel selected batches")
    def cancel(self, request, queryset):
        self._apply(request, queryset, cancel_batch, "Cancelled")


class InstanceInline(admin.TabularInline):
    model = GeneratedInstance
    fields = ["input", "output", "status", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(GeneratedInstruction)
class GeneratedInstructionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "short_instruction",
        "status",
        "reason",
        "max_similarity",
        "language",
        "is_classification",
        "instances_status",
        "batch",
    ]
    list_filter = ["status", "reason", "language", "is_classification", "instances_status", "batch", "project"]
    inlines = [InstanceInline]
    search_fields = ["instruction", "input", "output"]
    readonly_fields = [
        "project",
        "batch",
        "request",
        "instruction",
        "input",
        "output",
        "instruction_key",
        "language",
        "status",
        "reason",
        "most_similar",
        "max_similarity",
        "avg_similarity",
        "reviewed_by",
        "created_at",
    ]
    actions = ["accept", "reject"]

    @admin.display(description="instruction")
    def short_instruction(self, obj):
        return obj.instruction[:120]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Accept selected (exact duplicates of accepted rows are skipped)")
    def accept(self, request, queryset):
        changed, skipped = review_instructions(instructions=queryset, accept=True, reviewer=request.user)
        self.message_user(request, f"Accepted {changed}; skipped {skipped} exact duplicates.", messages.SUCCESS)

    @admin.action(description="Reject selected")
    def reject(self, request, queryset):
        changed, _ = review_instructions(instructions=queryset, accept=False, reviewer=request.user)
        self.message_user(request, f"Rejected {changed}.", messages.SUCCESS)


@admin.register(GenerationRequest)
class GenerationRequestAdmin(ReadOnlyRecordMixin, admin.ModelAdmin):
    list_display = ["id", "batch", "lane", "step", "finish_reason", "parsed", "accepted", "attempts", "error"]
    list_filter = ["batch", "finish_reason"]
    readonly_fields = [f.name for f in GenerationRequest._meta.fields]

    def has_add_permission(self, request):
        return False
