"""Thin DRF views for ranking: claim the next task, submit/skip/heartbeat/undo, stats, rankings (the runs over
ranking tasks: annotation/runs_api.py)."""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import MethodNotAllowed, ParseError, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import claims, selectors, services
from annotation.aspects import RATIONALE_MAX_CHARS, Strength, questions_payload
from annotation.fastpath import Claimed
from annotation.models import MAX_K, Flag, RankingTask, RationaleMode
from annotation.ranking_rules import COMMENT_MAX_CHARS
from annotation.services import AnnotationError
from core.api import ErrorSerializer, service_error_response
from projects.endpoints import DATA, DEPRECATED_SINCE, ProjectEndpoint, Scope
from projects.models import Project, Role

LABELERS = Scope(see=selectors.LABELING_ROLES)
ADMINS_ONLY = Scope(see=(Role.ADMIN,))


def _body(request) -> dict:
    return request.data if isinstance(request.data, dict) else {}  # a JSON list or string names no project


class LabelingEndpoint(ProjectEndpoint):
    """The labelers' calls: claim, submit, skip, heartbeat, undo (LABELERS: others get 404). They are the app's
    hottest — on PostgreSQL a claim or a submit is one statement (annotation/fastpath.py) — so the project and the
    caller's labeling role are found in one statement (selectors.get_labeling_project) rather than the base's two,
    and on a flat task route (`annotation/tasks/<id>/…`) the task's own lookup, scoped to the projects the caller
    labels in, is the check. `self.role` stays None: these calls need only know that the caller labels here."""

    scopes = {"GET": LABELERS, "POST": LABELERS}  # what get_labeling_project checks, stated for readers and tools

    def initial(self, request, *args, **kwargs):
        APIView.initial(self, request, *args, **kwargs)  # authentication, permissions, throttles (not the base's)
        if self.deprecated and "task_id" in kwargs:
            self.projects = selectors.labeling_projects(user=request.user)
            return
        if self.deprecated:
            slug = request.query_params.get("project") or _body(request).get("project")
            if not isinstance(slug, str) or not slug:
                raise ParseError("project: give the project slug (?project=…)")
        else:
            slug = self.project_slug
            self.refuse_another_project(request, slug)
        self.project = selectors.get_labeling_project(user=request.user, slug=slug)
        self.projects = Project.objects.filter(pk=self.project.pk)

    def task(self, task_id: int) -> RankingTask:
        """The task when the caller labels in its project (on the project's route: when it is that project's)."""
        task = selectors.get_task_for_labeler(user=self.request.user, task_id=task_id)
        if self.project is not None and task.project_id != self.project.pk:
            raise Http404("No such task.")
        self.project = task.project  # the flat route's successor names it
        return task

    def require_task_in_project(self, task_id: int) -> None:
        """On the project's route, another project's task is not found (the flat route's submit checks the labeler's
        projects itself, in its one statement)."""
        if self.project is not None and not RankingTask.objects.filter(pk=task_id, project=self.project).exists():
            raise Http404("No such task.")


class PromptViewSerializer(serializers.Serializer):
    instruction = serializers.CharField()
    input = serializers.CharField(allow_blank=True)
    instruction_html = serializers.CharField(help_text="Sanitized HTML (Markdown rendered, no raw HTML).")
    input_html = serializers.CharField(allow_blank=True)
    language = serializers.CharField()


class CompletionViewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField(help_text="A, B, C… in the shown order.")
    text = serializers.CharField()
    html = serializers.CharField(help_text="Sanitized HTML.")


class LabelerProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    remaining = serializers.IntegerField()


class AspectSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    label_zh = serializers.CharField()
    min = serializers.IntegerField()
    max = serializers.IntegerField()


class QuestionsSerializer(serializers.Serializer):
    aspects = AspectSerializer(many=True, help_text="Rate every answer on each, a whole number from min to max.")
    ask_strength = serializers.BooleanField(help_text="Give a strength for each adjacent pair of your ranking.")
    strengths = serializers.ListField(child=serializers.CharField(), help_text="The strengths, strongest first.")
    rationale = serializers.ChoiceField(
        choices=RationaleMode.choices, help_text="Whether to give a rationale: off, optional or required."
    )


class TaskViewSerializer(serializers.Serializer):
    task = serializers.IntegerField()
    project = serializers.CharField()
    prompt = PromptViewSerializer()
    completions = CompletionViewSerializer(many=True)
    rm_hint = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="The reward model's order of the answers (labels, best first) when the project shows it; null "
        "otherwise (always null on gold tasks).",
    )
    lease_expires_at = serializers.DateTimeField()
    claimed_at = serializers.DateTimeField()
    allow_ties = serializers.BooleanField()
    guidelines = serializers.CharField(allow_blank=True)
    progress = LabelerProgressSerializer()
    questions = QuestionsSerializer(help_text="What the project asks besides the order, answered with the ranking.")


class _TextField(serializers.CharField):
    """A CharField that refuses a number or a boolean rather than storing its str() (`"rationale": 5` is a
    client's mistake, not the text "5")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class RankingInputSerializer(serializers.Serializer):
    ranking = serializers.JSONField(
        required=False,
        help_text="Completion ids best first, e.g. [12, 15, 11, 14]; "
        "with ties allowed, groups: [[12], [15, 11], [14]].",
    )
    flag = serializers.ChoiceField(choices=[f for f in Flag.values if f], required=False, default="")
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=COMMENT_MAX_CHARS)
    time_spent_ms = serializers.IntegerField(
        required=False, min_value=0, max_value=7 * 24 * 3600 * 1000, allow_null=True, default=None
    )
    aspects = serializers.JSONField(
        required=False,
        help_text='When the project asks aspects: every answer rated on each, {"<completion id>": {"<key>": 3, …}}.',
    )
    strengths = serializers.ListField(
        child=serializers.ChoiceField(choices=Strength.choices),
        required=False,
        max_length=MAX_K - 1,
        help_text="When the project asks: one per adjacent pair of the ranking, best first.",
    )
    rationale = _TextField(
        required=False, allow_blank=True, max_length=RATIONALE_MAX_CHARS, help_text="Why you ranked them so."
    )


_ANSWER_KEYS = ("aspects", "strengths", "rationale")
_PLAIN_BODY_KEYS = frozenset({"ranking", "time_spent_ms"})
_MAX_TIME_SPENT = RankingInputSerializer._declared_fields["time_spent_ms"].max_value


def _plain_ranking_body(data) -> dict | None:
    """The usual submit body, {"ranking": [...]} with or without a whole time_spent_ms, as RankingInputSerializer's
    validated data — without the serializer (about half a millisecond, a tenth of a submit). None for any other
    body, which the serializer then checks and words its errors for."""
    if type(data) is not dict or not data.keys() <= _PLAIN_BODY_KEYS or type(data.get("ranking")) is not list:
        return None
    spent = data.get("time_spent_ms")
    if spent is not None and not (type(spent) is int and 0 <= spent <= _MAX_TIME_SPENT):
        return None
    return {"ranking": data["ranking"], "flag": "", "comment": "", "time_spent_ms": spent}


class RankingOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    task = serializers.IntegerField(source="task_id")
    labeler = serializers.CharField(source="labeler.username")
    ranking = serializers.JSONField()
    flag = serializers.CharField(allow_blank=True)
    comment = serializers.CharField(allow_blank=True)
    time_spent_ms = serializers.IntegerField()
    aspects = serializers.JSONField()
    strengths = serializers.ListField(child=serializers.CharField())
    rationale = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


_WHEN = serializers.DateTimeField()  # formats a datetime as every serializer here does
_COMPLETION_KEYS = tuple(CompletionViewSerializer._declared_fields)


def _task_json(claimed, user) -> dict:
    """TaskViewSerializer's output, built directly: a claim is the labelers' hottest call, and the nested serializer
    cost more than the claim's own SQL (about 1.7 ms a task). The payload already holds JSON values but for the two
    datetimes and the completions' extra keys; test_the_answers_built_directly_equal_the_serializers checks both
    agree."""
    view = _task_payload(claimed, user)
    view["completions"] = [{key: c[key] for key in _COMPLETION_KEYS} for c in view["completions"]]
    for key in ("lease_expires_at", "claimed_at"):
        view[key] = _WHEN.to_representation(view[key])
    return view


def _ranking_json(row) -> dict:
    """RankingOutputSerializer's output, built directly (the submit's answer; see _task_json)."""
    return {
        "id": row.id,
        "task": row.task_id,
        "labeler": row.labeler.username,
        "ranking": row.ranking,
        "flag": row.flag,
        "comment": row.comment,
        "time_spent_ms": row.time_spent_ms,
        "aspects": row.aspects,
        "strengths": row.strengths,
        "rationale": row.rationale,
        "created_at": _WHEN.to_representation(row.created_at),
    }


def _task_payload(claimed, user) -> dict:
    assignment = claimed.assignment
    task = assignment.task
    config = services.get_ranking_config(project=task.project)
    return {
        **selectors.task_view(task=task, assignment=assignment, config=config, completions=claimed.completions),
        "allow_ties": config.allow_ties,
        "guidelines": task.project.guidelines,
        "progress": claimed.progress or selectors.labeler_progress(project=task.project, labeler=user),
        "questions": questions_payload(config),
    }


_NEXT_RESPONSES = {
    200: TaskViewSerializer,
    204: OpenApiResponse(description="No task left for you in this project."),
    400: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
}


def _claim_response(request, project) -> Response:
    try:
        claimed = claims.claim_next_task_view(project=project, labeler=request.user)
    except AnnotationError as exc:
        return service_error_response(exc)
    if claimed is None:
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(_task_json(claimed, request.user))


class NextTaskApi(LabelingEndpoint):
    """A claim is a write, so it is a POST. The GET that used to claim still does for API tokens (scripts written
    against it), marked deprecated; for a signed-in browser it claims nothing (405): a page elsewhere could make the
    browser send it, and a GET must be safe to prefetch, reload and follow."""

    claimed_by_get = False

    @extend_schema(
        request=None,
        responses=_NEXT_RESPONSES,
        description="Claim the next ranking task (or get back the one you hold, its lease renewed).",
    )
    def post(self, request):
        return _claim_response(request, self.project)

    @extend_schema(
        responses={
            **_NEXT_RESPONSES,
            405: OpenApiResponse(ErrorSerializer, description="Signed in by session (not a token): use POST."),
        },
        deprecated=True,
        description="Deprecated: use POST. With an API token, claims as POST does and answers with "
        "a `Deprecation` header and a `Link` to the project's POST route; signed in by session, claims nothing (405).",
    )
    def get(self, request):
        if not isinstance(request.successful_authenticator, TokenAuthentication):  # others' projects: 404 first
            query = f"?project={self.project.slug}" if self.deprecated else ""
            raise MethodNotAllowed("GET", detail=f"claim the next task with POST {request.path}{query}")
        self.claimed_by_get = True
        return _claim_response(request, self.project)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.claimed_by_get:  # this GET's own deprecation, on either route: its successor is the scoped POST
            response["Deprecation"] = f"@{int(DEPRECATED_SINCE.timestamp())}"
            successor = reverse("project-annotation-next", kwargs={"slug": self.project.slug})
            response["Link"] = f'<{successor}>; rel="successor-version"; title="POST claims the next task"'
        return response


class SubmitRankingApi(LabelingEndpoint):
    @extend_schema(
        request=RankingInputSerializer,
        responses={
            201: RankingOutputSerializer,
            200: RankingOutputSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        description="Submit a ranking (or a flag). The same submission again returns 200 with the stored one; a "
        "submission after your lease expired and the task went to someone else is refused with 409.",
    )
    def post(self, request, task_id: int):
        self.require_task_in_project(task_id)
        values = _plain_ranking_body(request.data)
        if values is None:
            data = RankingInputSerializer(data=request.data)
            if not data.is_valid():
                self.task(task_id)  # 404 first for others' tasks
                raise ValidationError(data.errors)
            values = data.validated_data
        try:
            row, created = claims.submit_ranking_to(
                task_id=task_id,
                labeler=request.user,
                ranking=values.get("ranking"),
                flag=values["flag"],
                comment=values["comment"],
                time_spent_ms=values["time_spent_ms"],
                project=self.project,
                answers={key: values[key] for key in _ANSWER_KEYS if key in values} or None,
            )
        except AnnotationError as exc:
            return service_error_response(exc)
        return Response(_ranking_json(row), status=201 if created else 200)


def _simple_task_action(action, name: str, description: str):
    class TaskActionApi(LabelingEndpoint):
        @extend_schema(
            request=None,
            responses={
                200: inline_serializer(f"Task{name.capitalize()}Result", {"ok": serializers.BooleanField()}),
                404: ErrorSerializer,
                409: ErrorSerializer,
            },
            operation_id=f"annotation_tasks_{name}",
            description=description,
        )
        def post(self, request, task_id: int):
            task = self.task(task_id)
            try:
                ok = action(task, request.user)
            except AnnotationError as exc:
                return service_error_response(exc)
            if ok is False:
                return Response({"detail": "you hold no live claim on this task"}, status=409)
            return Response({"ok": True})

    TaskActionApi.__name__ = f"Task{name.capitalize()}Api"
    return TaskActionApi


TaskSkipApi = _simple_task_action(
    lambda task, user: claims.skip_task(task=task, labeler=user),
    "skip",
    "Give the task back; you will not be served it again.",
)
TaskHeartbeatApi = _simple_task_action(
    lambda task, user: claims.renew_lease(task=task, labeler=user),
    "heartbeat",
    "Renew your lease while you work on the task.",
)


class UndoApi(LabelingEndpoint):
    @extend_schema(
        request=None,
        responses={200: TaskViewSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        description="Take back your latest submission in the project within its undo window; the task is yours again.",
    )
    def post(self, request):
        try:
            assignment = claims.undo_last_submission(project=self.project, labeler=request.user)
        except AnnotationError as exc:
            return service_error_response(exc)
        return Response(_task_json(Claimed(assignment, None, None), request.user))


class RankingListApi(ProjectEndpoint):
    scopes = {"GET": DATA}

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, required=False, description="Return rankings with id > after."),
            OpenApiParameter("limit", int, required=False, description="At most 1000 (default 500)."),
        ],
        responses={
            200: inline_serializer(
                "RankingPage",
                {
                    "results": inline_serializer(
                        "RawRanking",
                        {
                            "id": serializers.IntegerField(),
                            "task": serializers.IntegerField(),
                            "prompt_id": serializers.IntegerField(),
                            "labeler": serializers.CharField(),
                            "ranking": serializers.JSONField(),
                            "flag": serializers.CharField(allow_blank=True),
                            "is_gold": serializers.BooleanField(),
                            "time_spent_ms": serializers.IntegerField(),
                            "aspects": serializers.JSONField(),
                            "strengths": serializers.ListField(child=serializers.CharField()),
                            "rationale": serializers.CharField(allow_blank=True),
                            "consensus": serializers.JSONField(allow_null=True),
                            "created_at": serializers.DateTimeField(),
                        },
                        many=True,
                    ),
                    "next_after": serializers.IntegerField(allow_null=True),
                },
            ),
            400: ErrorSerializer,
            404: ErrorSerializer,
        },
        description="Raw rankings (always kept) with each task's consensus; page with ?after=<last id>.",
    )
    def get(self, request):
        try:
            after = int(request.query_params.get("after", 0))
            limit = min(max(int(request.query_params.get("limit", 500)), 1), 1000)
        except ValueError:
            return Response({"detail": "after/limit: must be integers"}, status=400)
        rows = list(selectors.rankings_for_projects(projects=[self.project]).filter(pk__gt=after)[:limit])
        results = [
            {
                "id": r.pk,
                "task": r.task_id,
                "prompt_id": r.task.prompt_id,
                "labeler": r.labeler.username,
                "ranking": r.ranking,
                "flag": r.flag,
                "is_gold": r.is_gold,
                "time_spent_ms": r.time_spent_ms,
                "aspects": r.aspects,
                "strengths": r.strengths,
                "rationale": r.rationale,
                "consensus": getattr(getattr(r.task, "consensus", None), "ranking", None),
                "created_at": r.created_at,
            }
            for r in rows
        ]
        return Response({"results": results, "next_after": rows[-1].pk if len(rows) == limit else None})


class StatsApi(ProjectEndpoint):
    scopes = {"GET": ADMINS_ONLY}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "include_judge",
                bool,
                required=False,
                description="Count the LLM judge's rankings as one more rater in pairwise agreement / Kendall's W.",
            ),
        ],
        responses={
            200: inline_serializer(
                "RankingStats",
                {
                    "progress": serializers.DictField(),
                    "labelers": serializers.ListField(child=serializers.DictField()),
                    "reward_model": serializers.DictField(),
                    "judge": serializers.DictField(),
                },
            ),
            400: ErrorSerializer,
            404: ErrorSerializer,
        },
        description="Project admins: progress, throughput, agreement (pairwise, Kendall's W), labeler table, "
        "agreement of human rankings with the reward model (hint shown or not), and the LLM judge: judge–human "
        "agreement and position-bias rate (pairs whose winner flipped when the order was swapped).",
    )
    def get(self, request):
        project = self.project
        return Response(
            {
                "progress": selectors.project_ranking_stats(
                    project=project, include_judge=request.query_params.get("include_judge") in ("1", "true")
                ),
                "labelers": selectors.labeler_table(project=project),
                "reward_model": selectors.reward_model_stats(project=project),
                "judge": selectors.judge_stats(project=project),
            }
        )
