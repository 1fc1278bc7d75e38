"""Celery shells for the llm app: take ids, call a service."""

from celery import shared_task

from llm import services


@shared_task(acks_late=True)
def run_endpoint_check_task(check_id: int) -> None:
    services.run_endpoint_check(check_id=check_id)
