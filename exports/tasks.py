"""Celery shells for dataset versions: take ids, call a service."""

from celery import shared_task

from exports import services


@shared_task(acks_late=True)
def build_dataset_version_task(version_id: int, token: str | None = None) -> None:
    services.build_dataset_version(version_id=version_id, token=token)
