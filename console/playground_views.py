"""The chat playground page (LlamaBoard's Chat tab): a project admin tries any active endpoint of the project — its
served models first — with a system prompt, a conversation of turns and bounded sampling settings. The
conversation travels with the form (a hidden field), so the page keeps no state; each reply is one recorded call
(llm.playground)."""

import json

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from console.access import admin_project
from llm.health import with_health
from llm.playground import DEFAULT_PARAMS, PlaygroundError, playground_endpoints, playground_reply


def _number(text: str):
    """A form's number as the JSON API would carry it; what does not parse stays text, so the service names it."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    return int(value) if value.is_integer() else value


def _conversation(text: str) -> list[dict]:
    try:
        turns = json.loads(text or "[]")
    except ValueError:
        return []
    if not isinstance(turns, list):
        return []
    return [t for t in turns if isinstance(t, dict) and t.get("role") in ("user", "assistant")]


@login_required
def playground(request, slug: str):
    project = admin_project(request, slug)
    endpoints = with_health(list(playground_endpoints(project=project)))
    source = request.POST if request.method == "POST" else request.GET
    chosen = source.get("endpoint") or (endpoints[0].name if endpoints else "")
    system = request.POST.get("system", "")
    conversation = _conversation(request.POST.get("conversation", "")) if request.method == "POST" else []
    params = {name: _number(request.POST.get(name, default)) for name, default in DEFAULT_PARAMS.items()}
    error, reply, status = "", None, 200
    if request.method == "POST":
        message = request.POST.get("message", "")
        messages = [{"role": "system", "content": system}] if system.strip() else []
        messages += [*conversation, {"role": "user", "content": message}]
        try:
            reply = playground_reply(project=project, endpoint_name=chosen, messages=messages, params=params)
        except PlaygroundError as exc:
            # the message stays in the box either way: fix the field, or send it again when the endpoint failed
            error, status = str(exc), 502 if exc.code == "endpoint_failed" else 400
        else:
            conversation += [{"role": "user", "content": message}, {"role": "assistant", "content": reply.text}]
    context = {
        "project": project,
        "endpoints": endpoints,
        "chosen": chosen,
        "system": system,
        "conversation": conversation,
        "conversation_json": json.dumps(conversation, ensure_ascii=False),
        "params": params,
        "reply": reply,
        "error": error,
        "message": request.POST.get("message", "") if error else "",
    }
    return render(request, "console/playground.html", context, status=status)
