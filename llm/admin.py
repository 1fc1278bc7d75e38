from django.contrib import admin, messages
from django.utils import timezone

from core.admin_pages import ReadOnlyRecordMixin
from llm.models import EndpointCheck, LLMEndpoint, LLMRequest
from llm.selectors import endpoint_references
from llm.services import CONFIG_FIELDS, request_endpoint_check


@admin.register(LLMEndpoint)
class LLMEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "model", "base_url", "api_style", "api_key_env", "max_concurrency", "project", "is_active"]
    list_filter = ["api_style", "is_active", "project"]
    search_fields = ["name", "model", "base_url"]
    actions = ["check_endpoints"]

    def save_model(self, request, obj, form, change):
        if change and set(form.changed_data) & set(CONFIG_FIELDS):
            obj.config_changed_at = timezone.now()  # its earlier checks are about another server: stale
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        """Never an endpoint a run, request or completion names (their history would lose it): switch it off."""
        if obj is not None and endpoint_references(endpoint=obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, through the check above
        return actions

    @admin.action(description="Check selected endpoints (round trip through a worker)")
    def check_endpoints(self, request, queryset):
        for endpoint in queryset:
            request_endpoint_check(endpoint=endpoint, requested_by=request.user)
        self.message_user(request, f"Queued {queryset.count()} check(s); see Endpoint checks.", messages.SUCCESS)


@admin.register(LLMRequest)
class LLMRequestAdmin(ReadOnlyRecordMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "endpoint",
        "purpose",
        "attempt",
        "ok",
        "error_kind",
        "http_status",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "latency_ms",
    ]
    list_filter = ["ok", "error_kind", "endpoint", "purpose"]
    search_fields = ["call_id", "error_message"]
    readonly_fields = [f.name for f in LLMRequest._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(EndpointCheck)
class EndpointCheckAdmin(ReadOnlyRecordMixin, admin.ModelAdmin):
    list_display = ["created_at", "endpoint", "status", "latency_ms", "worker", "finished_at"]
    list_filter = ["status", "endpoint"]
    readonly_fields = [f.name for f in EndpointCheck._meta.fields]

    def has_add_permission(self, request):
        return False
