"""Thin DRF view for the pool's diversity report, read by a project's members with data access."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from core.api import ErrorSerializer
from projects.endpoints import DATA, ProjectEndpoint
from selfinstruct.diversity import diversity_report


class DiversityApi(ProjectEndpoint):
    scopes = {"GET": DATA}

    @extend_schema(
        parameters=[
            OpenApiParameter("batch", int, description="One generation batch of the project; default: the pool."),
        ],
        responses={200: dict, 400: ErrorSerializer, 404: ErrorSerializer},
        description="How diverse the accepted instructions are: language mix, length spread, distinct-1/2, the "
        "nearest-neighbour ROUGE-L spread, the most frequent opening words; once tagged by a rating run, the task-type "
        "mix (`task_types`, `task_type_entropy`) and the commonest root verbs with their objects (`verb_objects`).",
    )
    def get(self, request):
        batch = request.query_params.get("batch", "")
        if batch and not (batch.isdigit() and len(batch) < 12):
            return Response({"detail": "batch: a batch id"}, status=400)
        return Response(diversity_report(project=self.project, batch_id=int(batch) if batch else None))
