"""Form fields for training hyperparameters, made from the typed job configs (training.trainer.configs): the bounds,
choices and labels are the configs'; what is only the console's is the words for a blank choice."""

from django import forms
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from training.trainer import configs

# Blank means "the default of the job's kind and method": how each choice field says so.
BLANK_CHOICE = {
    "chat_template": _("None: raw prompt text"),
    "loss_type": _("DPO loss: sigmoid (default)"),
}
CHOICE_LABELS = {
    "model": _("The base model's own"),
    "ipo": "IPO",
    **{name: label for name, (label, _file) in configs.CHAT_TEMPLATES.items()},
}
METHOD_LABELS = {"full": _("Full fine-tuning"), "lora": "LoRA", "qlora": _("QLoRA (4-bit base, CUDA GPUs only)")}
# The kinds that train on a preference version and take beta (DPO, KTO, RL).
PREFERENCE_KINDS = tuple(configs.kinds_with("beta"))


def hp_field(name: str, **options) -> forms.Field:
    """An optional form field for the hyperparameter `name`; blank takes the default of the job's kind and method."""
    spec = configs.field_spec(name)
    meta = spec.metadata
    options = {"required": False, "label": gettext_lazy(meta["label"]) if meta["label"] else name, **options}
    if meta["choices"]:
        default = spec.default
        choices = [("", BLANK_CHOICE[name])] + [
            (c, CHOICE_LABELS.get(c, c)) for c in meta["choices"] if c != default and c != ""
        ]
        return forms.ChoiceField(choices=choices, **options)
    low, high = meta["bounds"]
    kind = (
        forms.IntegerField if isinstance(spec.default, int) and not isinstance(spec.default, bool) else forms.FloatField
    )
    return kind(min_value=low, max_value=high, **options)


def method_choices(methods=configs.METHODS) -> list[tuple]:
    return [(method, METHOD_LABELS[method]) for method in methods]


def chosen_hyperparameters(form: forms.Form) -> dict:
    """The hyperparameters the form's user filled in (blank ones take the defaults)."""
    known = {name for kind in configs.CONFIGS for name in configs.fields_of(kind)}
    return {
        name: value
        for name, value in form.cleaned_data.items()
        if name in known and name in form.fields and value not in (None, "")
    }
