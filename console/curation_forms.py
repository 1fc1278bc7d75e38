"""The console's curation forms: edit one seed task or generated instruction, and choose a bulk action. They only
validate and hand over (selfinstruct.curation checks again and names the field)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from selfinstruct.curation_rules import BULK_ACTIONS, MAX_INSTRUCTION_CHARS, MAX_TEXT_CHARS
from selfinstruct.models import CurationKind
from selfinstruct.taxonomy import taxonomy_for

LANGUAGE_CHOICES = [("en", "English"), ("zh", "中文")]


class ItemEditForm(forms.Form):
    instruction = forms.CharField(
        max_length=MAX_INSTRUCTION_CHARS, label=_("Instruction"), widget=forms.Textarea(attrs={"rows": 3})
    )
    input = forms.CharField(
        max_length=MAX_TEXT_CHARS,
        required=False,
        strip=False,
        label=_("Input"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    output = forms.CharField(
        max_length=MAX_TEXT_CHARS,
        required=False,
        strip=False,
        label=_("Output"),
        help_text=_("Of the first example: what a dataset's first row of this item holds."),
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    language = forms.ChoiceField(choices=LANGUAGE_CHOICES, label=_("Language"))
    task_type = forms.ChoiceField(required=False, label=_("Task type"))
    status = forms.ChoiceField(choices=[("accepted", _("Accepted")), ("rejected", _("Rejected"))], label=_("State"))
    is_classification = forms.BooleanField(required=False, label=_("Classification task"))

    def __init__(self, *args, kind: str, project, **kwargs):
        super().__init__(*args, **kwargs)
        if kind == CurationKind.SEED:
            del self.fields["task_type"], self.fields["status"]
        else:
            del self.fields["is_classification"]
            types = taxonomy_for(project)
            self.fields["task_type"].choices = [("", _("untagged"))] + [(k, types.name(k)) for k in types.keys()]

    def changes(self) -> dict:
        """The fields the curator changed, with their new values (whitespace-only edits of texts included)."""
        return {field: self.cleaned_data[field] for field in self.changed_data}


def bulk_action_choices(kind: str, project) -> list[tuple[str, str]]:
    """One select for the action and its value: set_language:en, set_task_type:code, accept, reject, delete."""
    choices = []
    for action in BULK_ACTIONS[kind]:
        if action == "set_language":
            choices += [
                (f"set_language:{code}", _("Set language: %(name)s") % {"name": name})
                for code, name in LANGUAGE_CHOICES
            ]
        elif action == "set_task_type":
            types = taxonomy_for(project)
            choices += [
                (f"set_task_type:{k}", _("Set task type: %(name)s") % {"name": types.name(k)}) for k in types.keys()
            ]
            choices.append(("set_task_type:", _("Set task type: untagged")))
        else:
            label = {"accept": _("Accept"), "reject": _("Reject"), "delete": _("Delete")}[action]
            choices.append((action, label))
    return choices


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"))

    def __init__(self, *args, kind: str, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = bulk_action_choices(kind, project)

    def action_and_value(self) -> tuple[str, str]:
        action, _sep, value = self.cleaned_data["action"].partition(":")
        return action, value
