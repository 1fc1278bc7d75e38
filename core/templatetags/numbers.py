"""Human number formats for every page: `{% load numbers %}{{ value|num }}`.

Counts show as integers with thousands separators (77, not 77.0000), measurements with four significant figures
(0.6931), and very large or very small magnitudes in scientific notation (3.7e+11, 2e-05) so that a learning rate
never shows as 0.0000. Python's own format rules (the `g` presentation), never hand-rolled rounding. A boolean
reads as a translated yes or no. `{{ cost|money }}`: an amount with two decimals ("0.00", "1,234.50"), a tiny
non-zero one as "< 0.01".
"""

from __future__ import annotations

import math
from decimal import Decimal

from django import template

from core.templatetags.words import yes_no_text

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
    """{{ x|num }} or {{ x|num:3 }} (significant figures); a boolean as a translated yes or no."""
    if isinstance(value, bool):
        return yes_no_text(value)
    try:
        digits = max(1, min(int(digits), 12))
    except (TypeError, ValueError):
        digits = 4
    return format_number(value, digits)


MONEY_CENTS = Decimal("0.01")


@register.filter
def money(value):
    """{{ batch.cost|money }}: two decimals with thousands separators; a positive amount under a cent as "< 0.01"
    (never 0.0000); anything that is not a number as it is."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return value
    if not amount.is_finite():
        return str(value)
    if 0 < abs(amount) < MONEY_CENTS:
        return "< 0.01" if amount > 0 else "> -0.01"
    return f"{amount.quantize(MONEY_CENTS):,}"
