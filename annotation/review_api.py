"""Thin DRF views of the review stage, at /api/v1/projects/<slug>/review/…: the queue, one task as the reviewer sees
it, the three decisions (accept, reject a ranking, adjudicate), and the project's review policy. Reviewers and
admins only (others get 404); changing the policy is for admins (a reviewer gets 403). A decision names the task's
review_version it was made on: another reviewer's decision in between answers 409."""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from annotation import review, review_selectors
from annotation.api import CompletionViewSerializer, PromptViewSerializer
from annotation.models import ReviewPolicy, ReviewState
from annotation.review_models import ReviewDecision
from annotation.services import AnnotationError, get_ranking_config
from core.api import ErrorSerializer, service_error_response
from core.fields import IdField
from projects.endpoints import SCOPED_NAME, SCOPED_PREFIX, ProjectEndpoint, Scope, admins

REVIEWERS = Scope(see=review_selectors.REVIEW_ROLES)
QUEUE_LIMIT = 200


class OrderSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=["consensus", "reward_model", "judge"])
    method = serializers.CharField(allow_blank=True, help_text="The consensus's method (adjudicated: a reviewer's).")
    order = serializers.JSONField(help_text="Groups of completion ids, best first.")
    letters = serializers.CharField(help_text='The order in the answers\' letters: "B > A = D > C".')


class ReviewRankingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    labeler = serializers.CharField()
    order = serializers.JSONField()
    letters = serializers.CharField(allow_blank=True)
    agreement_with_consensus = serializers.FloatField(allow_null=True)
    flag = serializers.CharField(allow_blank=True)
    comment = serializers.CharField(allow_blank=True)
    rationale = serializers.CharField(allow_blank=True)
    aspects = serializers.JSONField()
    strengths = serializers.JSONField()
    time_spent_ms = serializers.IntegerField()
    rejected = serializers.BooleanField()
    reject_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class ReviewRecordSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=ReviewDecision.values)
    reviewer = serializers.CharField(allow_null=True)
    ranking = serializers.IntegerField(allow_null=True)
    order = serializers.JSONField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class ReviewTaskSerializer(serializers.Serializer):
    task = serializers.IntegerField()
    project = serializers.CharField()
    prompt = PromptViewSerializer()
    completions = CompletionViewSerializer(many=True)
    review_state = serializers.ChoiceField(choices=ReviewState.values, allow_blank=True)
    review_version = serializers.IntegerField(help_text="Send it back with your decision.")
    agreement = serializers.FloatField(allow_null=True, help_text="Mean pairwise agreement of the counted rankings.")
    is_complete = serializers.BooleanField()
    rankings = ReviewRankingSerializer(many=True)
    orders = OrderSerializer(many=True)
    reviews = ReviewRecordSerializer(many=True)


class QueueRowSerializer(serializers.Serializer):
    task = serializers.IntegerField()
    instruction = serializers.CharField()
    agreement = serializers.FloatField(allow_null=True)
    rankings_count = serializers.IntegerField()
    review_state = serializers.ChoiceField(choices=ReviewState.values, allow_blank=True)
    review_version = serializers.IntegerField()


class QueueSerializer(serializers.Serializer):
    policy = serializers.ChoiceField(choices=ReviewPolicy.choices)
    queued = serializers.IntegerField()
    accepted = serializers.IntegerField()
    adjudicated = serializers.IntegerField()
    results = QueueRowSerializer(many=True)


class PolicySerializer(serializers.Serializer):
    review_policy = serializers.ChoiceField(choices=ReviewPolicy.choices, required=False)
    review_sample_rate = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    review_agreement_below = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)


class VersionedInput(serializers.Serializer):
    version = serializers.IntegerField(min_value=0, max_value=2**31 - 1, help_text="The task's review_version.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=review.REASON_MAX_CHARS)


class RejectInput(VersionedInput):
    ranking = IdField(help_text="The id of the labeler's ranking to reject.")
    reason = serializers.CharField(max_length=review.REASON_MAX_CHARS, help_text="Why; the labeler reads it.")


class AdjudicateInput(VersionedInput):
    order = serializers.JSONField(help_text="Completion ids best first, e.g. [12, 15, 11, 14]; ties: [[12], [15, 11]].")


class DecisionSerializer(serializers.Serializer):
    task = serializers.IntegerField()
    decision = serializers.ChoiceField(choices=ReviewDecision.values)
    review_state = serializers.ChoiceField(choices=ReviewState.values, allow_blank=True)
    review_version = serializers.IntegerField()


class ReviewEndpoint(ProjectEndpoint):
    scopes = {"GET": REVIEWERS, "POST": REVIEWERS}

    def review_task(self, task_id: int, *, to_show: bool = True):
        task = review_selectors.get_review_task(project=self.project, task_id=task_id, to_show=to_show)
        if task is None:
            raise Http404("No such task.")
        return task


class ReviewQueueApi(ReviewEndpoint):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description=f"At most this many rows (≤ {QUEUE_LIMIT}).")],
        responses={200: QueueSerializer, 400: ErrorSerializer},
        description="The tasks waiting for review under the project's policy, oldest first, with the counts.",
    )
    def get(self, request):
        limit = request.query_params.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= QUEUE_LIMIT:
            raise ValidationError({"limit": [f"an integer from 1 to {QUEUE_LIMIT}"]})
        config = get_ranking_config(project=self.project)
        rows = review_selectors.review_queue(project=self.project, config=config).select_related("prompt")
        return Response(
            QueueSerializer(
                {
                    "policy": config.review_policy,
                    **review_selectors.review_counts(project=self.project, config=config),
                    "results": [
                        {
                            "task": t.pk,
                            "instruction": t.prompt.instruction[:200],
                            "agreement": t.agreement,
                            "rankings_count": t.rankings_count,
                            "review_state": t.review_state,
                            "review_version": t.review_version,
                        }
                        for t in rows[: int(limit)]
                    ],
                }
            ).data
        )


class ReviewNextApi(ReviewEndpoint):
    @extend_schema(
        parameters=[OpenApiParameter("after", int, description="Skip to the first task after this id.")],
        responses={
            200: ReviewTaskSerializer,
            204: OpenApiResponse(description="Nothing waits for review."),
            400: ErrorSerializer,
        },
        description="The queue's next task as the reviewer sees it (read only: nothing is claimed).",
    )
    def get(self, request):
        after = request.query_params.get("after")
        if after is not None and not (after.isascii() and after.isdigit() and len(after) <= 18):
            raise ValidationError({"after": ["a task id"]})
        config = get_ranking_config(project=self.project)
        task = review_selectors.next_review_task(
            project=self.project, config=config, after=int(after) if after else None
        )
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ReviewTaskSerializer(review_selectors.review_task_view(task=task)).data)


class ReviewTaskApi(ReviewEndpoint):
    @extend_schema(
        responses={200: ReviewTaskSerializer},
        description="One task as the reviewer sees it: every labeler's ranking beside the consensus, the reward "
        "model's and the judge's orders, their agreement and the decisions so far.",
    )
    def get(self, request, task_id: int):
        return Response(ReviewTaskSerializer(review_selectors.review_task_view(task=self.review_task(task_id))).data)


def _decision(serializer_class, decide, name: str, description: str):
    class DecisionApi(ReviewEndpoint):
        @extend_schema(
            request=serializer_class,
            responses={200: DecisionSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
            operation_id=f"review_tasks_{name}",
            description=description,
        )
        def post(self, request, task_id: int):
            task = self.review_task(task_id, to_show=False)
            data = serializer_class(data=request.data)
            if not data.is_valid():
                raise ValidationError(data.errors)
            try:
                row = decide(task, request.user, data.validated_data)
            except AnnotationError as exc:
                return service_error_response(exc)
            return Response(
                DecisionSerializer(
                    {
                        "task": task.pk,
                        "decision": row.decision,
                        "review_state": task.review_state,
                        "review_version": task.review_version,
                    }
                ).data
            )

    DecisionApi.__name__ = DecisionApi.__qualname__ = f"Review{name.capitalize()}Api"
    return DecisionApi


ReviewAcceptApi = _decision(
    VersionedInput,
    lambda task, user, v: review.accept_task(task=task, reviewer=user, version=v["version"], reason=v["reason"]),
    "accept",
    "Accept the task's consensus as it is.",
)
ReviewRejectApi = _decision(
    RejectInput,
    lambda task, user, v: review.reject_ranking(
        task=task, reviewer=user, version=v["version"], ranking_id=v["ranking"], reason=v["reason"]
    ),
    "reject",
    "Reject one labeler's ranking (the labeler reads the reason): it stops counting, the task asks for one more.",
)
ReviewAdjudicateApi = _decision(
    AdjudicateInput,
    lambda task, user, v: review.adjudicate_task(
        task=task, reviewer=user, version=v["version"], order=v["order"], reason=v["reason"]
    ),
    "adjudicate",
    "Write the task's order: it becomes the consensus (method adjudicated), kept with who, when and why.",
)


class ReviewPolicyApi(ProjectEndpoint):
    scopes = {"GET": REVIEWERS, "PATCH": admins("change the review policy", see=review_selectors.REVIEW_ROLES)}

    def _answer(self, config):
        return Response(PolicySerializer(config).data)

    @extend_schema(responses={200: PolicySerializer}, description="Which completed tasks go to review.")
    def get(self, request):
        return self._answer(get_ranking_config(project=self.project))

    @extend_schema(request=PolicySerializer, responses={200: PolicySerializer, 400: ErrorSerializer})
    def patch(self, request):
        data = PolicySerializer(data=request.data)
        if not data.is_valid():
            raise ValidationError(data.errors)
        v = data.validated_data
        try:
            config = review.set_review_policy(
                project=self.project,
                policy=v.get("review_policy"),
                sample_rate=v.get("review_sample_rate"),
                agreement_below=v.get("review_agreement_below"),
            )
        except AnnotationError as exc:
            return service_error_response(exc)
        return self._answer(config)


def _route(route: str, view, name: str):
    return path(SCOPED_PREFIX + "review/" + route, view.as_view(), name=SCOPED_NAME.format(name))


# New routes: project-scoped only (no deprecated flat twins).
api_urlpatterns = [
    _route("queue", ReviewQueueApi, "review-queue"),
    _route("next", ReviewNextApi, "review-next"),
    _route("policy", ReviewPolicyApi, "review-policy"),
    _route("tasks/<int:task_id>", ReviewTaskApi, "review-task"),
    _route("tasks/<int:task_id>/accept", ReviewAcceptApi, "review-accept"),
    _route("tasks/<int:task_id>/reject", ReviewRejectApi, "review-reject"),
    _route("tasks/<int:task_id>/adjudicate", ReviewAdjudicateApi, "review-adjudicate"),
]
