"""The board's chart as server-rendered SVG (no script, no external library): one stacked bar per
diagnosis group, split by platform status. Colours are SVG attributes, not style: the pages'
Content-Security-Policy allows no inline style."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

from .messages import DIAGNOSIS_SHORT, PLATFORM_STATUSES

COLOURS = {"active": "#2e7d32", "inactive": "#c62828", "unknown": "#90a4ae"}
WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 150, 20, 40


@dataclass(frozen=True)
class Segment:
    diagnosis_group: str
    platform_status: str
    count: int
    x: float
    y: float
    width: float
    height: float


def segments(cells: list[dict], groups: list[str]) -> tuple[list[Segment], int]:
    """The rectangles of the bars, and the axis maximum they are scaled to."""
    counts = {(c["diagnosis_group"], c["platform_status"]): int(c["count"]) for c in cells}
    totals = [sum(counts.get((g, s), 0) for s, _ in PLATFORM_STATUSES) for g in groups]
    top = nice_maximum(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(groups), 1)
    bar = slot * 0.6
    result = []
    for index, group in enumerate(groups):
        x = LEFT + index * slot + (slot - bar) / 2
        base = TOP + plot_h
        for status, _label in PLATFORM_STATUSES:
            count = counts.get((group, status), 0)
            if not count:
                continue
            height = plot_h * count / top
            base -= height
            result.append(Segment(group, status, count, round(x, 1), round(base, 1), round(bar, 1), round(height, 1)))
    return result, top


def nice_maximum(value: int) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least the largest bar (and at least 1)."""
    if value <= 1:
        return 1
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def render(cells: list[dict], title: str) -> str:
    groups = list(DIAGNOSIS_SHORT)
    bars, top = segments(cells, groups)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(groups)
    labels = dict(PLATFORM_STATUSES)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="chart-title">',
             f'<title id="chart-title">{escape(title)}</title>']
    steps = min(top, 5)   # the top is 1, 2 or 5 times a power of ten: whole numbers at every line
    for tick in range(steps + 1):
        y = TOP + plot_h - plot_h * tick / steps
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#d5dde6"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#5a6878">'
                     f'{top * tick // steps:,}</text>'.replace(",", "."))
    for bar in bars:
        label = f"{DIAGNOSIS_SHORT[bar.diagnosis_group]}, {labels[bar.platform_status]}: {bar.count}"
        parts.append(f'<rect x="{bar.x}" y="{bar.y}" width="{bar.width}" height="{bar.height}" '
                     f'fill="{COLOURS[bar.platform_status]}" data-group="{escape(bar.diagnosis_group)}" '
                     f'data-status="{bar.platform_status}" data-count="{bar.count}">'
                     f'<title>{escape(label)}</title></rect>')
    for index, group in enumerate(groups):
        x = LEFT + index * slot + slot / 2
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle" font-size="12" fill="#1d2733">'
                     f'{escape(DIAGNOSIS_SHORT[group])}</text>')
    for index, (status, label) in enumerate(PLATFORM_STATUSES):
        y = TOP + 10 + index * 22
        parts.append(f'<rect x="{WIDTH - RIGHT + 20}" y="{y}" width="14" height="14" fill="{COLOURS[status]}"/>')
        parts.append(f'<text x="{WIDTH - RIGHT + 40}" y="{y + 12}" font-size="12" fill="#1d2733">'
                     f'{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
