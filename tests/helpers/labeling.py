"""The labeler page's Start button for tests: the page never claims on GET, so a test that wants a task POSTs."""

from __future__ import annotations


def start_ranking(client, slug: str = "alpha", **extra):
    """POST /label/<slug>/ (the claim) and follow its redirect: the response is the page showing the claimed task
    (or the all-done page). `extra` (headers such as HTTP_ACCEPT_LANGUAGE) goes with both requests."""
    response = client.post(f"/label/{slug}/", follow=True, **extra)
    assert response.status_code == 200, response.status_code
    return response
