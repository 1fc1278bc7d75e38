"""The labeler-quality page's form: the project's guardrail minimums (each 0–1; 0 turns that guardrail off). Each
minimum is named after the column of the labeler table it is compared with (annotation/guardrails.py judges the
labeler's last WINDOW rankings)."""

from django import forms
from django.utils.translation import gettext_lazy

# A 0–1 score: two decimals are what the table shows and what anyone sets.
_SCORE = forms.NumberInput(attrs={"step": "0.01", "class": "score"})


class GuardrailsForm(forms.Form):
    min_reliability = forms.FloatField(
        label=gettext_lazy("Minimum agreement with the consensus"),
        min_value=0.0,
        max_value=1.0,
        widget=_SCORE,
        help_text=gettext_lazy(
            "Compared with the “Agreement with the consensus” column, over the labeler's recent rankings: pause a "
            "labeler under it (0: never)."
        ),
    )
    min_gold_accuracy = forms.FloatField(
        label=gettext_lazy("Minimum gold accuracy"),
        min_value=0.0,
        max_value=1.0,
        widget=_SCORE,
        help_text=gettext_lazy(
            "Compared with the “Gold accuracy” column, over the labeler's recent gold tasks: pause a labeler under "
            "it (0: never)."
        ),
    )
