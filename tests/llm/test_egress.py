"""Issue 34, finding 2: a project endpoint's requests go only where a site admin allowed, when they are sent —
no redirect is followed, the host is resolved and checked then (private, loopback and link-local addresses only
when listed) and the connection goes to the checked address; ports are allow-listed; a check's result is ours."""

from __future__ import annotations

import socket

import pytest

from llm.client import LLMError, call_llm
from llm.models import EndpointCheck, LLMEndpoint, LLMRequest
from llm.services import (
    EndpointError,
    create_endpoint,
    request_endpoint_check,
    run_endpoint_check,
    save_project_endpoint,
)
from tests.llm.servers import Recorder, json_reply, redirect_to, text_reply


def _project_endpoint(project, url, **fields):
    return LLMEndpoint.objects.create(name="own", base_url=url, model="m", project=project, **fields)


@pytest.mark.parametrize("status", [307, 303, 302, 308])
@pytest.mark.parametrize("owned", [True, False])
def test_a_redirect_is_an_error_that_is_not_followed_nor_retried(project, status, owned):
    with Recorder(json_reply()) as refused, Recorder(redirect_to(refused.url + "/chat/completions", status)) as first:
        endpoint = create_endpoint(
            name="r", base_url=first.url, model="m", max_retries=3, project=project if owned else None
        )
        with pytest.raises(LLMError, match=rf"redirect \({status}\); redirects are not followed") as caught:
            call_llm(endpoint, purpose="test", prompt="hi", sleep=lambda s: pytest.fail("retried"))
        assert caught.value.attempts == 1 and not caught.value.retryable
        assert len(first.seen) == 1 and refused.seen == []
    row = LLMRequest.objects.get()
    assert (row.ok, row.http_status, row.error_kind) == (False, status, "client_error")


def _fake_dns(monkeypatch, answers: dict[str, list[str]]):
    """getaddrinfo answering from `answers` (each name's list is used up in turn, its last entry kept)."""
    real = socket.getaddrinfo
    asked = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        queue = answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def _recording_connect(monkeypatch):
    connected = []

    def create_connection(address, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("refused by the test")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return connected


@pytest.mark.parametrize("address", ["10.1.2.3", "169.254.169.254", "127.0.0.1", "192.168.0.9", "100.64.0.1"])
def test_a_host_resolving_to_an_unlisted_private_address_is_refused_when_called(
    project, settings, monkeypatch, address
):
    settings.PROJECT_ENDPOINT_HOSTS = ["models.example.com"]
    _fake_dns(monkeypatch, {"models.example.com": [address]})
    connected = _recording_connect(monkeypatch)
    endpoint = save_project_endpoint(project=project, name="own", base_url="http://models.example.com/v1", model="m")
    with pytest.raises(LLMError, match="not public and that no site admin allowed") as caught:
        call_llm(endpoint, purpose="test", prompt="hi", sleep=lambda s: pytest.fail("retried"))
    assert caught.value.kind == "configuration" and connected == []
    # A site admin may list the network (GPU boxes on a private network): then it is reached.
    settings.PROJECT_ENDPOINT_NETWORKS = [address.rsplit(".", 1)[0] + ".0/24"]
    with pytest.raises(LLMError, match="connection"):
        call_llm(endpoint.__class__.objects.get(pk=endpoint.pk), purpose="test", prompt="hi", sleep=lambda s: None)
    assert connected and connected[0] == (address, 80)


def test_the_connection_goes_to_the_checked_address_not_to_a_second_lookup(project, settings, monkeypatch):
    """DNS rebinding: the first answer is public, every later one loopback. The request connects to the address
    that was checked; a later request, resolving to loopback, is refused."""
    settings.PROJECT_ENDPOINT_HOSTS = ["rebind.example.com"]
    asked = _fake_dns(monkeypatch, {"rebind.example.com": ["93.184.216.34", "127.0.0.1"]})
    connected = _recording_connect(monkeypatch)
    endpoint = save_project_endpoint(
        project=project, name="own", base_url="http://rebind.example.com/v1", model="m", max_retries=0
    )
    with pytest.raises(LLMError, match="connection"):
        call_llm(endpoint, purpose="test", prompt="hi")
    assert connected == [("93.184.216.34", 80)] and asked == ["rebind.example.com"]
    with pytest.raises(LLMError, match="resolves to 127.0.0.1"):
        call_llm(endpoint, purpose="test", prompt="hi")
    assert connected == [("93.184.216.34", 80)]


def test_the_pinned_connection_keeps_the_host_header(project, settings, monkeypatch):
    with Recorder(json_reply()) as server:
        port = server.server_address[1]
        settings.PROJECT_ENDPOINT_HOSTS = ["gpu1.models.internal"]
        settings.PROJECT_ENDPOINT_NETWORKS = ["127.0.0.0/8"]
        _fake_dns(monkeypatch, {"gpu1.models.internal": ["127.0.0.1"]})
        endpoint = save_project_endpoint(
            project=project, name="own", base_url=f"http://gpu1.models.internal:{port}/v1", model="m"
        )
        assert call_llm(endpoint, purpose="test", prompt="hi").text == "hi"
    assert server.seen[0][2]["host"] == f"gpu1.models.internal:{port}"


def test_ports_are_allow_listed_when_saved_and_when_called(project, settings):
    from llm import egress

    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1", "[::1]:8000", ".models.internal:*"]
    settings.PROJECT_ENDPOINT_PORTS = ["80", "443"]
    assert egress.url_problem("http://127.0.0.1/v1") is None and egress.url_problem("https://127.0.0.1/v1") is None
    assert egress.url_problem("http://[::1]:8000/v1") is None
    assert egress.url_problem("http://a.models.internal:9/") is None
    assert "port 8000" in egress.url_problem("http://127.0.0.1:8000/v1")
    assert "port 80 " in egress.url_problem("http://[::1]/v1")
    assert "not one a site admin allowed" in egress.url_problem("http://10.0.0.1:80/v1")
    with pytest.raises(EndpointError, match="base_url: port 6379"):
        save_project_endpoint(project=project, name="own", base_url="http://127.0.0.1:6379/v1", model="m")
    with Recorder(json_reply()) as server:  # a row saved before the rule (or before settings changed)
        endpoint = _project_endpoint(project, server.url)
        with pytest.raises(LLMError, match=f"port {server.server_address[1]}") as caught:
            call_llm(endpoint, purpose="test", prompt="hi", sleep=lambda s: pytest.fail("retried"))
        assert caught.value.kind == "configuration" and server.seen == []


def test_a_site_admins_global_endpoint_is_not_bound_by_the_project_rules(db, settings):
    settings.PROJECT_ENDPOINT_HOSTS = []
    with Recorder(json_reply()) as server:
        endpoint = create_endpoint(name="global", base_url=server.url, model="m")
        assert call_llm(endpoint, purpose="test", prompt="hi").text == "hi"


def test_an_endpoint_check_shows_our_words_never_the_remote_body(project, client, cast):
    body = "INTERNAL-SECRET-BODY " * 20
    with Recorder(text_reply(500, body)) as server:
        endpoint = _project_endpoint(project, server.url, max_retries=0)
        check = request_endpoint_check(endpoint=endpoint)
        run_endpoint_check(check_id=check.pk)
    check = EndpointCheck.objects.get(pk=check.pk)
    assert check.status == "failed" and "HTTP 500" in check.error and "INTERNAL-SECRET" not in check.error
    client.force_login(cast["project_admin"])
    page = client.get("/console/alpha/endpoints/").content.decode()
    assert "HTTP 500" in page and "INTERNAL-SECRET" not in page
    row = LLMRequest.objects.get()  # the request row keeps a bounded excerpt for site admins
    assert "INTERNAL-SECRET" in row.error_message and len(row.error_message) < 700
    with Recorder(json_reply({**_chat("REMOTE-REPLY-TEXT")})) as server:
        endpoint.base_url = server.url
        endpoint.save()
        check = request_endpoint_check(endpoint=endpoint)
        run_endpoint_check(check_id=check.pk)
    check = EndpointCheck.objects.get(pk=check.pk)
    assert check.status == "succeeded" and "REMOTE-REPLY" not in check.reply + check.error
    assert check.reply.startswith("HTTP 200")


def _chat(text):
    from tests.llm.servers import CHAT_REPLY

    choice = {**CHAT_REPLY["choices"][0], "message": {"role": "assistant", "content": text}}
    return {**CHAT_REPLY, "choices": [choice]}


def test_a_host_that_does_not_resolve_is_a_connection_error_retried_like_one(project, settings, monkeypatch):
    settings.PROJECT_ENDPOINT_HOSTS = ["gone.example.com"]

    def getaddrinfo(*args, **kwargs):
        raise socket.gaierror("no such name")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    endpoint = save_project_endpoint(
        project=project, name="own", base_url="http://gone.example.com/v1", model="m", max_retries=1
    )
    with pytest.raises(LLMError, match="connection after 2 attempt") as caught:
        call_llm(endpoint, purpose="test", prompt="hi", sleep=lambda s: None)
    assert caught.value.kind == "connection"


def test_an_ip_entry_with_ports_allows_that_address_only_on_those_ports(project, settings, monkeypatch):
    """Re-test E1: `127.0.0.1:18901` listed beside `localhost` made 127.0.0.1 reachable on every port through
    localhost (http://localhost:443/v1 connected to 127.0.0.1:443)."""
    from llm import egress

    settings.PROJECT_ENDPOINT_HOSTS = ["localhost", "127.0.0.1:18901", "gpu.internal:18901"]
    settings.PROJECT_ENDPOINT_PORTS = ["80", "443"]
    _fake_dns(monkeypatch, {"localhost": ["127.0.0.1"], "gpu.internal": ["127.0.0.1"]})
    connected = _recording_connect(monkeypatch)
    endpoint = save_project_endpoint(project=project, name="own", base_url="http://localhost:443/v1", model="m")
    with pytest.raises(LLMError, match="resolves to 127.0.0.1") as caught:
        call_llm(endpoint, purpose="test", prompt="hi", sleep=lambda s: pytest.fail("retried"))
    assert caught.value.kind == "configuration" and connected == []
    endpoint = save_project_endpoint(
        project=project, editing=True, name="own", base_url="http://gpu.internal:18901/v1", model="m", max_retries=0
    )
    with pytest.raises(LLMError, match="connection"):  # the listed port is reached
        call_llm(endpoint, purpose="test", prompt="hi")
    assert connected == [("127.0.0.1", 18901)]
    assert egress.address_allowed("127.0.0.1", 18901) and not egress.address_allowed("127.0.0.1", 443)
    # a network entry has no ports: every port of its addresses (the URL's port is bounded by the host entry)
    settings.PROJECT_ENDPOINT_NETWORKS = ["127.0.0.0/8"]
    assert egress.address_allowed("127.0.0.1", 443)


@pytest.mark.parametrize("url", ["http://127.0.0.1:0/v1", "https://localhost:0/v1", "http://127.0.0.1:65536/v1"])
def test_a_port_outside_1_to_65535_is_refused_when_saved(project, settings, url):
    """Re-test E2: port 0 was taken for the scheme's default port when checked."""
    settings.PROJECT_ENDPOINT_HOSTS = ["127.0.0.1", "localhost"]
    settings.PROJECT_ENDPOINT_PORTS = ["*"]
    with pytest.raises(EndpointError, match="base_url: that URL's port is not a number from 1 to 65535"):
        save_project_endpoint(project=project, name="own", base_url=url, model="m")
    assert not LLMEndpoint.objects.exists()
