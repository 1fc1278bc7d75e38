"""Seed tasks of a project (the human-written demonstrations that drive generation)."""

from django.conf import settings
from django.db import models

from core.models import RunModel
from selfinstruct.runs import GENERATION, RATING


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


class Method(models.TextChoices):
    SELF_INSTRUCT = "self-instruct", "Self-Instruct (instructions only, 8 numbered demos)"
    ALPACA = "alpaca", "Alpaca (20 instruction/input/output tasks from 3 demos)"
    BELLE = "belle", "BELLE (10 Chinese 指令/输入/输出 tasks from 3 demos)"
    EVOL_INSTRUCT = "evol-instruct", "Evol-Instruct (evolves pool instructions in depth and in breadth)"


class PromptTemplate(models.Model):
    """A generation prompt as data. `{{demos}}`, `{{num_tasks}}`, `{{next_number}}`, `{{topic}}` and `{{language}}`
    are filled in per request. Editing bumps `version`; every batch keeps a snapshot of the text it used."""

    name = models.SlugField(max_length=64, unique=True)
    method = models.CharField(max_length=16, choices=Method.choices)
    body = models.TextField()
    topic_line = models.CharField(max_length=300, blank=True, help_text="Inserted as {{topic}} when a topic is set.")
    num_demos = models.PositiveSmallIntegerField(default=8)
    num_machine_demos = models.PositiveSmallIntegerField(default=0, help_text="Of num_demos, from the pool.")
    num_tasks = models.PositiveSmallIntegerField(default=8, help_text="Tasks asked for per request.")
    version = models.PositiveIntegerField(default=1)
    is_builtin = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Stage(models.TextChoices):
    INSTRUCTIONS = "instructions"
    INSTANCES = "instances"


class GenerationBatch(RunModel):
    # Its lanes (GenerationLane) hold the tokens and beat; a batch runs from when it is asked for (created_at).
    run_token = heartbeat_at = started_at = None

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="generation_batches")
    endpoint = models.ForeignKey("llm.LLMEndpoint", on_delete=models.PROTECT, related_name="generation_batches")
    template = models.ForeignKey(PromptTemplate, on_delete=models.PROTECT, related_name="batches")
    template_snapshot = models.JSONField(help_text="The template as it was when the batch started.")
    language = models.CharField(max_length=8, choices=Language.choices)
    target = models.PositiveIntegerField(help_text="Accepted instructions to reach.")
    topic = models.CharField(max_length=300, blank=True)
    params = models.JSONField(default=dict, help_text="Decoding parameters sent with every request.")
    token_budget = models.PositiveIntegerField(null=True, blank=True)
    cost_budget = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    status = GENERATION.status_field()
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.INSTRUCTIONS)
    generate_instances = models.BooleanField(
        default=True,
        help_text="Self-Instruct and Evol-Instruct: after the target, classify each instruction and write instances.",
    )
    type_quotas = models.JSONField(
        default=dict,
        blank=True,
        help_text="{task type: most accepted}: each item is tagged before it is judged; a type at its quota is "
        "rejected (over_quota) and the prompts steer toward the types still under theirs.",
    )
    stop_reason = models.CharField(max_length=300, blank=True)
    lanes = models.PositiveSmallIntegerField(default=1, help_text="Request chains run at once.")
    consecutive_failures = models.PositiveIntegerField(default=0)
    requests_since_accept = models.PositiveIntegerField(default=0)
    tokens_used = models.PositiveBigIntegerField(default=0)
    cost_used = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    seed = models.PositiveIntegerField(default=0, help_text="Seeds demonstration sampling.")
    events = models.JSONField(
        default=list,
        blank=True,
        help_text='What people did to the batch, oldest first: [{"at": ISO time, "event": "paused" | "resumed" | '
        '"cancelled", "by": username or ""}] (selfinstruct.batches appends under the row lock).',
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "generation batches"

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.template_snapshot.get('name')}, {self.status})"


class GenerationLane(models.Model):
    """One chain of requests of a batch. `token` changes when a stalled lane is restarted, so an old chain that
    wakes up finds itself superseded and stops; `step` makes a redelivered message a no-op."""

    batch = models.ForeignKey(GenerationBatch, on_delete=models.CASCADE, related_name="lane_rows")
    number = models.PositiveSmallIntegerField()
    token = models.UUIDField()
    step = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField()
    reserved_tokens = models.PositiveIntegerField(default=0, help_text="Budget held for the request in flight.")
    reserved_cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "number"], name="one_row_per_lane")]

    def __str__(self) -> str:
        return f"lane {self.number} of batch {self.batch_id} at step {self.step}"


class RequestKind(models.TextChoices):
    TASKS = "tasks", "new tasks"
    CLASSIFY = "classify", "classification identification"
    INSTANCES = "instances", "instance generation"


class GenerationRequest(models.Model):
    """One logical request of a batch: the prompt, the demonstrations used, the raw reply and its outcome."""

    batch = models.ForeignKey(GenerationBatch, on_delete=models.CASCADE, related_name="requests")
    kind = models.CharField(max_length=16, choices=RequestKind.choices, default=RequestKind.TASKS)
    # SET_NULL: a curator deleting an instruction keeps the batch's log of the requests made for it
    instruction = models.ForeignKey(
        "GeneratedInstruction", null=True, blank=True, on_delete=models.SET_NULL, related_name="stage_two_requests"
    )
    lane = models.PositiveSmallIntegerField()
    step = models.PositiveIntegerField()
    prompt = models.TextField()
    demo_seed_ids = models.JSONField(default=list)
    demo_instruction_ids = models.JSONField(default=list)
    raw_text = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    parsed = models.PositiveSmallIntegerField(default=0)
    accepted = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "lane", "step", "kind"], name="one_request_per_step_and_kind")
        ]

    def __str__(self) -> str:
        return f"request {self.lane}/{self.step} of batch {self.batch_id}"


class InstructionStatus(models.TextChoices):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class InstancesStatus(models.TextChoices):
    NONE = "", "not applicable"
    PENDING = "pending"
    WORKING = "working"
    DONE = "done"
    FAILED = "failed"


class GeneratedInstruction(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="generated_instructions")
    batch = models.ForeignKey(GenerationBatch, on_delete=models.CASCADE, related_name="instructions")
    request = models.ForeignKey(GenerationRequest, on_delete=models.CASCADE, related_name="instructions")
    instruction = models.TextField()
    input = models.TextField(blank=True)
    output = models.TextField(blank=True)
    instruction_key = models.CharField(max_length=64)
    language = models.CharField(max_length=8, choices=Language.choices)
    status = models.CharField(max_length=16, choices=InstructionStatus.choices)
    reason = models.CharField(max_length=32, blank=True, help_text="Why it was rejected (filter or reviewer).")
    most_similar = models.JSONField(default=list, help_text="[[text, ROUGE-L], …] top 10 in the pool")
    max_similarity = models.FloatField(default=0)
    avg_similarity = models.FloatField(default=0)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    is_classification = models.BooleanField(null=True, blank=True)
    instances_status = models.CharField(max_length=16, choices=InstancesStatus.choices, blank=True)
    instances_lane = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Lane working on it.")
    instance_attempts = models.PositiveSmallIntegerField(default=0)
    # Evol-Instruct lineage: the pool item this one was evolved from (a generated instruction or a seed), how
    # many evolutions it is from a seed or a plain generated instruction (0: not evolved), and the operation.
    parent_instruction = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="evolved"
    )
    parent_seed = models.ForeignKey(SeedTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="evolved")
    evolution_depth = models.PositiveSmallIntegerField(default=0)
    evolution = models.CharField(max_length=24, blank=True)
    # Tags from a rating run's tagger (llm/tagging.py): a type of selfinstruct/taxonomy.py, the root verb and its
    # direct object (blank until tagged).
    task_type = models.CharField(max_length=32, blank=True)
    root_verb = models.CharField(max_length=40, blank=True)
    root_object = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["project", "status", "id"]), models.Index(fields=["batch", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "instruction_key"],
                condition=models.Q(status="accepted"),
                name="accepted_instruction_unique_in_project",
            )
        ]

    def __str__(self) -> str:
        return self.instruction[:80]


class GeneratedInstance(models.Model):
    """An input/output example written for a generated instruction (Self-Instruct's second stage)."""

    instruction = models.ForeignKey(GeneratedInstruction, on_delete=models.CASCADE, related_name="instances")
    request = models.ForeignKey(GenerationRequest, on_delete=models.CASCADE, related_name="instances")
    input = models.TextField(blank=True)
    output = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=InstructionStatus.choices)
    reason = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["instruction", "id"]

    def __str__(self) -> str:
        return f"instance {self.pk} of {self.instruction_id}"


class PoolGeneration(models.Model):
    """Bumped whenever a project's pool loses or regains rows below the high-water marks (a reviewer's reject or
    accept): every process holding a cached index of the pool sees the new number under the pool lock and rebuilds,
    so workers check against what the reviewer decided without a restart."""

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, primary_key=True, related_name="+")
    generation = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"pool of project {self.project_id}: generation {self.generation}"


class TaskTaxonomy(models.Model):
    """A project's own task types (selfinstruct/taxonomy.py), replacing BELLE's: a list of {key, name, name_zh,
    definition} in the order the tagger is shown them. No row: the default."""

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, primary_key=True, related_name="+")
    types = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"task types of project {self.project_id}"


class DifficultyScore(models.Model):
    """How hard an accepted instruction is for one scorer. A causal LM (`scorer`: "job-<id>" or a base model's name),
    as in the Cherry-LLM paper: the perplexity of the instruction text, of its response alone and of its response
    given the instruction, and IFD = the last ÷ the response alone (near or above 1: the instruction hardly helps the
    model predict the answer); no response: only the instruction's perplexity. An LLM judge (`scorer`:
    "judge:<endpoint>", llm/rating.py): the instruction's complexity and its response's quality, 1–6."""

    instruction = models.ForeignKey(GeneratedInstruction, on_delete=models.CASCADE, related_name="difficulty_scores")
    scorer = models.CharField(max_length=200)
    ppl_instruction = models.FloatField(null=True, blank=True)
    ppl_response = models.FloatField(null=True, blank=True)
    ppl_response_given = models.FloatField(null=True, blank=True)
    ifd = models.FloatField(null=True, blank=True)
    complexity = models.PositiveSmallIntegerField(null=True, blank=True, help_text="An LLM judge's rating, 1–6.")
    quality = models.PositiveSmallIntegerField(null=True, blank=True, help_text="An LLM judge's rating, 1–6.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["instruction", "scorer"]
        constraints = [
            models.UniqueConstraint(fields=["instruction", "scorer"], name="one_difficulty_score_per_scorer")
        ]
        indexes = [models.Index(fields=["scorer", "instruction"])]

    def __str__(self) -> str:
        return f"difficulty of {self.instruction_id} by {self.scorer}"


class RatingRun(RunModel):
    """An LLM judge rating the complexity and quality (1–6, llm/rating.py) of the project's accepted instructions
    (default queue: LLM calls only), stored as DifficultyScore rows of scorer "judge:<endpoint>". It walks the
    instructions by id (`last_id`), so a restart goes on where it stopped; an item whose rating failed is counted and
    left for the next run."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="rating_runs")
    endpoint = models.ForeignKey("llm.LLMEndpoint", on_delete=models.PROTECT, related_name="rating_runs")
    scorer = models.CharField(max_length=200)
    status = RATING.status_field()
    items_total = models.PositiveIntegerField(default=0, help_text="Unrated when the run was asked for.")
    items_scored = models.PositiveIntegerField(default=0)
    items_failed = models.PositiveIntegerField(default=0)
    last_id = models.PositiveBigIntegerField(default=0, help_text="The last instruction id walked.")
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"rating run {self.pk} ({self.scorer}, {self.status})"


class CurationKind(models.TextChoices):
    SEED = "seed"
    INSTRUCTION = "instruction"


class CurationAction(models.TextChoices):
    EDIT = "edit"
    ACCEPT = "accept"
    REJECT = "reject"
    DELETE = "delete"


class CurationEvent(models.Model):
    """One curator's change to a seed task or a generated instruction (selfinstruct/curation.py): who, when, how
    (page, api, cli; `bulk` for a bulk action) and each changed field as {field: [old, new]} (a deletion: the row's
    fields as they were). The object is named by kind and id, not a foreign key, so its history outlives it."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="curation_events")
    kind = models.CharField(max_length=16, choices=CurationKind.choices)
    object_id = models.PositiveBigIntegerField()
    action = models.CharField(max_length=16, choices=CurationAction.choices)
    changes = models.JSONField(default=dict)
    via = models.CharField(max_length=16, blank=True, help_text="page, api or cli")
    bulk = models.BooleanField(default=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, blank=True, help_text="Kept when the account is deleted.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["project", "kind", "object_id", "id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.object_id} by {self.actor_name or '-'}"
