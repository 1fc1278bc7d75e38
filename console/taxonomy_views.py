"""The console's task-type taxonomy page: the types the tagger chooses from, edited here or reset to BELLE's."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from console.access import admin_project
from console.pool_forms import TaxonomyForm
from selfinstruct.taxonomy import TaxonomyError, reset_taxonomy, set_taxonomy, taxonomy_for


@login_required
def taxonomy(request, slug: str):
    """The task types the tagger chooses from (and quotas and stratified versions name): edit the list, or go back
    to BELLE's categories."""
    project = admin_project(request, slug)
    current = taxonomy_for(project)
    form = TaxonomyForm(request.POST if request.method == "POST" else None, initial=TaxonomyForm.initial_for(current))
    if request.method == "POST" and request.POST.get("reset"):
        reset_taxonomy(project=project)
        messages.success(request, _("The task types are BELLE's categories again."))
        return redirect("console-taxonomy", slug=project.slug)
    if request.method == "POST" and form.is_valid():
        try:
            saved = set_taxonomy(project=project, types=form.cleaned_data["types"])
        except TaxonomyError as exc:
            form.add_error("types", str(exc))
        else:
            messages.success(request, _("%(n)d task types saved.") % {"n": len(saved.types)})
            return redirect("console-taxonomy", slug=project.slug)
    context = {"project": project, "form": form, "taxonomy": current, "zh": (get_language() or "").startswith("zh")}
    return render(request, "console/taxonomy.html", context, status=400 if form.errors else 200)
