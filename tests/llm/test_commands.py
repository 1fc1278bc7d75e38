"""add_endpoint: adds (a taken name only with --update), and never accepts a secret where a variable name belongs;
endpoint NAME off|on|delete."""

import pytest
from django.core.management import CommandError, call_command

from llm.models import LLMEndpoint


def test_add_endpoint_creates_then_updates(db, capsys):
    call_command(
        "add_endpoint",
        "vllm",
        "--base-url",
        "http://gpu-box:8000/v1/",
        "--model",
        "qwen2-7b",
        "--api-key-env",
        "VLLM_API_KEY",
        "--max-concurrency",
        "16",
        "--price-input",
        "0.1",
    )
    endpoint = LLMEndpoint.objects.get(name="vllm")
    assert endpoint.base_url == "http://gpu-box:8000/v1" and endpoint.api_key_env == "VLLM_API_KEY"
    assert endpoint.max_concurrency == 16 and float(endpoint.price_input_per_1k) == 0.1
    again = ["add_endpoint", "vllm", "--base-url", "http://gpu-box:8000/v1", "--model", "qwen2-72b"]
    with pytest.raises(CommandError, match="an endpoint named 'vllm' exists; edit it instead"):
        call_command(*again)  # issue 35: a taken name no longer replaces the endpoint silently
    endpoint.refresh_from_db()
    assert endpoint.model == "qwen2-7b" and endpoint.config_changed_at is None
    call_command(*again, "--api-style", "completions", "--update")
    endpoint.refresh_from_db()
    assert endpoint.model == "qwen2-72b" and endpoint.api_style == "completions"
    assert endpoint.config_changed_at is not None  # earlier checks are about the old model: shown as stale
    assert LLMEndpoint.objects.count() == 1
    assert "endpoint vllm updated" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--update: no endpoint named 'other'"):
        call_command("add_endpoint", "other", "--base-url", "http://h/v1", "--model", "m", "--update")


def test_endpoint_command_switches_off_on_and_deletes_only_what_nothing_uses(db, capsys):
    from llm.client import record_request
    from llm.services import create_endpoint

    used = create_endpoint(name="used", base_url="http://h/v1", model="m")
    record_request(endpoint=used, purpose="generation", ok=True)
    create_endpoint(name="spare", base_url="http://h/v1", model="m")
    call_command("endpoint", "used", "off")
    assert not LLMEndpoint.objects.get(name="used").is_active
    call_command("endpoint", "used", "on")
    assert LLMEndpoint.objects.get(name="used").is_active
    with pytest.raises(CommandError, match="used by 1 LLM requests.*switch it off"):
        call_command("endpoint", "used", "delete")
    call_command("endpoint", "spare", "delete")
    assert list(LLMEndpoint.objects.values_list("name", flat=True)) == ["used"]
    call_command("endpoint", "used")
    assert "health: ok" in capsys.readouterr().out


def test_add_endpoint_refuses_a_secret_as_the_variable_name(db):
    with pytest.raises(CommandError, match="NAME of an environment variable"):
        call_command("add_endpoint", "x", "--base-url", "http://h/v1", "--model", "m", "--api-key-env", "sk-abc123")
    with pytest.raises(CommandError, match="--api-key-env"):
        call_command("add_endpoint", "x", "--base-url", "http://h/v1", "--model", "m", "--api-key-env", "my key")
    assert not LLMEndpoint.objects.exists()


def test_add_endpoint_names_the_bad_field(db):
    with pytest.raises(CommandError, match="--base-url"):
        call_command("add_endpoint", "x", "--base-url", "not a url", "--model", "m")
    with pytest.raises(CommandError, match="--max-concurrency"):
        call_command("add_endpoint", "x", "--base-url", "http://h/v1", "--model", "m", "--max-concurrency", "0")


@pytest.mark.parametrize("variable", ["SECRET_KEY", "DATABASE_URL", "HOME", "REDIS_URL", "PATH", "openai_api_key"])
def test_server_variables_are_never_an_endpoints_key_at_any_entry(db, variable, admin_client):
    """Finding 7: the key is sent as a Bearer token to the endpoint's URL, so it may only come from NAME_API_KEY or
    LLM_KEY_NAME variables, never the platform's own settings — refused by the CLI, the service and the admin."""
    from django.core.exceptions import ValidationError

    from llm.services import create_endpoint

    with pytest.raises(CommandError, match="--api-key-env"):
        call_command("add_endpoint", "x", "--base-url", "http://h/v1", "--model", "m", "--api-key-env", variable)
    with pytest.raises(ValidationError, match="api_key_env"):
        create_endpoint(name="x", base_url="http://h/v1", model="m", api_key_env=variable)
    form = {
        "name": "x",
        "base_url": "http://h/v1",
        "model": "m",
        "api_style": "chat",
        "api_key_env": variable,
        "max_concurrency": 4,
        "request_timeout_s": 60,
        "max_retries": 5,
        "price_input_per_1k": 0,
        "price_output_per_1k": 0,
        "is_active": "on",
    }
    response = admin_client.post("/admin/llm/llmendpoint/add/", form)
    assert response.status_code == 200 and "api_key_env" in response.content.decode()
    assert not LLMEndpoint.objects.exists()


def test_platform_settings_read_from_the_environment_are_refused_even_with_the_key_shape(db):
    from core.env import SETTINGS_VARIABLES
    from llm.models import key_variable_problem

    SETTINGS_VARIABLES.add("BILLING_API_KEY")  # as if the platform's settings read it
    try:
        assert "platform's own settings" in key_variable_problem("BILLING_API_KEY")
    finally:
        SETTINGS_VARIABLES.discard("BILLING_API_KEY")
    assert key_variable_problem("DEEPSEEK_API_KEY") is None and key_variable_problem("LLM_KEY_LOCAL_VLLM") is None


def test_a_row_saved_before_the_rule_is_refused_when_called(db, teacher, monkeypatch):
    from llm.client import LLMError, call_llm
    from llm.models import LLMRequest

    monkeypatch.setenv("SECRET_KEY", "the-servers-secret")
    endpoint = LLMEndpoint.objects.create(name="old", base_url=teacher.url, model="m", api_key_env="SECRET_KEY")
    with pytest.raises(LLMError, match="api_key_env"):
        call_llm(endpoint, purpose="t", prompt="hi", max_tokens=4)
    assert teacher.stats()["requests"] == 0
    assert LLMRequest.objects.filter(endpoint=endpoint, error_kind="configuration").exists()
