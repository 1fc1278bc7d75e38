"""Celery shells for ranking: take ids, call a service."""

from celery import shared_task

from annotation import judging, sampling


@shared_task(acks_late=True)
def sampling_chunk_task(run_id: int, number: int) -> None:
    sampling.run_sampling_chunk(run_id=run_id, number=number)


@shared_task(acks_late=True)
def judge_run_task(run_id: int) -> None:
    judging.run_judge(run_id=run_id)
