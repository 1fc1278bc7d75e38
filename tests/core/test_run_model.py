"""One run model: every registered kind's model is a core RunModel whose status column is made from the kind, the
columns the kind names are its model's, the work it names by path imports, and a cooperative kind (training) is
cancelled through the lifecycle like the others."""

import pytest
from django.utils.module_loading import import_string

from core import lifecycle
from core.lifecycle import Later, RunStatus
from core.models import RunModel


@pytest.mark.parametrize("kind", lifecycle.kinds(), ids=lambda kind: kind.name)
def test_every_kind_model_is_a_run_model_with_the_kind_statuses(kind):
    model = kind.model_class
    assert issubclass(model, RunModel)
    status = model._meta.get_field("status")
    assert status.choices == kind.choices()
    assert [value for value, _ in status.choices] == [kind.value(s) for s in RunStatus if s in kind.statuses]
    assert status.default == kind.value(kind.statuses[0])
    columns = {field.name for field in model._meta.get_fields()}
    named = (kind.token_field, kind.heartbeat_field, kind.started_field, kind.queued_field, kind.cancel_field)
    assert {name for name in named if name} <= columns
    if RunStatus.QUEUED in kind.statuses:  # a queued run is claimed, and a claim records when it started
        assert kind.started_field
    for work in (kind.send, kind.recover, kind.on_failed):
        if isinstance(work, Later):
            assert callable(import_string(work.path)), work.path  # a module moved: its kind must follow


def test_a_running_training_job_is_asked_to_stop_and_a_queued_one_ends_at_once(project):
    from exports.models import DatasetVersion
    from training.models import TrainingJob
    from training.runs import TRAINING

    version = DatasetVersion.objects.create(project=project, kind="preference", number=1)
    queued, running = (
        TrainingJob.objects.create(project=project, dataset_version=version, kind="reward", base_model="m")
        for _ in range(2)
    )
    assert lifecycle.claim(TRAINING, running.pk)
    assert lifecycle.cancel(TRAINING, running.pk) == lifecycle.CANCELLING
    running.refresh_from_db()
    assert running.status == RunStatus.RUNNING and running.cancel_requested and running.finished_at is None
    assert lifecycle.cancel(TRAINING, queued.pk, error="cancelled before it started") == RunStatus.CANCELLED
    queued.refresh_from_db()
    assert queued.status == RunStatus.CANCELLED and queued.cancel_requested and queued.finished_at
    assert lifecycle.cancel(TRAINING, queued.pk) is None  # finished: nothing moves
