"""manage.py serve_model JOB_ID [--host H] [--port P] [--name NAME] [--engine auto|builtin|vllm] [bounds]

Serves a succeeded SFT job's model over an OpenAI-compatible API and registers it as an LLM endpoint (default name
job-<id>), so sampling runs and generation batches can use round N's model. The server requires an API key: a new
random one, or the one the endpoint already holds (a restart keeps runs under way working); it is stored on the
endpoint (served_key) and never printed. With vLLM installed (GPU machines) `--engine auto` runs vLLM's OpenAI
server on the checkpoint (the key in its environment, VLLM_API_KEY, so it is not on the command line); otherwise
the built-in server (transformers `generate`, batched, bounded: body bytes, queue, prompt within the context) serves
it. Runs until Ctrl-C (the built-in server then switches its endpoint off).

On the gpu workers instead (a serving run in the lifecycle, what the models page's Serve button starts):
`serve_model JOB_ID --queue` queues one and prints its id, `serve_model --stop RUN_ID` stops it (its endpoint is
switched off), `serve_model --status [JOB_ID]` lists serving runs."""

import importlib.util
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from llm.httpserver import DEFAULT_MAX_BODY_BYTES
from llm.services import set_endpoint_active
from training.jobs import TrainingJobError, servable_model_dir, served_model_name
from training.models import ServingRun
from training.selectors import get_job_by_id
from training.services import register_served_model, served_model_key
from training.serving_runs import LIVE, start_serving, stop_serving


def vllm_command(*, folder, name: str, host: str, port: int, api_key: str) -> tuple[list[str], dict]:
    """(argv, environment) for vLLM's OpenAI server: the key goes in the environment, where `ps` does not show it."""
    argv = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder)]
    argv += ["--served-model-name", name, "--host", host, "--port", str(port)]
    return argv, {**os.environ, "VLLM_API_KEY": api_key}


class Command(BaseCommand):
    help = "Serve a trained SFT model over an OpenAI-compatible API and register it as an LLM endpoint."

    def add_arguments(self, parser):
        parser.add_argument("job_id", type=int, nargs="?")
        runs = parser.add_argument_group("serving runs on the gpu workers")
        runs.add_argument("--queue", action="store_true", help="queue a serving run of JOB_ID; prints its id")
        runs.add_argument("--stop", type=int, metavar="RUN_ID", help="stop a serving run (its endpoint goes off)")
        runs.add_argument("--status", action="store_true", help="list serving runs (of JOB_ID when given)")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--name", default="", help="endpoint name (default job-<id>)")
        parser.add_argument("--engine", choices=["auto", "builtin", "vllm"], default="auto")
        parser.add_argument(
            "--public-url", default="", help="base URL workers should use (default http://HOST:PORT/v1)"
        )
        bounds = parser.add_argument_group("built-in server bounds")
        bounds.add_argument(
            "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="larger request bodies get 413"
        )
        bounds.add_argument("--max-queue", type=int, default=64, help="requests waiting; one more gets 429")
        bounds.add_argument("--max-tokens", type=int, default=2048, help="the most max_tokens a request may ask")
        bounds.add_argument(
            "--truncate-prompts",
            action="store_true",
            help="cut prompts longer than the context leaves room for from the left (default: refuse them, 400)",
        )

    def handle(self, *args, **o):
        if o["stop"] is not None or o["status"] or o["queue"]:
            self._serving_runs(o)
            return
        if o["job_id"] is None:
            raise CommandError("job_id: required (or --stop RUN_ID, or --status)")
        for option in ("max_body_bytes", "max_queue", "max_tokens"):
            if o[option] < 1:
                raise CommandError(f"--{option.replace('_', '-')}: at least 1")
        job = get_job_by_id(job_id=o["job_id"])
        if job is None:
            raise CommandError(f"job_id: no training job {o['job_id']}")
        try:
            folder = servable_model_dir(job)
            name = served_model_name(job=job, name=o["name"])
        except TrainingJobError as exc:
            raise CommandError(f"--{exc}" if str(exc).startswith("name:") else str(exc)) from None
        key = served_model_key(job=job, name=name)
        has_vllm = importlib.util.find_spec("vllm") is not None
        if o["engine"] == "vllm" and not has_vllm:
            raise CommandError("--engine vllm: vLLM is not installed here (use --engine builtin)")
        use_vllm = o["engine"] == "vllm" or (o["engine"] == "auto" and has_vllm)
        if use_vllm:
            endpoint = self._register(job, self._url(o, o["port"]), name, key)
            self.stdout.write(f"serving job {job.pk} with vLLM at {endpoint.base_url} as endpoint {endpoint.name}")
            sys.stdout.flush()
            argv, env = vllm_command(folder=folder, name=name, host=o["host"], port=o["port"], api_key=key)
            os.execve(argv[0], argv, env)
        from training.serving import Generator, ModelServer

        server = ModelServer(
            o["host"],
            o["port"],
            Generator(folder, max_queue=o["max_queue"]),
            model_name=name,
            api_key=key,
            max_tokens_cap=o["max_tokens"],
            max_body_bytes=o["max_body_bytes"],
            truncate_prompts=o["truncate_prompts"],
        )
        endpoint = self._register(job, self._url(o, server.server_address[1]), name, key)
        self.stdout.write(f"serving job {job.pk} at {endpoint.base_url} as endpoint {endpoint.name} (built-in)")
        sys.stdout.flush()
        try:
            server.serve_until_interrupted()
        finally:
            set_endpoint_active(endpoint, False)  # stopped: the endpoint leaves every picker until served again

    @staticmethod
    def _register(job, base_url: str, name: str, key: str):
        try:
            endpoint = register_served_model(job=job, base_url=base_url, name=name, served_key=key)
        except TrainingJobError as exc:
            raise CommandError(f"--{exc}") from None
        return set_endpoint_active(endpoint, True)  # served again after a stop: back in the pickers

    def _serving_runs(self, o) -> None:
        if o["stop"] is not None:
            run = ServingRun.objects.filter(pk=o["stop"]).first()
            if run is None:
                raise CommandError(f"--stop: no serving run {o['stop']}")
            try:
                run = stop_serving(run=run)
            except TrainingJobError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"serving run {run.pk}: {run.status}")
        elif o["queue"]:
            if o["job_id"] is None:
                raise CommandError("job_id: --queue needs the job to serve")
            job = get_job_by_id(job_id=o["job_id"])
            if job is None:
                raise CommandError(f"job_id: no training job {o['job_id']}")
            try:
                run = start_serving(job=job)
            except TrainingJobError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(str(run.pk))
        else:
            runs = ServingRun.objects.order_by("-pk")
            runs = runs.filter(job_id=o["job_id"]) if o["job_id"] is not None else runs.filter(status__in=LIVE)
            for run in runs[:50]:
                where = f" at {run.base_url}" if run.base_url else ""
                self.stdout.write(f"{run.pk}\tjob-{run.job_id}\t{run.status}{where}\t{run.error[:200]}".rstrip())

    @staticmethod
    def _url(o, port: int) -> str:
        return o["public_url"] or f"http://{o['host']}:{port}/v1"
