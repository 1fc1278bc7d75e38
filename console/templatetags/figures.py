"""`{% load figures %}`: how many items a figure rests on, and whether that is too few (console.figures); a
rejection reason in words."""

from django import template

from console.figures import MIN_RELIABLE_ITEMS, items_of
from console.pool_forms import REASON_LABELS

register = template.Library()


@register.filter
def judged_items(win_rate):
    """{{ w|judged_items }}: the prompts a win-rate summary rests on (wins + ties + losses)."""
    return items_of(win_rate)


@register.filter
def too_few(n) -> bool:
    """{% if n|too_few %}: fewer than MIN_RELIABLE_ITEMS items."""
    return isinstance(n, int) and n < MIN_RELIABLE_ITEMS


@register.simple_tag
def min_reliable_items() -> int:
    return MIN_RELIABLE_ITEMS


@register.filter
def reason_label(code):
    """{{ row.reason|reason_label }}: a rejection reason's translated words (console.pool_forms.REASON_LABELS)."""
    return REASON_LABELS.get(code, code.replace("_", " ") if isinstance(code, str) else code)
