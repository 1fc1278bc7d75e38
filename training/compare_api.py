"""GET /api/v1/projects/<slug>/training/compare: several training jobs of one project overlaid on chosen metrics
(final and lowest value, last step and the points of each), for whoever may read the project's jobs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api import ErrorSerializer, service_error_response
from core.errors import ServiceError
from projects.endpoints import DATA, ProjectEndpoint
from training.metric_selectors import MAX_COMPARE_JOBS, MAX_COMPARE_METRICS, compare_jobs, parse_job_ids, parse_metrics


class CompareQuerySerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=100, required=False, help_text="flat route only: the project's slug")
    jobs = serializers.CharField(
        max_length=500, help_text=f"comma-separated training job ids of the project, 1 to {MAX_COMPARE_JOBS}"
    )
    metric = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=2000,
        help_text=f"comma-separated metric names (up to {MAX_COMPARE_METRICS}); default loss, else the first metric "
        "every chosen job logged",
    )


class CompareJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField(help_text="job-<id> · kind/method")
    kind = serializers.CharField()
    method = serializers.CharField()
    status = serializers.CharField()


class MetricNameSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="the logged name (loss, eval_loss, rewards/accuracies …)")
    label = serializers.CharField(help_text="its readable name, in the request's language")


class CompareRunSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    label = serializers.CharField()
    final = serializers.FloatField(allow_null=True, help_text="the last logged value; null: never logged")
    min = serializers.FloatField(allow_null=True)
    last_step = serializers.IntegerField(allow_null=True)
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        help_text="[step, value] pairs in step order, at most 2000 (evenly thinned, the last kept)",
    )


class CompareMetricSerializer(MetricNameSerializer):
    runs = CompareRunSerializer(many=True)


class CompareSerializer(serializers.Serializer):
    project = serializers.CharField()
    jobs = CompareJobSerializer(many=True)
    shared_metrics = MetricNameSerializer(many=True, help_text="the metrics every chosen job logged")
    metrics = CompareMetricSerializer(many=True)


class TrainingCompareApi(ProjectEndpoint):
    scopes = {"GET": DATA}

    @extend_schema(
        parameters=[CompareQuerySerializer],
        responses={200: CompareSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        description=f"Compare up to {MAX_COMPARE_JOBS} training jobs of one project on the metrics they logged "
        "(as the console's comparison page): per metric, each job's final and lowest value, last step and curve. "
        "A job that is not in the project is refused (400, naming `jobs`), however it exists elsewhere; a project "
        "the caller may not read is 404.",
    )
    def get(self, request):
        query = CompareQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        try:
            comparison = compare_jobs(
                project=self.project, job_ids=parse_job_ids(values["jobs"]), metrics=parse_metrics(values["metric"])
            )
        except ServiceError as exc:
            return service_error_response(exc)
        return Response(CompareSerializer({"project": self.project.slug, **comparison}).data)
