"""Charts without a plotting library: bar charts as SVG (with labels) or PNG (zlib + struct).

Used by the Dagster `reports/charts` asset (PNG as a data: URI inside markdown) and by
`listory report … --chart out.png|out.svg|out.html`.
"""

from __future__ import annotations

import base64
import html
import struct
import zlib
from collections.abc import Sequence
from datetime import date

BAR = (29, 185, 84)  # Spotify green
AXIS = (120, 120, 120)
BACKGROUND = (255, 255, 255)


def _scaled(values: Sequence[float], height: int) -> list[int]:
    top = max(values, default=0) or 1
    return [round(v / top * height) for v in values]


def bar_chart_png(values: Sequence[float], *, width: int = 640, height: int = 200) -> bytes:
    """A PNG bar chart of `values` (one bar per value, left to right, zero at the bottom)."""
    margin = 4
    plot_h = height - 2 * margin
    plot_w = width - 2 * margin
    n = max(len(values), 1)
    heights = _scaled(values, plot_h - 1)
    columns = [BACKGROUND] * width
    bar_of_x = [None] * width
    for x in range(plot_w):
        bar_of_x[margin + x] = min(x * n // plot_w, n - 1)
    gap = plot_w / n >= 4  # leave a pixel between bars when they are wide enough
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        level = height - margin - y  # pixels above the baseline
        for x in range(width):
            colour = columns[x]
            i = bar_of_x[x]
            if y == height - margin:
                colour = AXIS
            elif i is not None and 0 < level <= heights[i] and values:
                edge = gap and (margin + (i + 1) * plot_w // n - 1) == x
                colour = BACKGROUND if edge else BAR
            rows.extend(colour)
    return _png(width, height, bytes(rows))


def _png(width: int, height: int, raw_rgb_rows: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw_rgb_rows, 9)) + chunk(b"IEND", b"")


def bar_chart_svg(labels: Sequence[str], values: Sequence[float], *, title: str = "", width: int = 720, height: int = 260) -> str:
    """An SVG bar chart with a title, the maximum on the axis and the first and last labels."""
    left, right, top, bottom = 48, 8, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(values), 1)
    heights = _scaled(values, plot_h)
    bar_w = plot_w / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="13" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#787878"/>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{html.escape(_number(max(values, default=0)))}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, (label, value, h) in enumerate(zip(labels, values, heights)):
        x = left + i * bar_w
        parts.append(
            f'<rect x="{x:.2f}" y="{top + plot_h - h}" width="{max(bar_w - (1 if bar_w >= 4 else 0), 0.5):.2f}" '
            f'height="{h}" fill="#1db954"><title>{html.escape(label)}: {html.escape(_number(value))}</title></rect>'
        )
    if labels:
        parts.append(f'<text x="{left}" y="{height - 12}">{html.escape(labels[0])}</text>')
        parts.append(f'<text x="{left + plot_w}" y="{height - 12}" text-anchor="end">{html.escape(labels[-1])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:,.1f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def html_page(title: str, svg: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A standalone HTML export: the chart inline and the data as a table."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>\n{svg}\n<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        "</body></html>\n"
    )


def label(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
