"""Reads for dataset versions (the API narrows them to the caller's project: projects.endpoints)."""

from django.db.models import QuerySet

from exports.models import DatasetVersion


def versions() -> QuerySet[DatasetVersion]:
    """Every dataset version, newest first, with its project; narrow it to a project before answering anyone."""
    return DatasetVersion.objects.select_related("project")


def get_version_by_id(*, version_id: int) -> DatasetVersion | None:
    """Unscoped lookup for admin-side tools (management commands); never use it to answer a user request."""
    return DatasetVersion.objects.select_related("project").filter(pk=version_id).first()


def stage_counts(*, project) -> dict:
    """The project's dataset versions in numbers, for its overview."""
    versions = DatasetVersion.objects.filter(project=project)
    return {"datasets": versions.count(), "datasets_ready": versions.filter(status="ready").count()}


def versions_of_project(*, project) -> QuerySet[DatasetVersion]:
    return DatasetVersion.objects.filter(project=project).order_by("-id")


def get_project_version(*, project, version_id: int) -> DatasetVersion | None:
    return DatasetVersion.objects.select_related("project").filter(project=project, pk=version_id).first()


PREVIEW_BYTES = 64 * 1024


def preview_rows(*, version: DatasetVersion, limit: int = 5) -> list[dict]:
    """The first rows of a ready version, read from the head of its rows file in storage (at most 64 KB)."""
    import json

    from core import storage
    from exports.files import ROWS, files_prefix

    if version.status != "ready":
        return []
    key = f"{files_prefix(version)}/{ROWS}"
    try:
        head = b"".join(storage.iter_range(key, 0, min(PREVIEW_BYTES, storage.size(key))))
    except (OSError, ValueError, *storage.UNAVAILABLE):
        return []
    rows = []
    for line in head.split(b"\n")[:-1][:limit]:  # whole lines only
        rows.append(json.loads(line))
    return rows


def stats_charts(*, version) -> dict[str, dict]:
    """A ready version's statistics shaped for bar charts: {chart: {"labels": [...], "datasets": {name: [...]}}};
    versions built before length histograms were kept have only the language and category charts."""
    stats = version.stats or {}
    charts: dict[str, dict] = {}
    bins, histograms = stats.get("length_bins"), stats.get("length_histograms")
    if bins and histograms:
        labels = [f"{low}–{high - 1}" for low, high in zip(bins, bins[1:], strict=False)] + [f"{bins[-1]}+"]
        last = max((max((i for i, n in enumerate(c) if n), default=0) for c in histograms.values()), default=0)
        charts["lengths"] = {
            "labels": labels[: last + 1],
            "datasets": {f: c[: last + 1] for f, c in histograms.items()},
        }
    for key in ("languages", "categories"):
        counts = sorted((stats.get(key) or {}).items(), key=lambda item: -item[1])[:30]
        if counts:
            charts[key] = {"labels": [k for k, _ in counts], "datasets": {"rows": [n for _, n in counts]}}
    if stats.get("margins"):
        margins = sorted(stats["margins"].items(), key=lambda item: float(item[0]))
        charts["margins"] = {"labels": [m for m, _ in margins], "datasets": {"pairs": [n for _, n in margins]}}
    return charts
