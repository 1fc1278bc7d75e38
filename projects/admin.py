from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse

from projects.models import ApiToken, Invitation, Membership, Project, Role
from projects.services import add_member, validate_new_username


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

    def save_related(self, request, form, formsets, change):
        """A project made here gets its creator as admin unless the form named one: none starts without an admin."""
        super().save_related(request, form, formsets, change)
        project = form.instance
        if not change and not project.memberships.filter(role=Role.ADMIN).exists():
            add_member(project=project, user=request.user, role=Role.ADMIN)

    @admin.action(description="Start a generation batch for the selected project")
    def start_generation_batch(self, request, queryset):
        project = queryset.first()
        return redirect(f"{reverse('admin:selfinstruct_generationbatch_add')}?project={project.pk}")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__slug"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens by their non-secret prefix; a key exists only when issued (CLI, console, API), so none is added here.
    Deleting one revokes it."""

    list_display = ["user", "prefix", "created_at", "last_used_at"]
    search_fields = ["user__username", "prefix"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at"]
    exclude = ["digest"]

    def has_add_permission(self, request):
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "invited_by", "expires_at"]
    list_filter = ["role", "project"]
    exclude = ["digest"]

    def has_add_permission(self, request):
        return False  # an invitation's link is shown once to whoever made it: the console makes them


class NewUserForm(AdminUserCreationForm):
    def clean_username(self):
        username = super().clean_username()
        try:
            validate_new_username(username)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["username"]) from None
        return username


class ProjectsUserAdmin(UserAdmin):
    """Django's user admin, creating users under the same name rules as create_user (ASCII, unique ignoring case)."""

    add_form = NewUserForm


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), ProjectsUserAdmin)
