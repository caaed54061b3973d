"""A metric across a model's versions as inline SVG: no script, no style attribute, nothing
fetched (the dashboard's Content-Security-Policy allows none of them)."""

from __future__ import annotations

__all__ = ["metric_chart"]

from markupsafe import Markup, escape

_WIDTH, _HEIGHT, _PAD = 640, 160, 28


def metric_chart(metric: str, points: list[tuple[int, float]]) -> Markup:
    """An SVG line of ``metric`` per version number (empty when fewer than one point)."""
    if not points:
        return Markup("")
    values = [v for _, v in points]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (_WIDTH - 2 * _PAD) / max(len(points) - 1, 1)

    def x(index: int) -> float:
        return _PAD + index * step

    def y(value: float) -> float:
        return _HEIGHT - _PAD - (value - low) / span * (_HEIGHT - 2 * _PAD)

    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(points))
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="#2457c5">'
        f"<title>version {number}: {v:.4f}</title></circle>"
        for i, (number, v) in enumerate(points)
    )
    labels = (
        f'<text x="4" y="{_PAD - 8}" font-size="11" fill="#5b6475">{high:.4f}</text>'
        f'<text x="4" y="{_HEIGHT - 6}" font-size="11" fill="#5b6475">{low:.4f}</text>'
    )
    name = escape(metric)
    return Markup(
        f'<svg class="chart" role="img" aria-label="{name} per version" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" width="{_WIDTH}" height="{_HEIGHT}">'
        f'<polyline class="series" points="{line}" fill="none" stroke="#2457c5" '
        f'stroke-width="2"/>{dots}{labels}</svg>'
    )
