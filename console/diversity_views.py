"""The console's diversity page: how varied the pool (or one batch) is — numbers, and bars for length,
nearest-neighbour similarity, the most frequent opening words and the task types."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from console.access import admin_project
from selfinstruct.diversity import diversity_report


@login_required
def diversity(request, slug: str):
    """The pool's (or one batch's) diversity: numbers, and bars for length, nearest-neighbour similarity and the
    most frequent opening words."""
    project = admin_project(request, slug)
    batch = request.GET.get("batch", "")
    batch_id = int(batch) if batch.isdigit() and len(batch) < 12 else None
    report = diversity_report(project=project, batch_id=batch_id)
    charts = [
        ("length-data", _("Length (tokens)"), report["length"]),
        ("similarity-data", _("ROUGE-L to the nearest instruction"), report["nearest_similarity"]),
        (
            "openings-data",
            _("Most frequent opening words"),
            {"labels": [o["word"] for o in report["openings"]], "counts": [o["n"] for o in report["openings"]]},
        ),
    ]
    if report["task_types"]:
        zh = get_language().startswith("zh")
        types = report["task_types"]
        names = [t["name_zh"] if zh else t["name"] for t in types]
        charts.insert(0, ("types-data", _("Task types"), {"labels": names, "counts": [t["n"] for t in types]}))
    context = {
        "project": project,
        "report": report,
        "batch_id": batch_id,
        "charts": [
            {"id": cid, "title": title, "data": {"labels": d["labels"], "datasets": {title: d["counts"]}}}
            for cid, title, d in charts
        ],
    }
    return render(request, "console/diversity.html", context)
