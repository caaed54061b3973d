"""Self-contained HTML monitoring reports: inline SVG plots, no script, nothing fetched.

Plots: a drift score per column (its statistic measured against its own threshold, so 1 is the
line between ok and drift whatever the method), reference-vs-current histograms per drifted
column, and the model's reports over time (drifted share, quality, estimated quality).
"""

from __future__ import annotations

__all__ = ["MAX_HISTOGRAMS", "column_histograms", "drift_score", "render_html"]

from collections.abc import Mapping
from html import escape
from typing import Any

import numpy as np

from shipline.config.drift_method import DRIFT_METHODS
from shipline.data.frame import ColumnValues, as_array

MAX_HISTOGRAMS = 20
_MAX_CATEGORIES = 15
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}
.drift{color:#b00020;font-weight:600}.ok{color:#1b7f3b}.grid{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0}figcaption{font-weight:600}svg text{font-size:11px}
"""


def drift_score(column: dict[str, Any]) -> float | None:
    """A column's statistic against its threshold: 1 or more is drift, for every method.

    Distances are divided by their threshold; p-values compare on a log scale (log p over log
    threshold), so p = 0.05 at a 0.05 threshold is 1 and p = 0.0025 is 2. Capped at 10.
    """
    statistic, threshold, method = column["statistic"], column["threshold"], column["method"]
    if statistic is None or not threshold or method not in DRIFT_METHODS:
        return None
    return DRIFT_METHODS.get(method).score(statistic, threshold)


def column_histograms(
    reference: Mapping[str, ColumnValues], current: Mapping[str, ColumnValues], names: list[str]
) -> dict[str, dict[str, Any]]:
    """Shares per bin (numbers) or per category, reference and current, for the named columns."""
    from shipline.monitoring.drift import column_kind

    found: dict[str, dict[str, Any]] = {}
    for name in names[:MAX_HISTOGRAMS]:
        ref, cur = as_array(reference[name]), as_array(current[name])
        if column_kind(ref) == "numerical":
            ref_f, cur_f = _finite(ref), _finite(cur)
            if not ref_f.size or not cur_f.size:
                continue
            edges = np.histogram_bin_edges(np.concatenate([ref_f, cur_f]), bins=20)
            found[name] = {
                "kind": "numerical",
                "labels": [f"{edge:.4g}" for edge in edges[:-1]],
                "reference": (np.histogram(ref_f, edges)[0] / ref_f.size).tolist(),
                "current": (np.histogram(cur_f, edges)[0] / cur_f.size).tolist(),
            }
        else:
            found[name] = _categorical(ref, cur)
    return found


def _finite(values: np.ndarray) -> np.ndarray:
    numbers = np.asarray(values, dtype=np.float64)
    finite: np.ndarray = numbers[np.isfinite(numbers)]
    return finite


def _categorical(ref: np.ndarray, cur: np.ndarray) -> dict[str, Any]:
    from collections import Counter

    ref_counts = Counter(str(v) for v in ref.tolist() if v is not None)
    cur_counts = Counter(str(v) for v in cur.tolist() if v is not None)
    top = [k for k, _ in (ref_counts + cur_counts).most_common(_MAX_CATEGORIES)]
    ref_total, cur_total = max(sum(ref_counts.values()), 1), max(sum(cur_counts.values()), 1)
    return {
        "kind": "categorical",
        "labels": top,
        "reference": [ref_counts[k] / ref_total for k in top],
        "current": [cur_counts[k] / cur_total for k in top],
    }


def render_html(
    title: str,
    drift: dict[str, Any],
    histograms: dict[str, dict[str, Any]],
    summary_lines: list[str],
    history: list[dict[str, Any]] | None = None,
) -> str:
    """The whole page. ``drift`` is a DriftReport's dict (columns may include a prediction)."""
    columns = drift["columns"]
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>",
        *(f"<p>{escape(line)}</p>" for line in summary_lines),
        "<h2>Drift score per column</h2>",
        "<p>Statistic measured against its threshold: at or above 1 (the line) is drift.</p>",
        _score_chart(columns),
        _column_table(columns),
    ]
    if histograms:
        parts.append("<h2>Reference and current distributions of drifted columns</h2>")
        parts.append('<div class="grid">')
        parts += [_histogram(name, h) for name, h in histograms.items()]
        parts.append("</div>")
    if history:
        parts.append("<h2>Over time</h2>")
        parts.append(_history_chart(history))
    parts.append("</body></html>")
    return "\n".join(parts)


def _column_table(columns: list[dict[str, Any]]) -> str:
    rows = []
    for c in columns:
        verdict = {True: ("DRIFT", "drift"), False: ("ok", "ok"), None: ("skipped", "")}[
            c["drifted"]
        ]
        statistic = "-" if c["statistic"] is None else f"{c['statistic']:.4g}"
        notes = ", ".join(c["unseen"]) or c["note"] or ""
        rows.append(
            f"<tr><td>{escape(c['column'])}</td><td>{escape(c['kind'])}</td>"
            f"<td>{escape(c['method'] or '-')}</td><td>{statistic}</td>"
            f"<td>{c['threshold'] if c['threshold'] is not None else '-'}</td>"
            f'<td class="{verdict[1]}">{verdict[0]}</td><td>{escape(notes)}</td></tr>'
        )
    header = "".join(
        f"<th>{h}</th>"
        for h in ("column", "kind", "method", "statistic", "threshold", "verdict", "notes")
    )
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def _score_chart(columns: list[dict[str, Any]]) -> str:
    scored = [(c["column"], s, bool(c["drifted"])) for c in columns if (s := drift_score(c))]
    if not scored:
        return "<p>No column could be scored.</p>"
    width, row, left = 700, 18, 180
    top = max([s for _, s, _ in scored] + [1.2])
    scale = (width - left - 60) / top
    bars = []
    for index, (name, score, drifted) in enumerate(scored):
        y = index * row + 4
        colour = "#b00020" if drifted else "#4a7bd0"
        bars.append(
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{escape(name[:28])}</text>'
            f'<rect class="score" x="{left}" y="{y}" width="{score * scale:.1f}" height="{row - 4}"'
            f' fill="{colour}"><title>{escape(name)}: {score:.3g}</title></rect>'
            f'<text x="{left + score * scale + 4:.1f}" y="{y + 12}">{score:.2f}</text>'
        )
    height = len(scored) * row + 10
    line = left + scale
    return (
        f'<svg role="img" aria-label="drift score per column" width="{width}" height="{height}">'
        + "".join(bars)
        + f'<line x1="{line:.1f}" x2="{line:.1f}" y1="0" y2="{height}" stroke="#222" '
        'stroke-dasharray="4 3"/></svg>'
    )


def _histogram(name: str, histogram: dict[str, Any]) -> str:
    width, height, pad = 330, 170, 24
    labels, ref, cur = histogram["labels"], histogram["reference"], histogram["current"]
    top = max([*ref, *cur, 1e-9])
    slot = (width - 2 * pad) / max(len(labels), 1)
    bars = []
    for index, (label, r, c) in enumerate(zip(labels, ref, cur, strict=True)):
        x = pad + index * slot
        for offset, share, colour, side in (
            (0, r, "#9aa5b1", "reference"),
            (1, c, "#d9534f", "current"),
        ):
            h = share / top * (height - 2 * pad)
            bars.append(
                f'<rect class="{side}" x="{x + offset * slot / 2:.1f}" '
                f'y="{height - pad - h:.1f}" width="{slot / 2:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(str(label))} {side}: {share:.1%}</title></rect>'
            )
    return (
        f"<figure><figcaption>{escape(name)} ({histogram['kind']})</figcaption>"
        f'<svg role="img" aria-label="histogram {escape(name)}" width="{width}" '
        f'height="{height}">{"".join(bars)}'
        f'<text x="{pad}" y="14" fill="#9aa5b1">■ reference</text>'
        f'<text x="{pad + 90}" y="14" fill="#d9534f">■ current</text></svg></figure>'
    )


def _history_chart(history: list[dict[str, Any]]) -> str:
    """Lines over the model's reports: every series is a share or a metric in [0, 1]."""
    width, height, pad = 700, 220, 36
    series: dict[str, list[tuple[int, float]]] = {}
    for index, point in enumerate(history):
        for key, value in point.items():
            if key != "at" and isinstance(value, int | float) and np.isfinite(value):
                series.setdefault(key, []).append((index, float(value)))
    step = (width - 2 * pad) / max(len(history) - 1, 1)
    colours = ["#4a7bd0", "#b00020", "#1b7f3b", "#8e44ad", "#e67e22"]
    lines, legend = [], []
    for number, (key, points) in enumerate(series.items()):
        colour = colours[number % len(colours)]
        coords = " ".join(
            f"{pad + i * step:.1f},{height - pad - min(max(v, 0), 1) * (height - 2 * pad):.1f}"
            for i, v in points
        )
        lines.append(
            f'<polyline class="series" points="{coords}" fill="none" stroke="{colour}" '
            f'stroke-width="2"><title>{escape(key)}</title></polyline>'
        )
        legend.append(
            f'<text x="{pad + number * 150}" y="14" fill="{colour}">— {escape(key)}</text>'
        )
    first, last = escape(history[0]["at"][:16]), escape(history[-1]["at"][:16])
    return (
        f'<svg role="img" aria-label="reports over time" width="{width}" height="{height}">'
        f'<line x1="{pad}" x2="{width - pad}" y1="{height - pad}" y2="{height - pad}" '
        'stroke="#999"/>'
        + "".join(lines)
        + "".join(legend)
        + f'<text x="{pad}" y="{height - 10}">{first}</text>'
        f'<text x="{width - pad}" y="{height - 10}" text-anchor="end">{last}</text></svg>'
    )
