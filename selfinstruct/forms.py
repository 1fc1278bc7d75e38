"""Admin forms for seeds and batches (they call services; no logic here)."""

from django import forms

from llm.models import LLMEndpoint
from projects.models import Project
from selfinstruct.models import PromptTemplate
from selfinstruct.seeds import SEED_FORMATS


class SeedUploadForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    file = forms.FileField(
        help_text="Self-Instruct/BELLE JSONL, Alpaca JSON list or CSV (instruction,input,output); conversations as "
        "JSONL rows of OpenAI `messages` or ShareGPT `conversations`, or Alpaca items with `history`"
    )
    format = forms.ChoiceField(choices=[("auto", "detect")] + [(f, f) for f in SEED_FORMATS], initial="auto")


class StartBatchForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    endpoint = forms.ModelChoiceField(queryset=LLMEndpoint.objects.filter(is_active=True))
    template = forms.ModelChoiceField(queryset=PromptTemplate.objects.all(), to_field_name="name")
    target = forms.IntegerField(min_value=1, initial=100, help_text="accepted instructions to reach")
    language = forms.ChoiceField(
        choices=[("", "default (zh for belle, else en)"), ("en", "English"), ("zh", "Chinese")], required=False
    )
    topic = forms.CharField(required=False, max_length=300, help_text="optional: steer demonstrations by BM25")
    token_budget = forms.IntegerField(required=False, min_value=1)
    cost_budget = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=4)
