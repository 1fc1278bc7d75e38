"""Project package (settings, URLs, the Celery app). Named `config`, not `platform`: see README."""

from config.celery import app as celery_app

__all__ = ["celery_app"]
