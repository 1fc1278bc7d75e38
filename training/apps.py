from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from exports.signals import version_ready
        from training import runs
        from training.receivers import start_jobs_on_ready_version

        runs.register()
        version_ready.connect(start_jobs_on_ready_version, dispatch_uid="training-triggers")
