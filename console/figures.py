"""Figures on the console's evaluation pages, readable: the results table's headers translated, its numbers and
intervals formatted, and every figure that rests on fewer than MIN_RELIABLE_ITEMS items flagged as such."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# A win rate, score or interval from fewer judged items than this is shown with a warning that it rests on few
# items (its interval is wide). 30 is the usual rule of thumb for a proportion's normal approximation.
MIN_RELIABLE_ITEMS = 30

EVALUATION_LABELS = {
    "category": _("Category"),
    "judged": _("Judged"),
    "model_score": _("Model score"),
    "reference_score": _("Reference score"),
    "relative_score": _("Relative score"),
    "wins": _("Wins"),
    "ties": _("Ties"),
    "losses": _("Losses"),
    "position_bias_rate": _("Order changed the verdict"),
    "win_rate": _("Win rate"),
    "win_rate_ci": _("Interval (95%)"),
}


def evaluation_table(columns, rows) -> dict:
    """{"headers": [(column, label)], "rows": [{"category", "judged", "few", "cells": [(column, value)]}]}: the
    overall row's category is translated, an interval is a (low, high) pair."""
    table = []
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        judged = values.get("judged")
        category = values.get("category")
        cells = []
        for column in columns:
            value = values[column]
            if column == "category" and category == "overall":
                value = _("overall")
            if column == "win_rate_ci" and isinstance(value, list | tuple) and len(value) == 2:
                value = tuple(value)
            cells.append((column, value))
        few = isinstance(judged, int) and judged < MIN_RELIABLE_ITEMS
        table.append({"category": category, "judged": judged, "few": few, "cells": cells})
    few = [row["judged"] for row in table if row["few"]]
    return {
        "headers": [(c, EVALUATION_LABELS.get(c, c.replace("_", " "))) for c in columns],
        "rows": table,
        "fewest": min(few) if few else None,
        "min_items": MIN_RELIABLE_ITEMS,
    }


def items_of(win_rate: dict | None) -> int | None:
    """How many judged prompts a win-rate summary (wins, ties, losses) rests on."""
    if not win_rate:
        return None
    counts = [win_rate.get(k) for k in ("wins", "ties", "losses")]
    return sum(counts) if all(isinstance(n, int) for n in counts) else None
