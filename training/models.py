"""Training jobs: a dataset version becomes a trained SFT or reward model.

State machine: queued → running → succeeded | failed | cancelled (queued → cancelled too). Every transition is a
conditional UPDATE on the status, so a redelivered Celery message, a second worker or the reaper can never move a
job twice or start a second run of it. The states and the lifecycle columns are the kinds' (training/runs.py) and
core.models.RunModel's.
"""

from django.db import models

from core.lifecycle import RunStatus
from core.models import RunModel
from training.runs import DIFFICULTY, EVALUATION, SCORING, SERVING, TRAINING


class JobKind(models.TextChoices):
    SFT = "sft", "SFT (causal LM, loss on completions)"
    REWARD = "reward", "Reward model (sequence classifier, one output)"
    DPO = "dpo", "DPO (preference optimization from pairs, reference: the starting model)"
    KTO = "kto", "KTO (preference optimization from unpaired good/bad answers)"
    RLOO = "rloo", "RL (RLOO: samples scored by the project's reward model, KL to the start model)"


class JobMethod(models.TextChoices):
    FULL = "full", "Full fine-tuning"
    LORA = "lora", "LoRA (peft)"
    QLORA = "qlora", "QLoRA (LoRA on a 4-bit base, bitsandbytes; CUDA only)"


DATASET_KIND_FOR_JOB = {
    JobKind.SFT: "sft",
    JobKind.REWARD: "preference",
    JobKind.DPO: "preference",
    JobKind.KTO: "preference",
    JobKind.RLOO: "preference",  # the prompts of the ranked tasks
}
JOB_KIND_FOR_DATASET = {"sft": JobKind.SFT, "preference": JobKind.REWARD}  # what a version trains by default
GENERATIVE_KINDS = (
    JobKind.SFT,
    JobKind.DPO,
    JobKind.KTO,
    JobKind.RLOO,
)  # causal LMs: they answer prompts, can be served


class TrainingJob(RunModel):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="training_jobs")
    dataset_version = models.ForeignKey("exports.DatasetVersion", on_delete=models.PROTECT, related_name="jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    method = models.CharField(max_length=8, choices=JobMethod.choices, default=JobMethod.FULL)
    base_model = models.CharField(max_length=500, help_text="A local transformers checkpoint folder.")
    base_job = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="derived_jobs",
        help_text="The earlier job whose trained model is the base model, if any.",
    )
    reward_job = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="RL jobs: the project's reward model that scores the policy's samples.",
    )
    hyperparameters = models.JSONField(default=dict, help_text="Resolved: defaults overlaid with what was asked.")
    seed = models.PositiveIntegerField(default=0)
    status = TRAINING.status_field(db_index=True)
    cancel_requested = models.BooleanField(default=False)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    eta_seconds = models.FloatField(null=True, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True, help_text="Of the training process.")
    hostname = models.CharField(max_length=255, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    results = models.JSONField(default=dict, help_text="Final evaluation and counts.")
    output_dir = models.CharField(max_length=500, blank=True)
    artifacts = models.JSONField(
        default=dict,
        editable=False,
        help_text="What was uploaded to shared storage: files (name: bytes), checkpoints, final, status.",
    )
    trigger = models.ForeignKey("TrainingTrigger", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.kind}, {self.status})"


class TrainingMetric(models.Model):
    """One logged point of the metrics time series (train or eval)."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="metrics")
    step = models.PositiveIntegerField()
    epoch = models.FloatField(null=True, blank=True)
    values = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["step", "id"]
        indexes = [models.Index(fields=["job", "step"])]

    def __str__(self) -> str:
        return f"job {self.job_id} step {self.step}"


class TrainingTrigger(models.Model):
    """Start a job automatically whenever a new dataset version of this kind becomes ready in the project."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="training_triggers")
    kind = models.CharField(max_length=16, choices=JobKind.choices, help_text="sft ← sft versions; reward ← preference")
    base_model = models.CharField(max_length=500)
    method = models.CharField(max_length=8, choices=JobMethod.choices, default=JobMethod.FULL)
    hyperparameters = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"train {self.kind} on new {DATASET_KIND_FOR_JOB[self.kind]} versions of {self.project}"


class ScoringRun(RunModel):
    """A trained reward model scoring the completions of its project's ranking tasks (gpu queue, batched).
    Scores are stored per completion as they are computed, so a rerun only scores what is missing."""

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="scoring_runs")
    status = SCORING.status_field()
    completions_total = models.PositiveIntegerField(default=0, help_text="Unscored when the run was asked for.")
    completions_scored = models.PositiveIntegerField(default=0)
    tasks_updated = models.PositiveIntegerField(default=0, help_text="Tasks that got the RM's order and margin.")
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"scoring run {self.pk} (job {self.job_id}, {self.status})"


class DifficultyRun(RunModel):
    """A causal LM — a base model under TRAINING_MODEL_ROOTS or a succeeded SFT/DPO/KTO/RL job — scoring how hard its
    project's accepted instructions are (perplexities and IFD, stored per instruction in selfinstruct's
    DifficultyScore) on the gpu queue, in chunks each stored before the next: a rerun scores only what is missing."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="difficulty_runs")
    job = models.ForeignKey(TrainingJob, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    base_model = models.CharField(max_length=500, blank=True, help_text="The model folder when no job is named.")
    scorer = models.CharField(max_length=200, help_text='"job-<id>", or the base model\'s name.')
    max_length = models.PositiveIntegerField(default=1024, help_text="Tokens per text; longer texts are cut.")
    status = DIFFICULTY.status_field()
    items_total = models.PositiveIntegerField(default=0, help_text="Unscored when the run was asked for.")
    items_scored = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"difficulty run {self.pk} ({self.scorer}, {self.status})"


class EvaluationRun(RunModel):
    """A model (any endpoint; usually a served SFT job) answers a prompt set, and an LLM judge scores each answer
    against the set's reference answer in both orders. The per-category table lives in `results`."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="evaluation_runs")
    job = models.ForeignKey(TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="evaluations")
    model_endpoint = models.ForeignKey("llm.LLMEndpoint", on_delete=models.PROTECT, related_name="+")
    judge_endpoint = models.ForeignKey("llm.LLMEndpoint", on_delete=models.PROTECT, related_name="+")
    opponent_endpoint = models.ForeignKey(
        "llm.LLMEndpoint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Win-rate runs: the model compared against (usually the one the job started from); its answers "
        "take the place of reference answers.",
    )
    prompt_set = models.CharField(max_length=300, help_text="File name (or 'api') the prompts came from.")
    generation = models.JSONField(default=dict, help_text="Sampling parameters for the evaluated model.")
    status = EVALUATION.status_field()
    items_total = models.PositiveIntegerField(default=0)
    items_done = models.PositiveIntegerField(default=0)
    items_failed = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=dict, help_text="{'categories': [...], 'overall': {...}}")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"evaluation {self.pk} of {self.model_endpoint} ({self.status})"


class EvaluationItem(models.Model):
    """One prompt of the set: the model's answer, the reference, and the judge's two verdicts."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="items")
    number = models.PositiveIntegerField()
    category = models.CharField(max_length=100, blank=True)
    question = models.TextField()
    reference = models.TextField()
    answer = models.TextField(blank=True)
    model_score = models.FloatField(null=True, blank=True, help_text="Mean over both orders, 1–10.")
    reference_score = models.FloatField(null=True, blank=True)
    flipped = models.BooleanField(default=False)
    verdicts = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="one_item_per_number")]

    def __str__(self) -> str:
        return f"item {self.number} of evaluation {self.run_id}"


class ServingRun(RunModel):
    """A succeeded SFT/DPO/KTO/RL job's model served over an OpenAI-compatible API by a gpu-queue worker (the built-in
    server in the worker's process, or vLLM as its child) and registered as the project's endpoint job-<id> while it
    runs. Stop = cancel; when serving ends for any reason the endpoint is switched off. Host and port are the
    worker's, from the site's SERVING_* settings: never from the user. One live (queued or running) run per job."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="serving_runs")
    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="serving_runs")
    endpoint = models.ForeignKey(
        "llm.LLMEndpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    status = SERVING.status_field(db_index=True)
    engine = models.CharField(max_length=16, blank=True, help_text="builtin or vllm, chosen by the worker.")
    host = models.CharField(max_length=255, blank=True, help_text="The address the server listens on.")
    port = models.PositiveIntegerField(null=True, blank=True)
    base_url = models.CharField(max_length=500, blank=True, help_text="What the platform's workers call.")
    hostname = models.CharField(max_length=255, blank=True, help_text="Of the worker serving it.")
    pid = models.PositiveIntegerField(null=True, blank=True, help_text="Of the model server process.")
    enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job"],
                condition=models.Q(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]),
                name="one_live_serving_run_per_job",
            )
        ]

    def __str__(self) -> str:
        return f"serving run {self.pk} (job {self.job_id}, {self.status})"
