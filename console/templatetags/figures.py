"""`{% load figures %}`: how many items a figure rests on, and whether that is too few (console.figures)."""

from django import template

from console.figures import MIN_RELIABLE_ITEMS, items_of

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
