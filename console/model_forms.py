"""The console's forms for models and runs of the models page: registering a served model, evaluations, judge runs
and training triggers."""

from django import forms
from django.utils.translation import gettext_lazy as _

from console.training_fields import chosen_hyperparameters, hp_field, method_choices
from llm.health import endpoint_choices


class RegisterServedForm(forms.Form):
    """A server someone started by hand: where it answers and the API key it was started with (stored on the
    endpoint for the workers to send; never shown again)."""

    base_url = forms.CharField(
        max_length=500, label=_("Base URL of the running server"), help_text=_("e.g. http://127.0.0.1:8100/v1")
    )
    api_key = forms.CharField(
        min_length=16,
        max_length=128,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        label=_("Its API key"),
        help_text=_("The key the server was started with (vLLM: VLLM_API_KEY or --api-key)."),
    )


class EvaluationForm(forms.Form):
    """An evaluation: a model endpoint answers a prompt set with references, a judge endpoint scores both."""

    model_endpoint = forms.ChoiceField(label=_("Model endpoint"))
    judge_endpoint = forms.ChoiceField(label=_("Judge endpoint"))
    prompts = forms.FileField(
        label=_("Prompt set"), help_text=_("JSONL or JSON: question (or instruction), reference answer, category.")
    )
    per_category = forms.IntegerField(min_value=1, max_value=100_000, required=False, label=_("At most per category"))
    max_tokens = forms.IntegerField(min_value=1, max_value=32_768, initial=512, label=_("Max tokens per answer"))

    def __init__(self, *args, endpoints, model_default="", **kwargs):
        super().__init__(*args, **kwargs)
        choices = endpoint_choices(endpoints)
        self.fields["model_endpoint"].choices = choices
        self.fields["judge_endpoint"].choices = choices
        if model_default:
            self.fields["model_endpoint"].initial = model_default


class JudgeRunForm(forms.Form):
    endpoint = forms.ChoiceField(label=_("Judge endpoint"))
    only_ranked = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Only tasks humans ranked"),
        help_text=_("What judge–human agreement needs."),
    )
    limit = forms.IntegerField(min_value=1, max_value=1_000_000, required=False, label=_("At most this many tasks"))

    def __init__(self, *args, endpoints, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = endpoint_choices(endpoints)


class TriggerForm(forms.Form):
    """Train automatically: each ready version of the matching kind starts a job with these settings."""

    kind = forms.ChoiceField(
        choices=[
            ("sft", _("SFT, on each ready SFT version")),
            ("reward", _("Reward model, on each ready preference version")),
        ],
        label=_("Kind"),
    )
    base_model = forms.CharField(
        max_length=500, label=_("Base model"), help_text=_("A checkpoint folder under the server's model folders.")
    )
    method = forms.ChoiceField(choices=method_choices(("full", "lora")), label=_("Method"))
    epochs = hp_field("epochs")
    learning_rate = hp_field("learning_rate")

    def hyperparameters(self) -> dict:
        return chosen_hyperparameters(self)
