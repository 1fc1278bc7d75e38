"""What training does when other apps announce events (subscribed in TrainingConfig.ready)."""


def start_jobs_on_ready_version(sender, version, **kwargs) -> None:
    """A dataset version became ready: the project's enabled triggers of its kind start their jobs."""
    from training.services import start_triggered_jobs

    start_triggered_jobs(version=version)
