from django.contrib import admin

from selfinstruct.models import SeedTask


@admin.register(SeedTask)
class SeedTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "language", "is_classification", "short_instruction", "source"]
    list_filter = ["project", "language", "is_classification", "source"]
    search_fields = ["instruction", "name", "external_id"]
    readonly_fields = ["instruction_key", "created_at"]

    @admin.display(description="instruction")
    def short_instruction(self, obj):
        return obj.instruction[:100]
