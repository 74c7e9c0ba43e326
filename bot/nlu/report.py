"""The HTML evaluation report: summary table, per-intent table and confusion-matrix plots (PNG, inline)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.evaluate import Scores


def confusion_png(scores: Scores) -> bytes:
    """A confusion-matrix heat map of one subset as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(scores.labels)
    size = max(4.0, 0.35 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(scores.confusion, cmap="Blues")
    ax.set_xticks(range(n), scores.labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), scores.labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"{scores.name} (n={scores.count}, accuracy={scores.accuracy})", fontsize=9)
    for i, row in enumerate(scores.confusion):
        for j, v in enumerate(row):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=6, color="black")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def write_html(path: Path, title: str, all_scores: list[Scores]) -> None:
    """Write a self-contained HTML report for the given subsets."""
    e = html.escape
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>{e(title)}</title>",
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
        "td{text-align:right}td:first-child{text-align:left}</style>",
        f"<h1>{e(title)}</h1><h2>Summary</h2><table><tr>",
    ]
    cols = list(all_scores[0].summary()) if all_scores else []
    parts.append("".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
    for s in all_scores:
        parts.append("<tr>" + "".join(f"<td>{e(_fmt(v))}</td>" for v in s.summary().values()) + "</tr>")
    parts.append("</table>")
    for s in all_scores:
        parts.append(f"<h2>{e(s.name)}</h2><table><tr><th>intent</th><th>precision</th><th>recall</th>")
        parts.append("<th>f1</th><th>support</th></tr>")
        for label, m in s.per_intent.items():
            cells = "".join(f"<td>{_fmt(m[k])}</td>" for k in ("precision", "recall", "f1", "support"))
            parts.append(f"<tr><td>{e(label)}</td>{cells}</tr>")
        png = base64.b64encode(confusion_png(s)).decode()
        parts.append(f"</table><img alt='confusion matrix {e(s.name)}' src='data:image/png;base64,{png}'>")
    path.write_text("\n".join(parts), encoding="utf-8")


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)
