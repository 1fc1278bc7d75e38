"""Inline SVG line charts for the job page (loss curves, reward-model accuracy): no JavaScript, no CDN."""

from __future__ import annotations

from django.utils.html import escape

COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea")


def line_chart(series: dict[str, list[tuple[float, float]]], *, title: str, width: int = 560, height: int = 220) -> str:
    """An SVG chart of the given named series of (step, value) points; empty string when there is nothing."""
    points = [p for values in series.values() for p in values]
    if not points:
        return ""
    pad_left, pad_right, pad_top, pad_bottom = 56, 12, 24, 28
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1

    def sx(x):
        return pad_left + (x - x0) / (x1 - x0) * (width - pad_left - pad_right)

    def sy(y):
        return height - pad_bottom - (y - y0) / (y1 - y0) * (height - pad_top - pad_bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" style="background:#fff;border:1px solid #ddd">',
        f'<text x="{pad_left}" y="16" font-size="12" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{pad_left}" y1="{height - pad_bottom}" x2="{width - pad_right}" y2="{height - pad_bottom}" '
        'stroke="#999"/>',
        f'<line x1="{pad_left}" y1="{pad_top}" x2="{pad_left}" y2="{height - pad_bottom}" stroke="#999"/>',
        f'<text x="{pad_left - 4}" y="{pad_top + 4}" font-size="10" text-anchor="end">{y1:.4g}</text>',
        f'<text x="{pad_left - 4}" y="{height - pad_bottom}" font-size="10" text-anchor="end">{y0:.4g}</text>',
        f'<text x="{pad_left}" y="{height - 8}" font-size="10">step {x0:g}</text>',
        f'<text x="{width - pad_right}" y="{height - 8}" font-size="10" text-anchor="end">{x1:g}</text>',
    ]
    for n, (name, values) in enumerate(series.items()):
        color = COLORS[n % len(COLORS)]
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in values)
        if len(values) == 1:
            x, y = values[0]
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>')
        else:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{coords}"/>')
        parts.append(
            f'<text x="{width - pad_right - 4}" y="{pad_top + 12 * (n + 1)}" font-size="11" text-anchor="end" '
            f'fill="{color}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
