"""Inline SVG charts rendered on the server: no JavaScript, no CDN, the admin works offline."""

from collections.abc import Callable, Sequence

from django.utils.html import format_html
from django.utils.safestring import SafeString


def gauge_svg(
    *, value: float, maximum: float, width: int = 360, height: int = 18, label: str = ""
) -> SafeString:
    """A horizontal bar filled to value/maximum; red from 90 %."""
    share = max(0.0, min(1.0, value / maximum)) if maximum else 0.0
    colour = "#ba2121" if share >= 0.9 else ("#e0a800" if share >= 0.7 else "#417690")
    return format_html(
        '<svg class="ops-gauge" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<rect width="{}" height="{}" rx="3" fill="#e8e8e8"/>'
        '<rect width="{}" height="{}" rx="3" fill="{}"/></svg>',
        width,
        height,
        width,
        height,
        label,
        width,
        height,
        round(width * share, 1),
        height,
        colour,
    )


def line_svg(
    points: Sequence[float], *, width: int = 360, height: int = 80, label: str = "", pad: int = 4
) -> SafeString:
    """A line of `points` scaled to the box (the lowest at the bottom); empty with fewer than two points."""
    if len(points) < 2:
        return format_html(
            '<svg width="{}" height="{}" role="img" aria-label="{}"></svg>', width, height, label
        )
    low, high = min(points), max(points)
    span = (high - low) or 1
    step = (width - 2 * pad) / (len(points) - 1)
    coords = " ".join(
        f"{pad + index * step:.1f},{height - pad - (value - low) / span * (height - 2 * pad):.1f}"
        for index, value in enumerate(points)
    )
    return format_html(
        '<svg class="ops-line" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<polyline points="{}" fill="none" stroke="#417690" stroke-width="2"/></svg>',
        width,
        height,
        width,
        height,
        label,
        coords,
    )


def bars_svg(
    values: Sequence[float],
    *,
    width: int = 360,
    height: int = 80,
    label: str = "",
    titles: Sequence[str] = (),
    links: Sequence[str] = (),
) -> SafeString:
    """Vertical bars, one per value (e.g. per day), each with a tooltip and optionally a link."""
    if not values:
        return format_html(
            '<svg width="{}" height="{}" role="img" aria-label="{}"></svg>', width, height, label
        )
    high = max(values) or 1
    slot = width / len(values)
    bars = []
    for index, value in enumerate(values):
        bar_height = value / high * (height - 1)
        bar = format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="#79aec8"><title>{}</title></rect>',
            round(index * slot + 1, 1),
            round(height - bar_height, 1),
            round(max(slot - 2, 1), 1),
            round(bar_height, 1),
            titles[index] if index < len(titles) else value,
        )
        if index < len(links):
            bar = format_html('<a href="{}">{}</a>', links[index], bar)
        bars.append(bar)
    # A baseline, so that a window of zeros still reads as an (empty) chart rather than blank space.
    baseline = format_html(
        '<line x1="0" y1="{}" x2="{}" y2="{}" stroke="#cccccc" stroke-width="1"/>',
        height - 0.5,
        width,
        height - 0.5,
    )
    return format_html(
        '<svg class="ops-bars" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">{}{}</svg>',
        width,
        height,
        width,
        height,
        label,
        baseline,
        SafeString("".join(bars)),
    )


def stacked_bars_svg(
    columns: Sequence[dict],
    *,
    order: Sequence,
    colours: dict,
    link: Callable[[int, object], str],
    titles: Callable[[int, object, int], str],
    label: str,
    width: int = 720,
    height: int = 120,
) -> SafeString:
    """One bar per column, a segment per key of `order` (each a link), stacked in that order."""
    totals = [sum(column.values()) for column in columns]
    high = max(totals, default=0) or 1
    slot = width / max(len(columns), 1)
    parts = []
    for index, column in enumerate(columns):
        top = float(height)
        for key in order:
            count = column.get(key, 0)
            if not count:
                continue
            segment = count / high * (height - 1)
            top -= segment
            parts.append(
                format_html(
                    '<a href="{}"><rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{}</title></rect></a>",
                    link(index, key),
                    round(index * slot + 1, 1),
                    round(top, 1),
                    round(max(slot - 2, 1), 1),
                    round(segment, 1),
                    colours[key],
                    titles(index, key, count),
                )
            )
    return format_html(
        '<svg class="ops-bars" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg>',
        width,
        height,
        width,
        height,
        label,
        SafeString("".join(parts)),
    )
