"""The chat playground: a project admin sends a conversation to an endpoint the project may use and gets the reply,
through the platform's client (an LLMRequest row with purpose playground); bad input is a 400 naming the field;
consumers may not spend the budget (403), and another project's endpoint is not there (404)."""

from llm.models import LLMRequest


def test_playground_api_replies_records_and_names_bad_fields(api_as, cast, project, endpoint, other_project):
    from llm.services import create_endpoint

    admin = api_as("project_admin")
    conversation = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one?"},
    ]
    body = {"project": "alpha", "endpoint": endpoint.name, "messages": conversation, "params": {"max_tokens": 40}}
    reply = admin.post("/api/v1/llm/playground", body, format="json")
    assert reply.status_code == 200, reply.content
    data = reply.json()
    assert data["reply"] and data["messages"][-1] == {"role": "assistant", "content": data["reply"]}
    row = LLMRequest.objects.get(pk=data["request"])
    assert row.purpose == "playground" and row.project_id == project.pk and row.ok
    assert row.request_payload["messages"] == conversation and row.request_payload["max_tokens"] == 40

    for params, field in (({"temperature": 5}, "params.temperature"), ({"n": 3}, "params.n"), ("hot", "params")):
        bad = admin.post("/api/v1/llm/playground", {**body, "params": params}, format="json")
        assert bad.status_code == 400 and bad.json()["detail"].startswith(field), bad.json()
    for messages, field in (
        ([{"role": "robot", "content": "x"}], "messages.0.role"),
        ([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}], "messages.1.role"),
        ([{"role": "user", "content": ""}], "messages.0.content"),
        ([], "messages:"),
    ):
        bad = admin.post("/api/v1/llm/playground", {**body, "messages": messages}, format="json")
        assert bad.status_code == 400 and bad.json()["detail"].startswith(field), bad.json()
    theirs = create_endpoint(name="theirs", base_url=endpoint.base_url, model="m", project=other_project)
    assert admin.post("/api/v1/llm/playground", {**body, "endpoint": theirs.name}, format="json").status_code == 404
    assert api_as("consumer").post("/api/v1/llm/playground", body, format="json").status_code == 403
    assert LLMRequest.objects.filter(purpose="playground").count() == 1


def test_playground_page_keeps_the_conversation_and_names_bad_fields(client, cast, endpoint):
    client.force_login(cast["project_admin"])
    page = client.get(f"/console/alpha/playground?endpoint={endpoint.name}").content.decode()
    assert f'<option value="{endpoint.name}" selected>' in page
    form = {"endpoint": endpoint.name, "system": "Be brief.", "conversation": "[]", "message": "Say hi."}
    first = client.post("/console/alpha/playground", {**form, "temperature": "0", "top_p": "1", "max_tokens": "30"})
    assert first.status_code == 200
    text = first.content.decode()
    assert text.count('class="card turn"') == 2 and 'id="reply-stats"' in text
    bad = client.post("/console/alpha/playground", {**form, "temperature": "9", "top_p": "1", "max_tokens": "30"})
    assert bad.status_code == 400 and "params.temperature" in bad.content.decode()
    client.force_login(cast["labeler"])
    assert client.get("/console/alpha/playground").status_code == 404


def test_the_playground_under_its_projects_route(api_as, project, endpoint, other_project):
    body = {"endpoint": endpoint.name, "messages": [{"role": "user", "content": "Hi."}], "params": {"max_tokens": 5}}
    url = f"/api/v1/projects/{project.slug}/llm/playground"
    reply = api_as("project_admin").post(url, body, format="json")
    assert reply.status_code == 200 and "Deprecation" not in reply
    assert LLMRequest.objects.get(pk=reply.json()["request"]).project_id == project.pk
    assert api_as("consumer").post(url, body, format="json").status_code == 403
    mismatch = api_as("project_admin").post(url, {**body, "project": other_project.slug}, format="json")
    assert mismatch.status_code == 400 and mismatch.json()["detail"].startswith("project:")
    flat = api_as("project_admin").post("/api/v1/llm/playground", {**body, "project": project.slug}, format="json")
    assert flat.status_code == 200 and flat["Link"] == f'<{url}>; rel="successor-version"'
