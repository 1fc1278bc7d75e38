"""Human number formats for every page: `{% load numbers %}{{ value|num }}`.

Counts show as integers with thousands separators (77, not 77.0000), measurements with four significant figures
(0.6931), and very large or very small magnitudes in scientific notation (3.7e+11, 2e-05) so that a learning rate
never shows as 0.0000. Python's own format rules (the `g` presentation), never hand-rolled rounding.
"""

from __future__ import annotations

import math
from decimal import Decimal

from django import template

register = template.Library()


def format_number(value, digits: int = 4) -> str:
    """The display form of a number (see the module's docstring); anything that is not a number as it is."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    magnitude = abs(value)
    if value.is_integer() and magnitude < 1e9:  # a count held as a float
        return f"{int(value):,}"
    if magnitude >= 1e9:
        return f"{value:.{digits - 1}e}".replace("e+0", "e+")
    if magnitude >= 10**digits:
        return f"{round(value):,}"
    if magnitude < 1e-3:
        return f"{value:.{max(digits - 1, 1)}g}"
    return f"{value:.{digits}g}"


@register.filter(name="num")
def num(value, digits=4):
    """{{ x|num }} or {{ x|num:3 }} (significant figures)."""
    try:
        digits = max(1, min(int(digits), 12))
    except (TypeError, ValueError):
        digits = 4
    return format_number(value, digits)
