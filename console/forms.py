"""The console's forms: fields with sensible defaults, never JSON boxes; they only validate and hand over."""

from django import forms
from django.utils.translation import gettext_lazy as _

from llm.selectors import endpoints_for_project
from selfinstruct.selectors import prompt_templates


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

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        endpoints = endpoints_for_project(project=project).order_by("name")
        self.fields["endpoint"].queryset = endpoints
        self.fields["template"].queryset = prompt_templates()
        if endpoints.count() == 1:
            self.fields["endpoint"].initial = endpoints.first().name
        self.fields["template"].initial = "self-instruct"
