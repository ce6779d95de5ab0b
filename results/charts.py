"""The charts of «Аналитика», drawn here as SVG: no script and no CDN. Each chart is shown beside
the table of its numbers (``reports.Table``), which screen readers read instead."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

# One colour per group, the same in the chart and its legend; distinct for common colour blindness.
COLOURS = {"school": "#0d6efd", "municipality": "#6f42c1", "region": "#fd7e14", "all": "#198754"}
WIDTH, HEIGHT = 480, 260
LEFT, BOTTOM, TOP, RIGHT = 40, 36, 12, 8


def _n(number):
    return f"{number:.1f}"


def histogram_svg(figures, title):
    """Grouped bars: for each primary score, the share of each group's participants with it.
    The viewBox scales with the page, and the labels are big enough to read at 360 px."""
    width = len(figures[0].scores) if figures else 0
    shares = [[f.share(n) or 0.0 for n in f.scores] for f in figures]
    top = max([max(s, default=0) for s in shares] + [5.0])
    top = float(int(top / 5) + 1) * 5
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(width, 1)
    bar = slot * 0.8 / max(len(figures), 1)
    parts = []
    for step in range(0, int(top) + 1, max(5, int(top / 4) // 5 * 5)):
        y = TOP + plot_h - plot_h * step / top
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ced4da"/>'
                '<text x="{}" y="{}" text-anchor="end" font-size="14">{}%</text>',
                LEFT,
                WIDTH - RIGHT,
                _n(y),
                _n(y),
                LEFT - 4,
                _n(y + 5),
                step,
            )
        )
    label_every = 1 if width <= 16 else 2 if width <= 32 else 5
    for score in range(width):
        x0 = LEFT + slot * score + slot * 0.1
        for n, (f, values) in enumerate(zip(figures, shares, strict=True)):
            h = plot_h * values[score] / top
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} — {}%</title></rect>',
                    _n(x0 + bar * n),
                    _n(TOP + plot_h - h),
                    _n(bar),
                    _n(h),
                    COLOURS[f.group.key],
                    f.group.title,
                    score,
                    _n(values[score]).replace(".", ","),
                )
            )
        if score % label_every == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle" font-size="14">{}</text>',
                    _n(LEFT + slot * (score + 0.5)),
                    HEIGHT - BOTTOM + 18,
                    score,
                )
            )
    parts.append(
        format_html(
            '<text x="{}" y="{}" text-anchor="middle" font-size="14">первичный балл</text>',
            _n(LEFT + plot_w / 2),
            HEIGHT - 2,
        )
    )
    return format_html(
        '<svg class="results-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">{}</svg>',
        WIDTH,
        HEIGHT,
        title,
        mark_safe("".join(parts)),  # noqa: S308 - every part went through format_html
    )


def legend(figures):
    return format_html_join(
        "",
        '<li class="d-inline-block me-3"><svg width="14" height="14" aria-hidden="true">'
        '<rect width="14" height="14" fill="{}"/></svg> {}</li>',
        ((COLOURS[f.group.key], f.group.title) for f in figures),
    )
