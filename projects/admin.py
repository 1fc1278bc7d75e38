from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse

from projects.models import Membership, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    actions = ["start_generation_batch"]

    @admin.action(description="Start a generation batch for the selected project")
    def start_generation_batch(self, request, queryset):
        project = queryset.first()
        return redirect(f"{reverse('admin:selfinstruct_generationbatch_add')}?project={project.pk}")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__slug"]
