"""The console's pages for the instruction pool: seed tasks (import a file, browse, search, counts per language) and
the review of generated instructions (cards with their instances and nearest pool items, filters, keyboard and bulk
accept/reject)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from console.access import admin_project
from console.curation_forms import BulkActionForm
from console.pool_forms import ReviewFilterForm, SeedImportForm
from selfinstruct.curation_selectors import latest_changes
from selfinstruct.seeds import SeedFileError
from selfinstruct.selectors import (
    get_project_instructions,
    instructions_for_review,
    review_facets,
    seeds_of_project,
    stage_counts,
)
from selfinstruct.services import DUPLICATE_IDS_SHOWN, import_seed_upload, review_instructions

SEEDS_PER_PAGE = 50
CARDS_PER_PAGE = 25
MAX_BULK = 500  # ids one review request may carry
REVIEW_KEYS = ("batch", "status", "reason", "language", "q", "page")


def _page(request, rows, size: int):
    """One page of rows; a page number that is not a number, or past the end, gives the nearest page."""
    return Paginator(rows, size).get_page(request.GET.get("page"))


@login_required
def seeds(request, slug: str):
    """Browse and search the project's seed tasks, with counts per language, and import a file (all or nothing:
    every bad row is listed with its line and field)."""
    project = admin_project(request, slug)
    form = SeedImportForm(request.POST or None, request.FILES or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            result = import_seed_upload(
                project=project, upload=form.cleaned_data["file"], fmt=form.cleaned_data["format"]
            )
        except SeedFileError as exc:
            problems = exc.problems
            form.add_error(
                "file",
                ngettext(
                    "Nothing was imported: %(n)d problem in the file.",
                    "Nothing was imported: %(n)d problems in the file.",
                    len(problems),
                )
                % {"n": len(problems)},
            )
        else:
            languages = ", ".join(f"{k} {v}" for k, v in sorted(result.by_language.items())) or "—"
            messages.success(
                request,
                ngettext(
                    "Imported %(created)d seed task (%(languages)s);",
                    "Imported %(created)d seed tasks (%(languages)s);",
                    result.created,
                )
                % {"created": result.created, "languages": languages}
                + " "
                + ngettext("%(dup)d duplicate skipped.", "%(dup)d duplicates skipped.", result.duplicates)
                % {"dup": result.duplicates},
            )
            if result.duplicate_ids:  # imported all the same; two seed files numbering alike is worth a look
                more = len(result.duplicate_ids) - DUPLICATE_IDS_SHOWN
                messages.warning(
                    request,
                    ngettext(
                        "%(n)d imported seed task shares a source id with another seed: %(ids)s",
                        "%(n)d imported seed tasks share a source id with another seed: %(ids)s",
                        len(result.duplicate_ids),
                    )
                    % {"n": len(result.duplicate_ids), "ids": ", ".join(result.duplicate_ids[:DUPLICATE_IDS_SHOWN])}
                    + (_(" and %(more)d more") % {"more": more} if more > 0 else ""),
                )
            return redirect("console-seeds", slug=project.slug)
    query, language = request.GET.get("q", ""), request.GET.get("language", "")
    rows = seeds_of_project(project=project, query=query, language=language if language in ("en", "zh") else "")
    counts = stage_counts(project=project)
    page = _page(request, rows, SEEDS_PER_PAGE)
    page.object_list = list(page.object_list)
    latest = latest_changes(project=project, kind="seed", ids=[seed.pk for seed in page.object_list])
    for seed in page.object_list:
        seed.last_change = latest.get(seed.pk)  # "edited by ann, 3 minutes ago"
    context = {
        "project": project,
        "form": form,
        "problems": problems,
        "page": page,
        "bulk_form": BulkActionForm(kind="seed", project=project),
        "q": query[:200],
        "language": language,
        "total": counts["seeds"],
        "by_language": counts["seeds_by_language"],
    }
    return render(request, "console/seeds.html", context, status=400 if form.errors else 200)


@login_required
def review(request, slug: str):
    """Generated instructions as cards, filtered by batch, status, reason, language and text."""
    project = admin_project(request, slug)
    facets = review_facets(project=project)
    filters = ReviewFilterForm(request.GET or None, batches=facets["batches"], reasons=list(facets["reasons"]))
    values = filters.cleaned_data if filters.is_valid() else {}
    rows = instructions_for_review(
        project=project,
        batch_id=int(values["batch"]) if values.get("batch") else None,
        status=values.get("status", ""),
        reason=values.get("reason", ""),
        language=values.get("language", ""),
        query=values.get("q", ""),
        band=filters.band() if values else None,
    )
    page = _page(request, rows.select_related("batch"), CARDS_PER_PAGE)
    context = {"project": project, "filters": filters, "page": page, "facets": facets, "query": request.GET.urlencode()}
    return render(request, "console/review.html", context, status=400 if filters.errors else 200)


@login_required
@require_POST
def review_decide(request, slug: str):
    """Accept or reject the ticked (or the one clicked) instructions; back to the same filtered page."""
    project = admin_project(request, slug)
    decision = request.POST.get("decision")
    raw_ids = request.POST.getlist("ids")[: MAX_BULK + 1]
    if decision not in ("accept", "reject") or not raw_ids or len(raw_ids) > MAX_BULK:
        messages.error(request, _("Tick between 1 and %(n)d instructions, then accept or reject.") % {"n": MAX_BULK})
    elif not all(i.isdigit() and len(i) < 12 for i in raw_ids):
        messages.error(request, _("ids: whole numbers only."))
    else:
        rows = get_project_instructions(project=project, ids=[int(i) for i in raw_ids])
        changed, skipped = review_instructions(instructions=rows, accept=decision == "accept", reviewer=request.user)
        text = _("Accepted %(n)d.") if decision == "accept" else _("Rejected %(n)d.")
        if skipped:
            text += " " + _("%(skipped)d skipped: the pool already holds the same instruction.")
        text = text % {"n": changed, "skipped": skipped}
        if request.htmx and len(raw_ids) == 1:  # one card's button: that card, redrawn in place
            row = instructions_for_review(project=project).filter(pk=int(raw_ids[0])).select_related("batch").first()
            if row is not None:
                return render(request, "console/review_card.html", {"project": project, "row": row, "note": text})
        messages.success(request, text)
    back = QueryDict(request.POST.get("back", "")[:1000])  # the filters the page had, re-encoded: only known keys
    query = urlencode({key: back[key] for key in REVIEW_KEYS if back.get(key)})
    response = redirect("console-review", slug=project.slug)
    response["Location"] += f"?{query}" if query else ""
    return response
