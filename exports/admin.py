"""Admin: create dataset versions from a form, see their stats and lineage, download them."""

from django import forms
from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin_pages import ReadOnlyRecordMixin, clean_json_object, form_page
from exports.formats import SHAPES
from exports.models import DatasetKind, DatasetVersion
from exports.services import DatasetError, create_dataset_version
from projects.models import Project


class VersionForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    kind = forms.ChoiceField(choices=DatasetKind.choices)
    name = forms.CharField(required=False, max_length=200)
    filters = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='JSON, e.g. {"languages": ["zh"], "consensus": true, "min_agreement": 0.6}',
    )
    test_fraction = forms.FloatField(initial=0.1, min_value=0, max_value=0.99)
    split_seed = forms.IntegerField(initial=0, min_value=0)

    def clean_filters(self):
        return clean_json_object(self.cleaned_data["filters"])


@admin.register(DatasetVersion)
class DatasetVersionAdmin(ReadOnlyRecordMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "kind",
        "number",
        "status",
        "row_count",
        "train_rows",
        "test_rows",
        "short_hash",
        "created_at",
    ]
    list_filter = ["project", "kind", "status"]
    readonly_fields = [*(f.name for f in DatasetVersion._meta.fields), "downloads", "train"]

    @admin.display(description="hash")
    def short_hash(self, obj):
        return obj.content_hash[:12]

    @admin.display(description="Download")
    def downloads(self, obj):
        if obj.status != "ready":
            return "-"
        base = reverse("project-dataset-download", args=[obj.project.slug, obj.pk])
        links = [
            (f"{base}?format={shape}&split={split}", f"{shape} · {split}")
            for shape in SHAPES[obj.kind]
            for split in ("train", "test", "all")
        ]
        return format_html_join(mark_safe("<br>"), '<a href="{}">{}</a>', links)

    @admin.display(description="Train")
    def train(self, obj):
        if obj.status != "ready":
            return "-"
        kind = "sft" if obj.kind == "sft" else "reward"
        label = "Train SFT" if kind == "sft" else "Train reward model"
        url = reverse("admin:training_trainingjob_add") + f"?dataset={obj.pk}&kind={kind}"
        return format_html('<a class="button" href="{}">{}</a>', url, label)

    def add_view(self, request, form_url="", extra_context=None):
        form = VersionForm(request.POST or None, initial={"project": request.GET.get("project")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                version = create_dataset_version(
                    project=data["project"],
                    kind=data["kind"],
                    filters=data["filters"],
                    name=data["name"],
                    test_fraction=data["test_fraction"],
                    split_seed=data["split_seed"],
                    created_by=request.user,
                )
            except DatasetError as exc:
                form.add_error("filters", str(exc))
            else:
                self.message_user(request, f"Version {version.pk} is being built.")
                return redirect("admin:exports_datasetversion_change", version.pk)
        return form_page(request, self.admin_site, form, "Create a dataset version", "Create")
