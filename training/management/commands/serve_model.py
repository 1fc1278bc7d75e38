"""manage.py serve_model JOB_ID [--host H] [--port P] [--name NAME] [--engine auto|builtin|vllm]

Serves a succeeded SFT job's model over an OpenAI-compatible API and registers it as an LLM endpoint (default name
job-<id>), so sampling runs and generation batches can use round N's model. With vLLM installed (GPU machines)
`--engine auto` runs vLLM's OpenAI server on the checkpoint; otherwise the built-in server (transformers
`generate`, batched) serves it. Runs until Ctrl-C."""

import importlib.util
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from training.selectors import get_job_by_id
from training.services import TrainingJobError, register_served_model, servable_model_dir, served_model_name


class Command(BaseCommand):
    help = "Serve a trained SFT model over an OpenAI-compatible API and register it as an LLM endpoint."

    def add_arguments(self, parser):
        parser.add_argument("job_id", type=int)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--name", default="", help="endpoint name (default job-<id>)")
        parser.add_argument("--engine", choices=["auto", "builtin", "vllm"], default="auto")
        parser.add_argument(
            "--public-url", default="", help="base URL workers should use (default http://HOST:PORT/v1)"
        )

    def handle(self, *args, **o):
        job = get_job_by_id(job_id=o["job_id"])
        if job is None:
            raise CommandError(f"job_id: no training job {o['job_id']}")
        try:
            folder = servable_model_dir(job)
        except TrainingJobError as exc:
            raise CommandError(str(exc)) from None
        name = served_model_name(job=job, name=o["name"])
        has_vllm = importlib.util.find_spec("vllm") is not None
        if o["engine"] == "vllm" and not has_vllm:
            raise CommandError("--engine vllm: vLLM is not installed here (use --engine builtin)")
        use_vllm = o["engine"] == "vllm" or (o["engine"] == "auto" and has_vllm)
        if use_vllm:
            endpoint = self._register(job, self._url(o, o["port"]), name)
            self.stdout.write(f"serving job {job.pk} with vLLM at {endpoint.base_url} as endpoint {endpoint.name}")
            sys.stdout.flush()
            os.execvp(
                sys.executable,
                [
                    sys.executable,
                    "-m",
                    "vllm.entrypoints.openai.api_server",
                    "--model",
                    str(folder),
                    "--served-model-name",
                    name,
                    "--host",
                    o["host"],
                    "--port",
                    str(o["port"]),
                ],
            )
        from training.serving import Generator, ModelServer

        server = ModelServer(o["host"], o["port"], Generator(folder), model_name=name)
        endpoint = self._register(job, self._url(o, server.server_address[1]), name)
        self.stdout.write(f"serving job {job.pk} at {endpoint.base_url} as endpoint {endpoint.name} (built-in)")
        sys.stdout.flush()
        server.serve_until_interrupted()

    @staticmethod
    def _register(job, base_url: str, name: str):
        try:
            return register_served_model(job=job, base_url=base_url, name=name)
        except TrainingJobError as exc:
            raise CommandError(f"--{exc}") from None

    @staticmethod
    def _url(o, port: int) -> str:
        return o["public_url"] or f"http://{o['host']}:{port}/v1"
