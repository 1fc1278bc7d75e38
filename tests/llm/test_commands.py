"""add_endpoint: creates or updates, and never accepts a secret where a variable name belongs."""

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
        "VLLM_KEY",
        "--max-concurrency",
        "16",
        "--price-input",
        "0.1",
    )
    endpoint = LLMEndpoint.objects.get(name="vllm")
    assert endpoint.base_url == "http://gpu-box:8000/v1" and endpoint.api_key_env == "VLLM_KEY"
    assert endpoint.max_concurrency == 16 and float(endpoint.price_input_per_1k) == 0.1
    call_command(
        "add_endpoint",
        "vllm",
        "--base-url",
        "http://gpu-box:8000/v1",
        "--model",
        "qwen2-72b",
        "--api-style",
        "completions",
    )
    endpoint.refresh_from_db()
    assert endpoint.model == "qwen2-72b" and endpoint.api_style == "completions"
    assert LLMEndpoint.objects.count() == 1
    assert "endpoint vllm" in capsys.readouterr().out


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
