"""The console's forms for the instruction pool: seed import, the review page's filters and the task types."""

from django import forms
from django.utils.translation import gettext_lazy as _

from selfinstruct.difficulty import METRICS as DIFFICULTY_METRICS
from selfinstruct.difficulty_selectors import METRIC_LABELS as DIFFICULTY_METRIC_LABELS
from selfinstruct.taxonomy import MAX_TYPES, TaxonomyError, as_lines, parse_lines


class SeedImportForm(forms.Form):
    file = forms.FileField(
        label=_("Seed file"),
        help_text=_(
            "Self-Instruct/BELLE JSONL, Alpaca JSON list or CSV; conversations as JSONL rows of OpenAI messages or "
            "ShareGPT conversations, or Alpaca items with history."
        ),
    )
    format = forms.ChoiceField(
        choices=[
            ("auto", _("Detect")),
            ("selfinstruct", "Self-Instruct JSONL"),
            ("belle", "BELLE JSONL"),
            ("alpaca", "Alpaca JSON"),
            ("csv", "CSV"),
        ],
        initial="auto",
        label=_("Format"),
    )


# Why an instruction was rejected (selfinstruct.filters.Reason), as the review page's filter offers it.
REASON_LABELS = {
    "truncated": _("cut off (truncated)"),
    "too_short": _("too short"),
    "too_long": _("too long"),
    "blacklist": _("blocked word"),
    "bad_start": _("bad start"),
    "empty_output": _("empty output"),
    "input_equals_output": _("input equals output"),
    "duplicate": _("duplicate"),
    "near_duplicate": _("near duplicate"),
    "wrong_language": _("wrong language"),
    "reviewer": _("rejected by a reviewer"),
    "conflicting_outputs": _("conflicting outputs"),
    "over_limit": _("over the limit"),
    "no_instances": _("no instances"),
    "over_quota": _("over its task type's quota"),
    "evol_no_gain": _("evolution: no gain"),
    "evol_refusal": _("evolution: a refusal"),
    "evol_empty": _("evolution: empty"),
    "evol_copies_prompt": _("evolution: copies the prompt"),
}


class ReviewFilterForm(forms.Form):
    """The review page's filters (GET): each value is one of the choices offered, or the filter is refused."""

    batch = forms.ChoiceField(required=False, label=_("Batch"))
    status = forms.ChoiceField(
        choices=[("", _("Any status")), ("accepted", _("Accepted")), ("rejected", _("Rejected"))],
        required=False,
        label=_("Status"),
    )
    reason = forms.ChoiceField(required=False, label=_("Reason"))
    language = forms.ChoiceField(
        choices=[("", _("Any language")), ("en", "English"), ("zh", "中文")], required=False, label=_("Language")
    )
    q = forms.CharField(max_length=200, required=False, label=_("Text"))
    scorer = forms.CharField(max_length=200, required=False, label=_("Difficulty by"))
    metric = forms.ChoiceField(
        choices=[(m, DIFFICULTY_METRIC_LABELS.get(m, m)) for m in DIFFICULTY_METRICS], required=False, label=_("Metric")
    )
    drop_easiest = forms.FloatField(min_value=0, max_value=99, required=False, label=_("Easiest (%)"))
    drop_hardest = forms.FloatField(min_value=0, max_value=99, required=False, label=_("Hardest (%)"))
    side = forms.ChoiceField(
        choices=[("inside", _("inside the band")), ("outside", _("outside the band"))], required=False
    )

    def band(self) -> dict | None:
        """The difficulty band asked for (scored instructions inside it, or outside it to reject them), or None."""
        values = self.cleaned_data
        if not values.get("scorer"):
            return None
        return {
            "scorer": values["scorer"],
            "metric": values["metric"] or "ifd",
            "drop_easiest": values["drop_easiest"] or 0,
            "drop_hardest": values["drop_hardest"] or 0,
            "side": values["side"] or "inside",
        }

    def __init__(self, *args, batches: list[int], reasons: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["batch"].choices = [("", _("Any batch"))] + [(str(b), f"#{b}") for b in batches]
        self.fields["reason"].choices = [("", _("Any reason"))] + [
            (r, REASON_LABELS.get(r, r.replace("_", " "))) for r in reasons
        ]


class TaxonomyForm(forms.Form):
    """The project's task types, one per line: key | name | 中文名 | definition."""

    types = forms.CharField(
        max_length=MAX_TYPES * 400,
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"}),
        label=_("Task types"),
        help_text=_(
            "One type per line: key | English name | Chinese name (may be empty) | the definition the tagger is "
            "given. Keys: lower-case letters, digits and _. Keep a catch-all type (e.g. other) for what fits none."
        ),
    )

    @staticmethod
    def initial_for(taxonomy) -> dict:
        return {"types": as_lines(taxonomy)}

    def clean_types(self) -> list[dict]:
        """The lines as {key, name, name_zh, definition}; the service judges the values."""
        try:
            return parse_lines(self.cleaned_data["types"])
        except TaxonomyError as exc:
            raise forms.ValidationError(str(exc)) from None
