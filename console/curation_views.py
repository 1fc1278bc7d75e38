"""The console's curation pages: one seed task's or generated instruction's record (its fields as a table, long texts
folded, its history), edited, re-labelled or deleted there; and bulk actions on the items a filter (or the ticked
rows) selects, after a confirmation that says how many items they change."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from console.access import admin_project
from console.curation_forms import BulkActionForm, ItemEditForm
from selfinstruct.curation import bulk_curate, delete_item, edit_item
from selfinstruct.curation_rules import FILTERS, CurationError, parse_filter_pairs
from selfinstruct.curation_selectors import (
    curation_history,
    first_example,
    get_curated_item,
    items_for_curation,
    latest_changes,
)
from selfinstruct.models import CurationKind

SHOWN_IN_BULK = 20  # matching items listed under a bulk action's form
LIST_PAGE = {CurationKind.SEED: "console-seeds", CurationKind.INSTRUCTION: "console-review"}


def _item_or_404(project, kind: str, item_id: int):
    item = get_curated_item(project=project, kind=kind, item_id=item_id)
    if item is None:
        raise Http404
    return item


def _initial(item, kind: str) -> dict:
    example = first_example(item)
    initial = {"instruction": item.instruction, "input": example["input"], "output": example["output"]}
    initial["language"] = item.language
    if kind == CurationKind.SEED:
        initial["is_classification"] = item.is_classification
    else:
        initial.update(task_type=item.task_type, status=item.status)
    return initial


@login_required
def item_page(request, slug: str, kind: str, item_id: int):
    """The item's record (fields, source, batch, history) and its edit form; a POST saves the changed fields."""
    project = admin_project(request, slug)
    item = _item_or_404(project, kind, item_id)
    initial = _initial(item, kind)
    form = ItemEditForm(request.POST or None, initial=initial, kind=kind, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            event = edit_item(item=item, changes=form.changes(), actor=request.user, via="page")
        except CurationError as exc:
            field, _sep, message = str(exc).partition(": ")
            form.add_error(field if field in form.fields else None, message or str(exc))
        else:
            messages.success(request, _("Saved.") if event else _("Nothing changed."))
            return redirect(request.path)
    context = {
        "project": project,
        "kind": kind,
        "item": item,
        "example": first_example(item),
        "form": form,
        "history": curation_history(project=project, kind=kind, object_id=item.pk),
        "list_url": LIST_PAGE[kind],
    }
    return render(request, "console/curation_item.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def item_delete(request, slug: str, kind: str, item_id: int):
    project = admin_project(request, slug)
    item = _item_or_404(project, kind, item_id)
    try:
        delete_item(item=item, actor=request.user, via="page")
    except CurationError as exc:
        messages.error(request, str(exc))
        return redirect(request.path.rsplit("/", 1)[0] + "/")
    messages.success(request, _("Deleted #%(id)d; its history is kept.") % {"id": item_id})
    return redirect(LIST_PAGE[kind], slug=project.slug)


def _filters(request, kind: str) -> tuple[dict, str]:
    """The selection a page asked for (its query, or the fields a form posted) and the same as a query string."""
    data = request.POST if request.method == "POST" else request.GET
    pairs = [f"{key}={data[key]}" for key in FILTERS[kind] if key != "ids" and data.get(key)]
    ids = [i for i in data.getlist("ids")[:10_001] if i]
    if ids:
        pairs.append("ids=" + ",".join(ids))
    query = urlencode([tuple(pair.split("=", 1)) for pair in pairs])
    return parse_filter_pairs(kind, pairs), query


@login_required
def bulk(request, slug: str, kind: str):
    """GET: the filter, how many items match, the first of them and the action to take. POST: the confirmation
    (how many items the action changes); POST with `confirm`: the action, then back to the list."""
    project = admin_project(request, slug)
    form = BulkActionForm(request.POST or None, kind=kind, project=project)
    try:
        filters, query = _filters(request, kind)
    except CurationError as exc:
        messages.error(request, str(exc))
        return redirect(LIST_PAGE[kind], slug=project.slug)
    rows = items_for_curation(project=project, kind=kind, filters=filters)
    hidden = [(key, ",".join(map(str, value)) if key == "ids" else value) for key, value in filters.items()]
    context = {"project": project, "kind": kind, "filters": filters, "hidden": hidden, "query": query, "form": form}
    if request.method == "POST" and form.is_valid():
        action, value = form.action_and_value()
        confirmed = request.POST.get("confirm") == "1"
        try:
            result = bulk_curate(
                project=project,
                kind=kind,
                rows=rows,
                action=action,
                value=value,
                actor=request.user,
                via="page",
                dry_run=not confirmed,
            )
        except CurationError as exc:
            form.add_error(None, str(exc))
        else:
            if not confirmed:
                context.update(result=result, action_label=dict(form.fields["action"].choices)[form.data["action"]])
                return render(request, "console/curation_confirm.html", context)
            text = _("%(changed)d of %(matched)d changed.") % {"changed": result.changed, "matched": result.matched}
            if result.skipped:
                text += " " + _("%(n)d skipped (duplicates of pool items, or in work).") % {"n": result.skipped}
            messages.success(request, text)
            back = redirect(LIST_PAGE[kind], slug=project.slug)
            plain = urlencode([(k, v) for k, v in filters.items() if k != "ids"])
            back["Location"] += f"?{plain}" if plain else ""
            return back
    shown = list(rows[:SHOWN_IN_BULK])
    latest = latest_changes(project=project, kind=kind, ids=[row.pk for row in shown])
    for row in shown:
        row.last_change = latest.get(row.pk)
    context.update(count=rows.count(), shown=shown)
    return render(request, "console/curation_bulk.html", context, status=400 if form.errors else 200)
