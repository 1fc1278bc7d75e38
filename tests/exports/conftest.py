from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures
