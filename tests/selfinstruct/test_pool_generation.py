"""A reviewer's decision reaches every process's cached pool: the pool generation, bumped with the review, is
compared under the pool lock, and a process whose index predates it rebuilds."""

from selfinstruct import pool as pool_module
from selfinstruct.batches import start_batch
from selfinstruct.models import GeneratedInstruction, PoolGeneration
from selfinstruct.pool import locked_pool
from selfinstruct.services import review_instructions
from tests.helpers.generation import drive


def test_a_review_made_in_another_process_reaches_this_processes_pool(seeded, endpoint, cast):
    drive(start_batch(project=seeded, endpoint=endpoint, template_name="self-instruct", target=5, seed=3))
    row = GeneratedInstruction.objects.filter(project=seeded, status="accepted").first()
    with locked_pool(seeded.pk) as pool:
        assert row.instruction_key in pool.keys
    worker_cache = pool_module._pools[seeded.pk]  # what a worker process holds
    review_instructions(instructions=[row], accept=False, reviewer=cast["admin"])  # the web process
    pool_module._pools[seeded.pk] = worker_cache  # …whose own cache drop never reaches the worker
    assert PoolGeneration.objects.get(project=seeded).generation == 1
    with locked_pool(seeded.pk) as pool:
        assert pool is not worker_cache and row.instruction_key not in pool.keys
        assert pool.generation == 1
    with locked_pool(seeded.pk) as again:
        assert again is pool  # unchanged generation: the index stays incremental
