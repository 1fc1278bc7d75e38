"""The Celery app. Its broker comes from settings: Redis when REDIS_URL is set, else kombu's filesystem transport."""

import os

from celery import Celery
from celery.signals import worker_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _start_maintenance(**kwargs) -> None:
    from core.maintenance import start_maintenance_thread

    start_maintenance_thread()


@worker_init.connect
def _import_llm_client(sender=None, **kwargs) -> None:
    """The LLM client stack (the `openai` package, ~1.5 s to import on an idle machine, up to a minute on a busy
    one) is imported in the worker's main process before its pool forks, so no task's first LLM call pays for it:
    a resumed batch's first steps went out only after that import. Workers of the training queue alone skip it.
    """
    from django.conf import settings

    if os.environ.get("WORKER_PRELOAD_LLM", "1") == "0":  # the tests' short-lived workers: most never call an LLM
        return
    consumed = set(sender.app.amqp.queues.consume_from) if sender is not None else set()
    if consumed and consumed <= {settings.TRAINING_QUEUE}:
        return
    # llm.client imports these on first use (a web process never needs them); the chat and completions resources
    # are what a request touches, and openai loads them lazily too
    import openai
    import openai.resources.chat.completions
    import openai.resources.completions  # noqa: F401
