from django.apps import AppConfig


class SelfinstructConfig(AppConfig):
    name = "selfinstruct"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from selfinstruct import runs

        runs.register()
