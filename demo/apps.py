from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo: `load_demo` (project, logins, seeds, teacher endpoint, base model), the offline teacher server
    (`teacher/`, served by `demo_teacher`) and `runstack` (web, workers and teacher in one command). Top of the
    layering: it may use every app; no app uses it."""

    name = "demo"
