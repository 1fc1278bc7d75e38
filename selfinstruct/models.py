"""Seed tasks of a project (the human-written demonstrations that drive generation)."""

from django.db import models


class Language(models.TextChoices):
    EN = "en", "English"
    ZH = "zh", "Chinese"


class SeedTask(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="seed_tasks")
    external_id = models.CharField(max_length=200, blank=True, help_text="The id in the imported file.")
    name = models.CharField(max_length=200, blank=True)
    instruction = models.TextField()
    instruction_key = models.CharField(max_length=64, help_text="sha256 of the whitespace-normalized instruction")
    instances = models.JSONField(default=list, help_text="[{input, output}, …]")
    is_classification = models.BooleanField(default=False)
    language = models.CharField(max_length=8, choices=Language.choices)
    source = models.CharField(max_length=200, blank=True, help_text="File the seed came from.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "instruction_key"], name="seed_instruction_unique_in_project")
        ]

    def __str__(self) -> str:
        return self.instruction[:80]
