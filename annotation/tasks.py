"""Celery shells for ranking: take ids, call a service.

The rule between tasks and the modules they call (the same in every app): a tasks module imports the service
modules it calls at module level and only calls them; a service reaches its task only inside its run kind's
`send` (`send_*` / `enqueue_step`), by a function-local import. The pair imports each other by design (an import
cycle that lint-imports and grimp show), but neither needs the other while it is being imported."""

from celery import shared_task

from annotation import judging, sampling


@shared_task(acks_late=True)
def sampling_chunk_task(run_id: int, number: int) -> None:
    sampling.run_sampling_chunk(run_id=run_id, number=number)


@shared_task(acks_late=True)
def judge_run_task(run_id: int) -> None:
    judging.run_judge(run_id=run_id)
