"""Reads for seed tasks."""

from django.db.models import Count

from selfinstruct.models import SeedTask


def seed_counts_by_language(*, project) -> dict[str, int]:
    return dict(SeedTask.objects.filter(project=project).values_list("language").annotate(n=Count("id")))
