"""One admin page for the forms that start work (seed import, batches, sampling runs, dataset versions)."""

import json

from django import forms
from django.shortcuts import render

from core import safejson


def clean_json_object(raw: str) -> dict:
    """A form field's JSON object (empty → {}), or a ValidationError naming the line."""
    raw = (raw or "").strip()
    try:
        value = safejson.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(f"not valid JSON: {exc.msg} (line {exc.lineno})") from None
    except safejson.UnsafeJSON as exc:
        raise forms.ValidationError(str(exc)) from None
    if not isinstance(value, dict):
        raise forms.ValidationError("give a JSON object")
    return value


def form_page(request, admin_site, form, title: str, submit_label: str):
    context = {**admin_site.each_context(request), "form": form, "title": title, "submit_label": submit_label}
    return render(request, "admin/form_page.html", context)


class ReadOnlyRecordMixin:
    """For immutable records and runs' internal state: the admin shows them (view permission) but offers no Save
    and no Delete — they change only through their services (a run's actions, a new version)."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
