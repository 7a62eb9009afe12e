"""Markdown text shared by the reports (emit/report.py, quality/report.py, evaluation/report.py): bars drawn
with block characters and values made safe for a GitHub table cell. Below every report, so none imports another
for them."""

from __future__ import annotations

import json
from typing import Any

BAR = 20  # characters of the longest bar
_EIGHTHS = " ▏▎▍▌▋▊▉"
_CELL = 80  # longest example value shown in a table cell


def bar(share: float, scale: float) -> str:
    """A horizontal bar of `share` where `scale` fills BAR characters, in eighths of a character."""
    if scale <= 0 or share <= 0:
        return ""
    eighths = round(8 * BAR * min(share, scale) / scale)
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")


def cell(v: Any, limit: int = _CELL) -> str:
    """A value as the text of a GitHub table cell: one line, pipes and angle brackets escaped, shortened."""
    if isinstance(v, str):
        text = v
    else:
        text = json.dumps(v, ensure_ascii=False)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
