"""Celery shells for generation: take ids, call a service."""

from celery import shared_task

from selfinstruct import engine


@shared_task(acks_late=True)
def generation_step_task(batch_id: int, lane_number: int, token: str, step: int) -> None:
    engine.run_generation_step(batch_id=batch_id, lane_number=lane_number, token=token, step=step)


@shared_task(acks_late=True)
def rating_task(run_id: int) -> None:
    from selfinstruct.rating import run_rating

    run_rating(run_id=run_id)
