"""One admin page for the forms that start work (seed import, batches, sampling runs, dataset versions)."""

from django.shortcuts import render


def form_page(request, admin_site, form, title: str, submit_label: str):
    context = {**admin_site.each_context(request), "form": form, "title": title, "submit_label": submit_label}
    return render(request, "admin/form_page.html", context)
