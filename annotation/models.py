"""Prompts, their K completions, ranking tasks with leased assignments, raw rankings and consensus rankings.

A ranking is stored as groups of completion ids, best first: [[12], [15, 11], [14]] means 12 > 15 = 11 > 14.
Raw rankings are never rewritten; the consensus of a task is kept apart and recomputed from them.
"""

import random

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from annotation.runs import JUDGE, SAMPLING
from core.models import RunModel

MIN_K, MAX_K = 2, 9


class TaskOrder(models.TextChoices):
    SEQUENTIAL = "sequential", _("Sequential (oldest first)")
    RANDOM = "random", _("Random")
    UNCERTAINTY = "uncertainty", _("Uncertainty first (smallest reward-model margin)")


class ReviewPolicy(models.TextChoices):
    NONE = "none", _("No review")
    SAMPLE = "sample", _("A sampled share of tasks")
    LOW_AGREEMENT = "low_agreement", _("Every task below an agreement threshold")
    FLAGGED = "flagged", _("Every flagged task")


class RationaleMode(models.TextChoices):
    OFF = "off", _("Not asked")
    OPTIONAL = "optional", _("Optional")
    REQUIRED = "required", _("Required")


class ConsensusMethod(models.TextChoices):
    RANKED_PAIRS = "ranked_pairs", _("Ranked pairs (every labeler counts the same)")
    WEIGHTED_BT = "weighted_bt", _("Bradley–Terry weighted by each labeler's reliability")


class ReviewState(models.TextChoices):
    NONE = "", _("Not for review")
    QUEUED = "queued", _("Waiting for review")
    ACCEPTED = "accepted", _("Accepted")
    ADJUDICATED = "adjudicated", _("Adjudicated")


class RankingConfig(models.Model):
    """A project's ranking settings (one row per project, created on first use with the defaults)."""

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="ranking_config")
    completions_per_prompt = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(MIN_K), MaxValueValidator(MAX_K)], help_text="K, from 2 to 9."
    )
    overlap = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Rankings each task needs, from different labelers.",
    )
    lease_minutes = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1)], help_text="How long a claimed task stays reserved."
    )
    allow_ties = models.BooleanField(default=False)
    gold_rate = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Share of claims that serve a gold task (known ranking) the labeler has not seen.",
    )
    undo_seconds = models.PositiveIntegerField(default=60, help_text="How long a labeler may undo a submission.")
    task_order = models.CharField(
        max_length=16,
        choices=TaskOrder.choices,
        default=TaskOrder.SEQUENTIAL,
        help_text="Which open task a labeler gets next (after tasks others started and ran out of time on).",
    )
    show_rm_hint = models.BooleanField(
        default=False,
        help_text="Show labelers the reward model's order of the answers (never on gold tasks).",
    )

    # --- reward-data quality (issue 37): review, per-aspect questions, agreement guardrails, consensus method ---
    review_policy = models.CharField(
        max_length=16,
        choices=ReviewPolicy.choices,
        default=ReviewPolicy.NONE,
        help_text="Which completed tasks a reviewer checks before their consensus counts as reviewed.",
    )
    review_sample_rate = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Policy 'sample': the share of completed tasks sent to review.",
    )
    review_agreement_below = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Policy 'low agreement': tasks whose labelers agree less than this (pairwise, 0–1) go to review.",
    )
    aspects = models.JSONField(
        default=list,
        blank=True,
        help_text="Likert questions asked per completion with each ranking: [{key, label, label_zh, min, max}]; "
        "empty: none (annotation/aspects.py holds the defaults and the rules).",
    )
    ask_strength = models.BooleanField(
        default=False, help_text="Ask how much better each answer is than the next (much better … tie)."
    )
    rationale = models.CharField(
        max_length=16,
        choices=RationaleMode.choices,
        default=RationaleMode.OFF,
        help_text="Whether labelers write why they ranked as they did.",
    )
    consensus_method = models.CharField(
        max_length=32,
        choices=ConsensusMethod.choices,
        default=ConsensusMethod.RANKED_PAIRS,
        help_text="How a task's rankings become its consensus.",
    )
    min_reliability = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Pause a labeler whose agreement with the others' consensus falls below this (0: never).",
    )
    min_gold_accuracy = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Pause a labeler whose agreement with gold rankings falls below this (0: never).",
    )

    def __str__(self) -> str:
        return f"ranking settings of {self.project}"


class PromptSource(models.TextChoices):
    GENERATED = "generated", "Accepted generated instruction"
    SEED = "seed", "Seed task"
    IMPORTED = "imported", "Imported prompt list"


class Prompt(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="ranking_prompts")
    source = models.CharField(max_length=16, choices=PromptSource.choices)
    source_ref = models.CharField(max_length=200, blank=True, help_text="Id of the instruction/seed, or file:line.")
    instruction = models.TextField()
    input = models.TextField(blank=True)
    text_key = models.CharField(max_length=64, help_text="sha256 of the normalized instruction + input")
    language = models.CharField(max_length=8)
    category = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["project", "text_key"], name="one_prompt_per_text")]

    def __str__(self) -> str:
        return self.instruction[:80]


class SamplingRun(RunModel):
    """K completions for each of a set of prompts, from one or more endpoints, done in idempotent chunks. Its
    heartbeat is the last chunk's progress."""

    run_token = None  # its chunks are its units of work, each done once

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="sampling_runs")
    per_prompt = models.PositiveSmallIntegerField(validators=[MinValueValidator(MIN_K), MaxValueValidator(MAX_K)])
    plan = models.JSONField(help_text='[{"endpoint": name, "endpoint_id": id, "params": {…}}, …]; slot i uses i % n')
    sources = models.JSONField(default=list)
    status = SAMPLING.status_field()
    prompts_total = models.PositiveIntegerField(default=0)
    prompts_done = models.PositiveIntegerField(default=0)
    prompts_failed = models.PositiveIntegerField(default=0)
    prompts_single_answer = models.PositiveIntegerField(
        default=0, help_text="Prompts whose completions were all one text (up to whitespace): nothing to rank, no task."
    )
    completions_created = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"sampling run {self.pk} ({self.project})"


class SamplingChunk(models.Model):
    run = models.ForeignKey(SamplingRun, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    prompt_ids = models.JSONField()
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="one_chunk_per_number")]

    def __str__(self) -> str:
        return f"chunk {self.number} of run {self.run_id}"


class Completion(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="completions")
    text = models.TextField()
    model = models.CharField(max_length=200)
    endpoint = models.ForeignKey("llm.LLMEndpoint", null=True, blank=True, on_delete=models.SET_NULL)
    params = models.JSONField(default=dict)
    origin_key = models.CharField(max_length=200, help_text="run:<id>:<slot> or import:<model>; unique per prompt")
    sampling_run = models.ForeignKey(SamplingRun, null=True, blank=True, on_delete=models.SET_NULL)
    source_file = models.CharField(max_length=300, blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    llm_request_id = models.BigIntegerField(null=True, blank=True)
    same_as = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="duplicates",
        help_text="The completion with the same text (up to whitespace) that stands for this one in its ranking task.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["prompt", "origin_key"], name="one_completion_per_origin")]

    def __str__(self) -> str:
        return f"{self.model}: {self.text[:60]}"


def _random_key() -> float:
    return random.random()


class RankingTask(models.Model):
    """One prompt + its K completions in a stored shuffled order. `fill` = submitted + live leases."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="ranking_tasks")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="ranking_tasks")
    origin = models.CharField(max_length=64, help_text="run:<id> or import")
    completion_ids = models.JSONField(help_text="Completion ids in the order labelers see them.")
    required = models.PositiveSmallIntegerField(help_text="Rankings needed (the project's overlap when created).")
    rankings_count = models.PositiveIntegerField(default=0)
    active_count = models.PositiveIntegerField(default=0)
    fill = models.PositiveIntegerField(default=0, help_text="rankings_count + active_count")
    next_lease_expiry = models.DateTimeField(null=True, blank=True, help_text="Earliest lease among live claims.")
    is_complete = models.BooleanField(default=False)
    is_gold = models.BooleanField(default=False)
    gold_ranking = models.JSONField(null=True, blank=True)
    shuffle_key = models.FloatField(default=_random_key, help_text="Fixed random key: the 'random' task order.")
    rm_job_id = models.PositiveIntegerField(null=True, blank=True, help_text="Reward model that scored all K.")
    rm_order = models.JSONField(null=True, blank=True, help_text="Completion ids by reward, best first.")
    rm_margin = models.FloatField(
        null=True, blank=True, help_text="Smallest reward gap between two of the K completions (uncertainty)."
    )
    # review (issue 37): the state, the agreement that decided it, and a version a reviewer's decision must match
    # (two reviewers acting at once: the second gets a conflict, never a silent overwrite)
    review_state = models.CharField(max_length=16, choices=ReviewState.choices, blank=True, default=ReviewState.NONE)
    agreement = models.FloatField(null=True, blank=True, help_text="Pairwise agreement of its rankings, 0–1.")
    review_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["prompt", "origin"], name="one_task_per_prompt_and_origin")]
        indexes = [
            models.Index(fields=["project", "is_gold", "is_complete", "-fill", "id"], name="task_claim_order"),
            models.Index(
                fields=["project", "is_gold", "is_complete", "-fill", "shuffle_key"], name="task_claim_random"
            ),
            models.Index(
                fields=["project", "is_gold", "is_complete", "-fill", "rm_margin", "id"], name="task_claim_uncertain"
            ),
            models.Index(fields=["project", "next_lease_expiry"], name="task_lease_expiry"),
            models.Index(  # open tasks with a lease that may have run out: the fast claim's check (fastpath.py)
                fields=["project", "next_lease_expiry"],
                name="task_open_lease_expiry",
                condition=models.Q(is_complete=False, is_gold=False),
            ),
            models.Index(  # the open tasks alone: a labeler's "remaining", counted on every claim (fastpath.py)
                fields=["project"],
                name="task_open",
                condition=models.Q(is_complete=False, is_gold=False),
            ),
        ]

    def __str__(self) -> str:
        return f"ranking task {self.pk}"

    @property
    def k(self) -> int:
        return len(self.completion_ids)


class AssignmentStatus(models.TextChoices):
    ACTIVE = "active"
    SUBMITTED = "submitted"
    SKIPPED = "skipped"
    EXPIRED = "expired"


class Assignment(models.Model):
    """A labeler's claim on a task. One per (task, labeler): nobody is ever served the same task twice."""

    task = models.ForeignKey(RankingTask, on_delete=models.CASCADE, related_name="assignments")
    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.ACTIVE)
    claimed_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["task", "labeler"], name="one_assignment_per_labeler")]
        indexes = [models.Index(fields=["labeler", "status"], name="assignment_labeler_status")]

    def __str__(self) -> str:
        return f"{self.labeler} on task {self.task_id} ({self.status})"


class Flag(models.TextChoices):
    NONE = "", _("No flag")
    CANNOT_RANK = "cannot_rank", _("Cannot rank")
    BAD_PROMPT = "bad_prompt", _("Bad prompt")
    HARMFUL = "harmful", _("Harmful content")


class Ranking(models.Model):
    """A labeler's raw ranking, kept as submitted. `ranking` is empty when the submission is only a flag."""

    task = models.ForeignKey(RankingTask, on_delete=models.CASCADE, related_name="rankings")
    # The task's project, kept on the row so a labeler's count of rankings in a project (shown with every claim) is
    # one index range, not a lookup of each ranking's task. Set from the task on save.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="+", db_index=False, editable=False
    )
    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rankings")
    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="ranking")
    ranking = models.JSONField(default=list, help_text="Groups of completion ids, best first; ties share a group.")
    flag = models.CharField(max_length=16, choices=Flag.choices, blank=True)
    comment = models.TextField(blank=True)
    time_spent_ms = models.PositiveIntegerField(default=0)
    is_gold = models.BooleanField(default=False)
    flag_resolved = models.BooleanField(default=False)
    rm_job_id = models.PositiveIntegerField(null=True, blank=True, help_text="Reward model compared with.")
    rm_agreement = models.FloatField(
        null=True, blank=True, help_text="Pairwise agreement of this ranking with the reward model's order."
    )
    rm_hint_shown = models.BooleanField(default=False, help_text="Whether the labeler was shown the RM's order.")
    # asked with the ranking when the project says so (issue 37)
    aspects = models.JSONField(
        default=dict, blank=True, help_text='Per completion, its aspect scores: {"12": {"helpfulness": 3, …}}.'
    )
    strengths = models.JSONField(
        default=list,
        blank=True,
        help_text="Per adjacent pair of the ranking, best first: much_better / better / slightly_better / tie.",
    )
    rationale = models.TextField(blank=True)
    # a reviewer's decision on this ranking: a rejected ranking never counts (consensus, agreement, exports)
    rejected = models.BooleanField(default=False)
    reject_reason = models.TextField(blank=True, help_text="Why a reviewer rejected it (the labeler sees this).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["task", "labeler"], name="one_ranking_per_labeler")]
        indexes = [
            models.Index(fields=["project", "labeler"], condition=models.Q(is_gold=False), name="ranking_labeler_done")
        ]

    def __str__(self) -> str:
        return f"ranking of task {self.task_id} by {self.labeler}"

    def save(self, *args, **kwargs):
        if self.project_id is None and self.task_id is not None:
            self.project_id = self.task.project_id
        super().save(*args, **kwargs)


class Consensus(models.Model):
    """The task's consensus ranking (ranked pairs over all its non-flag rankings), kept apart from the raw ones."""

    task = models.OneToOneField(RankingTask, on_delete=models.CASCADE, related_name="consensus")
    ranking = models.JSONField()
    method = models.CharField(max_length=32, default="ranked_pairs")
    n_rankings = models.PositiveSmallIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "consensus rankings"

    def __str__(self) -> str:
        return f"consensus of task {self.task_id}"


class RewardScore(models.Model):
    """A trained reward model's score of one completion (given its prompt). One row per (completion, job)."""

    completion = models.ForeignKey(Completion, on_delete=models.CASCADE, related_name="reward_scores")
    job_id = models.PositiveIntegerField(help_text="The reward-model training job.")
    score = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["completion", "job_id"], name="one_score_per_completion_job")]
        indexes = [models.Index(fields=["job_id", "completion"], name="reward_score_job")]

    def __str__(self) -> str:
        return f"job {self.job_id}: completion {self.completion_id} = {self.score:.3f}"


class JudgeRun(RunModel):
    """An LLM judge ranking a project's tasks as an extra, non-human labeler (every pair judged in both orders)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="judge_runs")
    endpoint = models.ForeignKey("llm.LLMEndpoint", on_delete=models.PROTECT, related_name="judge_runs")
    task_ids = models.JSONField(help_text="The tasks to judge, in order.")
    status = JUDGE.status_field()
    tasks_done = models.PositiveIntegerField(default=0)
    tasks_failed = models.PositiveIntegerField(default=0)
    pairs_judged = models.PositiveIntegerField(default=0)
    pairs_flipped = models.PositiveIntegerField(default=0, help_text="Pairs whose winner changed with the order.")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"judge run {self.pk} ({self.endpoint}) on {self.project}"

    @property
    def position_bias_rate(self) -> float | None:
        """Share of the run's pairs whose winner flipped when the order was swapped."""
        return round(self.pairs_flipped / self.pairs_judged, 4) if self.pairs_judged else None


class JudgeRanking(models.Model):
    """The judge's ranking of a task (same groups format as a labeler's), with every pair's two verdicts.

    Kept apart from labelers' rankings: it never fills a task, never enters consensus or exports, and human
    agreement leaves it out unless asked."""

    run = models.ForeignKey(JudgeRun, on_delete=models.CASCADE, related_name="rankings")
    task = models.ForeignKey(RankingTask, on_delete=models.CASCADE, related_name="judge_rankings")
    ranking = models.JSONField(help_text="Groups of completion ids, best first (by mean judge score).")
    scores = models.JSONField(help_text="{completion id: mean score over its pairs and both orders}")
    pairs = models.JSONField(help_text="[{a, b, order_ab: [sa, sb], order_ba: [sa, sb], reasons, flipped}, …]")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "task"], name="one_judge_ranking_per_run_task")]

    def __str__(self) -> str:
        return f"judge ranking of task {self.task_id} (run {self.run_id})"


from annotation.review_models import LabelerStatus, Review, ReviewDecision  # noqa: E402, F401 - the app's models
