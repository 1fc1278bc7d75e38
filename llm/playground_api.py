"""The chat playground's API: one turn of a conversation with an active endpoint of the project (project admins) —
at `projects/<slug>/llm/playground` (projects.endpoints; the flat `llm/playground` names the project in the body)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api import ErrorSerializer, service_error_response
from llm.playground import DEFAULT_PARAMS, MAX_MESSAGES, PlaygroundError, playground_reply
from projects.endpoints import ProjectEndpoint, admins


class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "user", "assistant"])
    content = serializers.CharField(trim_whitespace=False)


class PlaygroundInputSerializer(serializers.Serializer):
    project = serializers.SlugField(max_length=64, required=False, help_text="Only on the flat route llm/playground.")
    endpoint = serializers.CharField(max_length=64, help_text="an active endpoint the project may use, e.g. job-3")
    messages = serializers.JSONField(
        help_text=f"the conversation so far, ending with the user's message: [{{role, content}}, …] (system first "
        f"if any; at most {MAX_MESSAGES})"
    )
    params = serializers.JSONField(
        required=False,
        default=dict,
        help_text=f"temperature (0–2), top_p (0–1), max_tokens (1–32768); defaults {DEFAULT_PARAMS}",
    )


class PlaygroundReplySerializer(serializers.Serializer):
    reply = serializers.CharField(allow_blank=True, trim_whitespace=False)
    finish_reason = serializers.CharField(allow_blank=True)
    latency_ms = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    request = serializers.IntegerField(help_text="the LLM request row that recorded the call")
    messages = MessageSerializer(many=True, help_text="the conversation with the reply appended")


class PlaygroundApi(ProjectEndpoint):
    # a consumer may not spend the project's LLM budget (403); labelers and outsiders get 404
    scopes = {"POST": admins("use the playground (it spends the project's LLM budget)")}

    @extend_schema(
        request=PlaygroundInputSerializer,
        responses={
            200: PlaygroundReplySerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            502: ErrorSerializer,
        },
        description="Project admins: send the conversation to the endpoint and get its reply (one try, within the "
        "site's PLAYGROUND_TIMEOUT_SECONDS; recorded as an LLM request with purpose playground). A completions-style "
        "endpoint (a served model) gets the messages' text in order, as sampling runs send it. 502 when the "
        "endpoint failed (detail says how).",
    )
    def post(self, request):
        data = PlaygroundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            reply = playground_reply(
                project=self.project,
                endpoint_name=values["endpoint"],
                messages=values["messages"],
                params=values["params"],
            )
        except PlaygroundError as exc:
            if exc.code == "endpoint_failed":
                return Response({"detail": str(exc)}, status=502)
            return service_error_response(exc)
        return Response(
            {
                "reply": reply.text,
                "finish_reason": reply.finish_reason,
                "latency_ms": reply.latency_ms,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "request": reply.request_id,
                "messages": [*values["messages"], {"role": "assistant", "content": reply.text}],
            }
        )
