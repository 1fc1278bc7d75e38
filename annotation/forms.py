"""Admin forms for ranking (they call services; no logic here)."""

from django import forms

from annotation.models import MAX_K, MIN_K
from core.admin_pages import clean_json_object
from llm.models import LLMEndpoint
from projects.models import Project


class SamplingForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    endpoints = forms.ModelMultipleChoiceField(
        queryset=LLMEndpoint.objects.filter(is_active=True), help_text="completion slot i uses endpoint i mod n"
    )
    per_prompt = forms.IntegerField(min_value=MIN_K, max_value=MAX_K, initial=4, label="Completions per prompt (K)")
    sources = forms.MultipleChoiceField(
        choices=[("generated", "accepted generated instructions"), ("seed", "seed tasks"), ("imported", "imported")],
        initial=["generated"],
        widget=forms.CheckboxSelectMultiple,
    )
    limit = forms.IntegerField(min_value=1, required=False, help_text="at most this many prompts")
    params = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='JSON sampling parameters for all endpoints, or {"endpoint-name": {…}} per endpoint',
    )

    def clean_params(self):
        return clean_json_object(self.cleaned_data["params"])

    def plan(self) -> list[tuple]:
        params = self.cleaned_data["params"]
        per_endpoint = all(isinstance(v, dict) for v in params.values()) and params
        return [(e, params.get(e.name, {}) if per_endpoint else params) for e in self.cleaned_data["endpoints"]]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)]


class ImportCompletionsForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    files = MultipleFileField(
        widget=MultipleFileInput(),
        help_text="one JSONL file per model: {instruction, input, response} or {prompt, completion} per line",
    )


class JudgeForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all())
    endpoint = forms.ModelChoiceField(queryset=LLMEndpoint.objects.filter(is_active=True), label="Judge endpoint")
    limit = forms.IntegerField(min_value=1, required=False, help_text="at most this many tasks")
    only_ranked = forms.BooleanField(required=False, initial=True, help_text="only tasks humans have ranked")
