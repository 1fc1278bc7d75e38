"""Fixtures shared by the generation tests."""

import pytest

from demo.teacher import default_seed_files
from selfinstruct.services import import_seed_file


@pytest.fixture
def seeded(project):
    """The `alpha` project with the bilingual demo seeds."""
    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    return project
