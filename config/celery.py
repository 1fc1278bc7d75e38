"""The Celery app. Its broker comes from settings: Redis when REDIS_URL is set, else kombu's filesystem transport."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _start_maintenance(**kwargs) -> None:
    from core.maintenance import start_maintenance_thread

    start_maintenance_thread()
