"""The difficulty page's forms: a difficulty run (a trained job or a base model scores perplexity and IFD), a rating
run (an LLM judge rates complexity and quality; its runs are listed on the same page) and the band of the
distribution the page shows."""

from django import forms
from django.utils.translation import gettext_lazy

from llm.health import endpoint_choices
from selfinstruct.difficulty import METRICS


class DifficultyRunForm(forms.Form):
    job = forms.TypedChoiceField(
        label=gettext_lazy("Trained model"), coerce=int, required=False, empty_value=None, choices=()
    )
    base_model = forms.CharField(
        label=gettext_lazy("or a base model"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("A model folder's name under the server's model roots, e.g. demo-tiny-llama."),
    )
    max_length = forms.IntegerField(label=gettext_lazy("Tokens per text"), min_value=32, max_value=8192, initial=1024)

    def __init__(self, *args, jobs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["job"].choices = [("", "—")] + [(j.pk, f"job-{j.pk} ({j.kind})") for j in jobs]


class RatingRunForm(forms.Form):
    endpoint = forms.ChoiceField(label=gettext_lazy("Judge endpoint"), choices=())

    def __init__(self, *args, endpoints=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = endpoint_choices(endpoints)


class BandForm(forms.Form):
    scorer = forms.CharField(required=False, max_length=200)
    metric = forms.ChoiceField(choices=[(m, m) for m in METRICS], required=False)
    drop_easiest = forms.FloatField(required=False, min_value=0, max_value=99)
    drop_hardest = forms.FloatField(required=False, min_value=0, max_value=99)
