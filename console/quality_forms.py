"""The labeler-quality page's form: the project's guardrail minimums (each 0–1; 0 turns that guardrail off)."""

from django import forms
from django.utils.translation import gettext_lazy


class GuardrailsForm(forms.Form):
    min_reliability = forms.FloatField(
        label=gettext_lazy("Minimum reliability"),
        min_value=0.0,
        max_value=1.0,
        help_text=gettext_lazy(
            "Pause a labeler whose agreement with the other labelers' consensus falls below this (0: never)."
        ),
    )
    min_gold_accuracy = forms.FloatField(
        label=gettext_lazy("Minimum gold accuracy"),
        min_value=0.0,
        max_value=1.0,
        help_text=gettext_lazy("Pause a labeler whose agreement with the gold rankings falls below this (0: never)."),
    )
