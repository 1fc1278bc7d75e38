"""`{% load difficulty_labels %}`: a difficulty metric and a scorer in words (`{{ m|metric_name }}`: "ifd" → "IFD
(instruction-following difficulty)"; `{{ run.scorer|scorer_name }}`: "judge:demo-teacher" → "Judge: demo-teacher")."""

from django import template

from selfinstruct.difficulty_selectors import difficulty_metric_label, scorer_label

register = template.Library()


@register.filter
def metric_name(metric):
    return difficulty_metric_label(metric)


@register.filter
def scorer_name(scorer):
    return scorer_label(scorer)
