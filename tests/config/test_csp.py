"""Finding 9: a Content-Security-Policy that allows scripts only from the site's own files, and pages (ours, the
admin's, Swagger UI's) that carry no inline script or event-handler attribute, so the policy breaks nothing."""

import re

import pytest

from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


@pytest.mark.parametrize(
    ("who", "url"),
    [
        (None, "/accounts/login/"),
        (None, "/admin/login/"),
        (None, "/api/docs/"),
        ("labeler", "/label/alpha/"),
        ("labeler", "/"),
        ("project_admin", "/label/alpha/dashboard/"),
        ("admin", "/admin/"),
        ("admin", "/admin/annotation/prompt/import-completions/"),
        ("admin", "/admin/selfinstruct/generationbatch/"),
        ("admin", "/admin/training/trainingjob/"),
        ("admin", "/admin/llm/llmendpoint/add/"),
    ],
)
def test_pages_carry_the_policy_and_no_inline_script(client, cast, make_tasks, who, url):  # noqa: F811
    make_tasks(1)
    if who:
        client.force_login(cast[who])
    if url == "/label/alpha/":
        client.post(url)  # Start (the claim), so the GET shows the ranking page itself
    response = client.get(url)
    assert response.status_code == 200, url
    policy = response["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'"], policy
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html).group(0)
    assert not HANDLER_ATTRIBUTE.search(html), HANDLER_ATTRIBUTE.search(html).group(0)


def test_swagger_ui_start_up_script_is_a_file_of_its_own(client):
    page = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="([^"]*\?script[^"]*)"', page)
    assert script, "Swagger UI's start-up script is not served as a file"
    response = client.get(script.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and "SwaggerUIBundle" in response.content.decode()
