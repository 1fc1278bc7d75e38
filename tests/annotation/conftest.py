import pytest

from annotation.models import Completion, Prompt
from annotation.services import create_ranking_task, prompt_text_key, update_ranking_config


@pytest.fixture
def make_tasks(project):
    """make_tasks(n, k=4, **config) -> n ranking tasks of k completions each in `project`."""

    def make(n: int, k: int = 4, **config):
        if config:
            update_ranking_config(project=project, **config)
        overlap = project.ranking_config.overlap if hasattr(project, "ranking_config") else 1
        tasks = []
        for i in range(n):
            prompt = Prompt.objects.create(
                project=project,
                source="imported",
                instruction=f"Task number {i}: explain item {i}.",
                text_key=prompt_text_key(f"Task number {i}: explain item {i}.", ""),
                language="en",
            )
            ids = [
                Completion.objects.create(
                    prompt=prompt, text=f"answer {j} to {i}", model=f"m{j}", origin_key=f"t:{j}"
                ).pk
                for j in range(k)
            ]
            tasks.append(create_ranking_task(prompt=prompt, origin="test", completion_ids=ids, required=overlap)[0])
        return tasks

    return make


@pytest.fixture
def labelers(project):
    """labelers(n) -> n users with the labeler role in `project`."""
    from projects.services import create_user

    def make(n: int, prefix: str = "ranker"):
        return [
            create_user(username=f"{prefix}{i}", role="labeler", password="a-long-test-password-1", project=project)[0]
            for i in range(n)
        ]

    return make
