"""Serving a trained model: the built-in OpenAI-compatible server (real `openai` client, batching, errors) and
`manage.py serve_model`, which registers the model as an LLM endpoint the platform's client then calls."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import threading

import openai
import pytest

from tests.helpers.processes import REPO, free_port, process_env, spawn

KEY = "serving-test-key-0123456789"


@pytest.fixture(scope="module")
def served(tiny_base):
    from training.serving import Generator, ModelServer

    server = ModelServer("127.0.0.1", 0, Generator(tiny_base), model_name="tiny", api_key=KEY)
    server.start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


def _client(server):
    return openai.OpenAI(base_url=server.url, api_key=KEY, max_retries=0, timeout=60)


def test_completions_chat_and_models_through_the_openai_client(served):
    client = _client(served)
    assert [m.id for m in client.models.list().data] == ["tiny"]
    reply = client.completions.create(model="tiny", prompt="Task number 3: explain item 3.", max_tokens=6)
    choice = reply.choices[0]
    assert isinstance(choice.text, str) and choice.finish_reason in ("stop", "length")
    assert 0 < reply.usage.prompt_tokens and reply.usage.completion_tokens <= 6
    chat = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "explain item 4"}], max_tokens=4, n=2, temperature=0.8
    )
    assert len(chat.choices) == 2 and all(isinstance(c.message.content, str) for c in chat.choices)
    greedy = [client.completions.create(model="tiny", prompt="the cat", max_tokens=5).choices[0].text for _ in "ab"]
    assert greedy[0] == greedy[1]  # temperature 0 is deterministic


def test_requests_that_arrive_together_are_generated_as_one_batch(served):
    client = _client(served)
    before_batches, before_requests = served.generator.batches, served.generator.batched_requests
    texts, errors = [], []

    def ask(i):
        try:
            texts.append(client.completions.create(model="tiny", prompt=f"item {i}", max_tokens=8).choices[0].text)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(texts) == 6
    batches = served.generator.batches - before_batches
    assert served.generator.batched_requests - before_requests == 6 and batches < 6  # some shared a forward pass


def test_bad_requests_are_400_with_the_field(served):
    client = _client(served)
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.completions.create(model="tiny", prompt="x", max_tokens=10**6)
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="tiny", messages=[])


@pytest.fixture
def succeeded_sft_job(project, sft_version, tiny_base):
    from core.lifecycle import RunStatus
    from training.models import TrainingJob
    from training.services import create_training_job, model_dir

    job = create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model=str(tiny_base))
    shutil.copytree(tiny_base, model_dir(job), dirs_exist_ok=True)  # what a finished run leaves (no training here)
    TrainingJob.objects.filter(pk=job.pk).update(status=RunStatus.SUCCEEDED)
    job.refresh_from_db()
    return job


@pytest.mark.long(15)
@pytest.mark.django_db(transaction=True)
def test_serve_model_registers_an_endpoint_the_platform_client_uses(succeeded_sft_job):
    from llm.client import call_llm
    from llm.models import LLMEndpoint, LLMRequest

    port = free_port()
    cmd = [
        sys.executable,
        str(REPO / "manage.py"),
        "serve_model",
        str(succeeded_sft_job.pk),
        "--port",
        str(port),
        "--engine",
        "builtin",
    ]
    with spawn(cmd, ready="serving job", env=process_env(), timeout=120) as process:
        endpoint = LLMEndpoint.objects.get(name=f"job-{succeeded_sft_job.pk}")
        assert endpoint.base_url == f"http://127.0.0.1:{port}/v1" and endpoint.api_style == "completions"
        assert len(endpoint.served_key) >= 32 and endpoint.served_key not in process.output()
        keyless = openai.OpenAI(base_url=endpoint.base_url, api_key="guess", max_retries=0, timeout=60)
        with pytest.raises(openai.AuthenticationError):
            keyless.completions.create(model=endpoint.name, prompt="x", max_tokens=1)
        reply = call_llm(endpoint, purpose="sampling", prompt="Task number 1: explain item 1.", max_tokens=5)
        assert isinstance(reply.text, str) and reply.finish_reason in ("stop", "length")
        assert "(built-in)" in process.output()
    row = LLMRequest.objects.get(endpoint=endpoint)
    assert row.ok and row.completion_tokens <= 5


def test_serve_model_refuses_what_cannot_be_served(project, sft_version, tiny_base, succeeded_sft_job):
    from django.core.management import CommandError, call_command

    from training.services import create_training_job

    queued = create_training_job(project=project, dataset_version=sft_version, kind="sft", base_model=str(tiny_base))
    with pytest.raises(CommandError, match="is queued, not succeeded"):
        call_command("serve_model", str(queued.pk), "--engine", "builtin")
    with pytest.raises(CommandError, match="no training job 999999"):
        call_command("serve_model", "999999")
    if importlib.util.find_spec("vllm") is None:
        with pytest.raises(CommandError, match="vLLM is not installed"):
            call_command("serve_model", str(succeeded_sft_job.pk), "--engine", "vllm")


def test_serve_model_starts_vllm_with_the_stored_key_in_its_environment(succeeded_sft_job, monkeypatch):
    """vLLM reads VLLM_API_KEY (its --api-key otherwise): the key stays off the command line `ps` shows; a restart
    reuses the endpoint's key, so runs under way keep working."""
    from django.core.management import call_command

    from llm.models import LLMEndpoint
    from training.management.commands import serve_model

    started = []

    class Exec(Exception):
        pass

    def execve(path, argv, env=None):
        started.append((argv, env or {}))
        raise Exec

    monkeypatch.setattr(serve_model.os, "execve", execve)
    monkeypatch.setattr(serve_model.os, "execvp", execve)  # whichever exec it uses, this process stays
    monkeypatch.setattr(serve_model.importlib.util, "find_spec", lambda name: object())
    for _ in range(2):
        with pytest.raises(Exec):
            call_command("serve_model", str(succeeded_sft_job.pk), "--engine", "vllm", "--port", "8123")
    endpoint = LLMEndpoint.objects.get(name=f"job-{succeeded_sft_job.pk}")
    (argv, env), (_, env_again) = started
    assert env["VLLM_API_KEY"] == endpoint.served_key == env_again["VLLM_API_KEY"]
    assert endpoint.served_key not in " ".join(argv) and "--api-key" not in argv
    assert argv[argv.index("--served-model-name") + 1] == endpoint.name


def test_serve_model_names_job_n_only_for_job_n(succeeded_sft_job):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--name: 'job-999' is reserved for training job 999"):
        call_command("serve_model", str(succeeded_sft_job.pk), "--engine", "builtin", "--name", "job-999")
