"""Celery shells for the llm app: take ids, call a service.

The rule between tasks and the modules they call (the same in every app): a tasks module imports the service
modules it calls at module level and only calls them; a service reaches its task only inside its run kind's
`send` (`send_*` / `enqueue_step`), by a function-local import. The pair imports each other by design (an import
cycle that lint-imports and grimp show), but neither needs the other while it is being imported."""

from celery import shared_task

from llm import services


@shared_task(acks_late=True)
def run_endpoint_check_task(check_id: int) -> None:
    services.run_endpoint_check(check_id=check_id)
