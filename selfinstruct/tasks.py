"""Celery shells for generation and rating: take ids, call a service.

The rule between tasks and the modules they call (the same in every app): a tasks module imports the service
modules it calls at module level and only calls them; a service reaches its task only inside its run kind's
`send` (`send_*` / `enqueue_step`), by a function-local import. The pair imports each other by design (an import
cycle that lint-imports and grimp show), but neither needs the other while it is being imported."""

from celery import shared_task

from selfinstruct import engine, rating


@shared_task(acks_late=True)
def generation_step_task(batch_id: int, lane_number: int, token: str, step: int) -> None:
    engine.run_generation_step(batch_id=batch_id, lane_number=lane_number, token=token, step=step)


@shared_task(acks_late=True)
def rating_task(run_id: int) -> None:
    rating.run_rating(run_id=run_id)
