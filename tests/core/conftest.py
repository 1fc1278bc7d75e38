from tests.annotation.conftest import labelers, make_tasks  # noqa: F401 - shared fixtures
from tests.training.conftest import sft_version, tiny_base  # noqa: F401 - shared fixtures
