"""The console's forms: fields with sensible defaults, never JSON boxes; they only validate and hand over."""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _

from annotation.aspects import AspectError, aspect_lines, helpsteer2_aspects, parse_aspect_lines
from annotation.models import ConsensusMethod, RationaleMode, ReviewPolicy
from console.training_fields import PREFERENCE_KINDS, chosen_hyperparameters, hp_field, method_choices
from core.templatetags.numbers import format_number
from llm.health import endpoint_choices, with_health
from llm.selectors import endpoints_for_project
from selfinstruct.batches import quota_pairs
from selfinstruct.difficulty import METRICS as DIFFICULTY_METRICS
from selfinstruct.difficulty_selectors import METRIC_LABELS as DIFFICULTY_METRIC_LABELS
from selfinstruct.evolution import MAX_DEPTH as MAX_EVOLUTION_DEPTH
from selfinstruct.selectors import prompt_templates
from selfinstruct.taxonomy import taxonomy_for


class NewBatchForm(forms.Form):
    endpoint = forms.ModelChoiceField(queryset=None, label=_("Teacher endpoint"), to_field_name="name")
    template = forms.ModelChoiceField(queryset=None, label=_("Template"), to_field_name="name")
    target = forms.IntegerField(
        min_value=1, max_value=1_000_000, initial=100, label=_("Target"), help_text=_("Accepted instructions to reach.")
    )
    language = forms.ChoiceField(
        choices=[("", _("Template default (Chinese for BELLE, else English)")), ("en", "English"), ("zh", "中文")],
        required=False,
        label=_("Language"),
    )
    topic = forms.CharField(
        max_length=300, required=False, label=_("Topic"), help_text=_("Optional: steer the demonstrations.")
    )
    token_budget = forms.IntegerField(min_value=1, max_value=10**12, required=False, label=_("Token budget"))
    cost_budget = forms.DecimalField(
        min_value=0, max_digits=12, decimal_places=4, required=False, label=_("Cost budget")
    )
    quotas = forms.CharField(
        max_length=500,
        required=False,
        label=_("Task-type quotas"),
    )

    def clean_quotas(self) -> dict:
        """ "type=n, type=n" as {type: n}; the service checks the types and the numbers."""
        try:
            return quota_pairs(self.cleaned_data["quotas"].split(","))
        except ValueError:
            raise forms.ValidationError(_("Write each quota as type=number, e.g. code=20.")) from None

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        endpoints = endpoints_for_project(project=project).order_by("name")
        self.fields["endpoint"].queryset = endpoints
        labels = {e.pk: e.health_label for e in with_health(endpoints)}
        self.fields["endpoint"].label_from_instance = lambda e: labels.get(e.pk, e.name)
        self.fields["template"].queryset = prompt_templates()
        if endpoints.count() == 1:
            self.fields["endpoint"].initial = endpoints.first().name
        self.fields["template"].initial = "self-instruct"
        self.fields["quotas"].help_text = format_lazy(
            "{} {}.",
            _("Optional, e.g. “code=20, math=10”: the most accepted instructions of each type. Types:"),
            ", ".join(taxonomy_for(project).keys()),
        )


class NewVersionForm(forms.Form):
    """A dataset version from fields: kind, split, and the filters of its kind (see exports.services)."""

    kind = forms.ChoiceField(
        choices=[("sft", _("SFT (instruction, input, output)")), ("preference", _("Preference pairs"))],
        label=_("Kind"),
    )
    name = forms.CharField(max_length=200, required=False, label=_("Name"))
    test_fraction = forms.FloatField(min_value=0, max_value=0.99, initial=0.1, label=_("Test fraction"))
    split_seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0, label=_("Split seed"))
    languages = forms.MultipleChoiceField(
        choices=[("en", "English"), ("zh", "中文")],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Languages"),
        help_text=_("None ticked: every language."),
    )
    include_seeds = forms.BooleanField(required=False, initial=True, label=_("SFT: include the seed tasks"))
    consensus = forms.BooleanField(required=False, label=_("Preference: one consensus ranking per task"))
    min_agreement = forms.FloatField(
        min_value=0, max_value=1, required=False, label=_("Preference: minimum agreement between labelers")
    )
    disagreement_below = forms.FloatField(
        min_value=0,
        max_value=1,
        required=False,
        label=_("Preference: disagreement threshold"),
        help_text=_(
            "The disagreements file takes the tasks whose labelers agree less than this (0–1); blank: the "
            "project's review threshold."
        ),
    )
    scorer = forms.CharField(
        max_length=200,
        required=False,
        label=_("SFT: difficulty band by"),
        help_text=_("A difficulty run's scorer (job-<id> or a base model); blank: no band."),
    )
    metric = forms.ChoiceField(
        choices=[(m, DIFFICULTY_METRIC_LABELS.get(m, m)) for m in DIFFICULTY_METRICS], required=False, label=_("Metric")
    )
    drop_easiest = forms.FloatField(min_value=0, max_value=99, required=False, label=_("Drop the easiest (%)"))
    drop_hardest = forms.FloatField(min_value=0, max_value=99, required=False, label=_("Drop the hardest (%)"))
    min_depth = forms.IntegerField(
        min_value=0,
        max_value=MAX_EVOLUTION_DEPTH,
        required=False,
        label=_("SFT: Evol-Instruct depth from"),
        help_text=_("Evolutions from the seed (0: not evolved); blank: any."),
    )
    max_depth = forms.IntegerField(
        min_value=0, max_value=MAX_EVOLUTION_DEPTH, required=False, label=_("SFT: Evol-Instruct depth up to")
    )
    per_type = forms.IntegerField(
        min_value=1,
        max_value=10_000_000,
        required=False,
        label=_("SFT: at most this many instructions per task type"),
        help_text=_("Stratified by the rating run's task-type tags; blank: no limit."),
    )
    task_types = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("SFT: only these task types"),
        help_text=_("None ticked: every type."),
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        taxonomy, language = taxonomy_for(project), get_language() or "en"
        self.fields["task_types"].choices = [(key, taxonomy.name(key, language)) for key in taxonomy.keys()] + [
            ("untagged", _("untagged"))
        ]

    def filters(self) -> dict:
        values, found = self.cleaned_data, {}
        if values["languages"]:
            found["languages"] = list(values["languages"])
        if values["kind"] == "sft":
            found["include_seeds"] = bool(values["include_seeds"])
            if values["scorer"]:
                found["difficulty"] = {
                    "scorer": values["scorer"],
                    "metric": values["metric"] or "ifd",
                    "drop_easiest": values["drop_easiest"] or 0,
                    "drop_hardest": values["drop_hardest"] or 0,
                }
            if values["per_type"] or values["task_types"]:
                found["stratify"] = {"per_type": values["per_type"] or 10_000_000}
                if values["task_types"]:
                    found["stratify"]["types"] = list(values["task_types"])
            if values["min_depth"] is not None or values["max_depth"] is not None:
                found["evolution"] = {
                    "min_depth": values["min_depth"] or 0,
                    "max_depth": MAX_EVOLUTION_DEPTH if values["max_depth"] is None else values["max_depth"],
                }
        else:
            if values["consensus"]:
                found["consensus"] = True
            if values["min_agreement"] is not None:
                found["min_agreement"] = values["min_agreement"]
            if values["disagreement_below"] is not None:
                found["disagreement_below"] = values["disagreement_below"]
        return found


class NewJobForm(forms.Form):
    """A training job from fields; blank numbers take the defaults of the job's kind and method."""

    dataset = forms.ModelChoiceField(queryset=None, label=_("Dataset version"))
    kind = forms.ChoiceField(
        choices=[
            ("", _("By the version: SFT, or a reward model on preferences")),
            ("dpo", _("DPO on preferences (from an SFT model)")),
            ("kto", _("KTO on preferences (each ranking's best and worst answer)")),
            ("rloo", _("RL (RLOO) on the ranked prompts, scored by a reward model")),
        ],
        required=False,
        label=_("Kind"),
    )
    base_model = forms.CharField(
        max_length=500,
        required=False,
        label=_("Base model"),
        help_text=_("A checkpoint folder under the server's model folders, e.g. demo-tiny-llama."),
    )
    base_job = forms.ModelChoiceField(queryset=None, required=False, label=_("Or: build on a trained SFT job"))
    reward_job = forms.ModelChoiceField(queryset=None, required=False, label=_("RL: the reward model"))
    method = forms.ChoiceField(choices=method_choices(), label=_("Method"))
    # bounds, choices and labels of the hyperparameters: the typed job configs (training.trainer.configs)
    epochs = hp_field("epochs")
    learning_rate = hp_field("learning_rate")
    batch_size = hp_field("batch_size")
    max_length = hp_field("max_length")
    chat_template = hp_field(
        "chat_template", help_text=_("Saved with the model; its server applies it to chat requests.")
    )
    beta = hp_field("beta")
    loss_type = hp_field("loss_type")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0, label=_("Seed"))

    def __init__(self, *args, versions, base_jobs, reward_jobs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reward_job"].queryset = reward_jobs
        self.fields["reward_job"].label_from_instance = lambda j: f"job-{j.pk} (reward)"
        self.fields["dataset"].queryset = versions
        self.fields["dataset"].label_from_instance = lambda v: (
            ngettext("%(kind)s v%(number)d (%(rows)s row)", "%(kind)s v%(number)d (%(rows)s rows)", v.row_count or 0)
            % {"kind": v.kind, "number": v.number, "rows": format_number(v.row_count)}
        )
        self.fields["base_job"].queryset = base_jobs
        self.fields["base_job"].label_from_instance = lambda j: f"job-{j.pk}"

    def clean(self):
        values = super().clean()
        if not values.get("base_model") and not values.get("base_job"):
            self.add_error("base_model", _("Name a base model, or pick a trained job to build on."))
        version, kind = values.get("dataset"), values.get("kind")
        if version is not None and kind in PREFERENCE_KINDS and version.kind != "preference":
            self.add_error("kind", _("DPO, KTO and RL train on a preference version."))
        if kind not in PREFERENCE_KINDS and (values.get("beta") is not None or values.get("loss_type")):
            self.add_error("beta", _("beta and the loss are DPO/KTO/RL settings."))
        if kind == "rloo" and values.get("loss_type"):
            self.add_error("loss_type", _("RL has no loss choice here."))
        if kind == "kto" and values.get("loss_type"):
            self.add_error("loss_type", _("KTO has no loss choice here."))
        return values

    def job_kind(self, default: str) -> str:
        return self.cleaned_data.get("kind") or default

    def hyperparameters(self) -> dict:
        return chosen_hyperparameters(self)


ROLE_CHOICES = [
    ("labeler", _("Labeler")),
    ("reviewer", _("Reviewer")),
    ("consumer", _("API consumer")),
    ("admin", _("Project admin")),
]


class AddMemberForm(forms.Form):
    """Invite a member (project admins), or add one directly and maybe create the account (site admins: `direct`)."""

    username = forms.CharField(max_length=150, label=_("Username"))
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial="labeler", label=_("Role"))
    create = forms.BooleanField(
        required=False,
        label=_("Create the account"),
        help_text=_("A password is generated and shown once (and an API token for a consumer)."),
    )

    def __init__(self, *args, direct: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not direct:
            del self.fields["create"]  # a project admin invites; accounts are made by site admins


class EndpointForm(forms.Form):
    """A project's own LLM endpoint; the bounds keep one project from exhausting the workers."""

    name = forms.SlugField(max_length=64, label=_("Name"))
    base_url = forms.CharField(
        max_length=500, label=_("Base URL"), help_text=_("OpenAI-compatible, e.g. http://127.0.0.1:8000/v1")
    )
    model = forms.CharField(max_length=200, label=_("Model"))
    api_style = forms.ChoiceField(
        choices=[("chat", _("Chat completions")), ("completions", _("Text completions"))], label=_("API style")
    )
    api_key_env = forms.CharField(
        max_length=100, required=False, label=_("API key variable"), help_text=_("Empty for servers without keys.")
    )
    max_concurrency = forms.IntegerField(min_value=1, max_value=64, initial=4, label=_("Concurrent requests"))
    request_timeout_s = forms.FloatField(min_value=0.1, max_value=600, initial=60, label=_("Timeout (seconds)"))
    max_retries = forms.IntegerField(min_value=0, max_value=10, initial=5, label=_("Retries"))
    price_input_per_1k = forms.DecimalField(
        min_value=0, max_value=1000, max_digits=12, decimal_places=6, initial=0, label=_("Price per 1K input tokens")
    )
    price_output_per_1k = forms.DecimalField(
        min_value=0, max_value=1000, max_digits=12, decimal_places=6, initial=0, label=_("Price per 1K output tokens")
    )
    is_active = forms.BooleanField(required=False, initial=True, label=_("Switched on"))


class AspectLinesField(forms.CharField):
    """A project's aspects as text, one a line (`key | English label | 中文标签 | min-max`); stored as a list."""

    widget = forms.Textarea(attrs={"rows": 5, "placeholder": aspect_lines(helpsteer2_aspects()[:2])})

    def prepare_value(self, value):
        return aspect_lines(value) if isinstance(value, list) else value

    def to_python(self, value):
        try:
            return parse_aspect_lines(super().to_python(value))
        except AspectError as exc:
            raise forms.ValidationError(exc.message) from None


class RankingSettingsForm(forms.Form):
    completions_per_prompt = forms.IntegerField(min_value=2, max_value=9, label=_("Completions per prompt (K)"))
    overlap = forms.IntegerField(min_value=1, max_value=20, label=_("Overlap: rankings per task"))
    lease_minutes = forms.IntegerField(min_value=1, max_value=1440, label=_("Lease (minutes)"))
    allow_ties = forms.BooleanField(required=False, label=_("Allow ties"))
    gold_rate = forms.FloatField(min_value=0, max_value=0.5, label=_("Gold rate"))
    undo_seconds = forms.IntegerField(min_value=0, max_value=3600, label=_("Undo window (seconds)"))
    task_order = forms.ChoiceField(
        choices=[
            ("sequential", _("Sequential (oldest first)")),
            ("random", _("Random")),
            ("uncertainty", _("Uncertainty first (smallest reward-model margin)")),
        ],
        label=_("Task order"),
    )
    show_rm_hint = forms.BooleanField(required=False, label=_("Show labelers the reward model's order"))
    aspects = AspectLinesField(
        required=False,
        max_length=5000,
        label=_("Aspects rated per answer"),
        help_text=_(
            "One a line: key | English label | Chinese label | min-max "
            "(e.g. helpfulness | Helpfulness | 有用性 | 0-4); keys are lowercase letters and _, scales within 0–10, "
            "at most 10 aspects. Empty: none asked."
        ),
    )
    use_helpsteer2 = forms.BooleanField(
        required=False,
        label=_("Use HelpSteer2's five aspects instead"),
        help_text=_("Helpfulness, correctness, coherence, complexity and verbosity, each 0–4."),
    )
    ask_strength = forms.BooleanField(
        required=False, label=_("Ask how much better each answer is than the next (much better … about the same)")
    )
    rationale = forms.ChoiceField(choices=RationaleMode.choices, label=_("Ask labelers why they ranked so"))
    consensus_method = forms.ChoiceField(
        choices=ConsensusMethod.choices,
        label=_("Consensus method"),
        help_text=_("Changing it computes every task's consensus again."),
    )
    # the review stage (annotation/review.py; the review page is /label/<slug>/review/)
    review_policy = forms.ChoiceField(choices=ReviewPolicy.choices, label=_("Tasks a reviewer checks"))
    review_sample_rate = forms.FloatField(
        min_value=0, max_value=1, label=_("Review: share of tasks sampled"), help_text=_("For the sampled policy.")
    )
    review_agreement_below = forms.FloatField(
        min_value=0,
        max_value=1,
        label=_("Review: agreement threshold"),
        help_text=_("For the agreement policy: tasks whose labelers agree less than this (0–1)."),
    )
    apply_to_open = forms.BooleanField(
        required=False,
        label=_("Also give the open tasks the new overlap"),
        help_text=_("Complete tasks stay complete."),
    )

    def clean(self):
        values = super().clean()
        if values.get("use_helpsteer2"):
            values["aspects"] = helpsteer2_aspects()
            self.errors.pop("aspects", None)  # the text box is replaced, whatever it held
        return values


SAMPLING_SLOTS = 4  # endpoint rows on the sampling form


class SamplingForm(forms.Form):
    """A sampling run from fields: up to four endpoints, each with its own sampling parameters."""

    per_prompt = forms.IntegerField(min_value=2, max_value=9, required=False, label=_("Completions per prompt (K)"))
    sources = forms.MultipleChoiceField(
        choices=[
            ("generated", _("Accepted generated instructions")),
            ("seed", _("Seed tasks")),
            ("imported", _("Imported prompts")),
        ],
        initial=["generated"],
        widget=forms.CheckboxSelectMultiple,
        label=_("Prompts from"),
    )
    limit = forms.IntegerField(min_value=1, max_value=1_000_000, required=False, label=_("At most this many prompts"))

    def __init__(self, *args, endpoints, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "—")] + endpoint_choices(endpoints)
        for i in range(SAMPLING_SLOTS):
            self.fields[f"endpoint_{i}"] = forms.ChoiceField(
                choices=choices, required=i == 0, label=_("Endpoint %(n)d") % {"n": i + 1}
            )
            self.fields[f"temperature_{i}"] = forms.FloatField(
                min_value=0, max_value=2, required=False, initial=0.9, label=_("Temperature")
            )
            self.fields[f"top_p_{i}"] = forms.FloatField(
                min_value=0, max_value=1, required=False, initial=0.95, label=_("Top-p")
            )
            self.fields[f"max_tokens_{i}"] = forms.IntegerField(
                min_value=1, max_value=32_768, required=False, initial=768, label=_("Max tokens")
            )
        if len(endpoints) == 1:
            self.fields["endpoint_0"].initial = endpoints[0].name

    def slots(self):
        """The form's endpoint rows, for the template: (endpoint, temperature, top_p, max_tokens) bound fields."""
        return [
            [self[f"{name}_{i}"] for name in ("endpoint", "temperature", "top_p", "max_tokens")]
            for i in range(SAMPLING_SLOTS)
        ]

    def plan(self) -> list[tuple[str, dict]]:
        """(endpoint name, its parameters) for each filled row."""
        rows = []
        for i in range(SAMPLING_SLOTS):
            name = self.cleaned_data.get(f"endpoint_{i}")
            if not name:
                continue
            params = {
                key: self.cleaned_data[f"{key}_{i}"]
                for key in ("temperature", "top_p", "max_tokens")
                if self.cleaned_data.get(f"{key}_{i}") is not None
            }
            rows.append((name, params))
        return rows


class ProjectSettingsForm(forms.Form):
    name = forms.CharField(max_length=200, label=_("Name"))
    description = forms.CharField(
        max_length=20_000, required=False, widget=forms.Textarea(attrs={"rows": 3}), label=_("Description")
    )
    guidelines = forms.CharField(
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 10}),
        label=_("Guidelines for labelers"),
        help_text=_("Markdown, shown on every ranking page."),
    )
