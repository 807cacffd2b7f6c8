"""Jira field values as Jira people read them: one renderer per field type, one registry.

A snapshot column carries the field's Jira ``schema`` (from ``GET /rest/api/*/field``):
``{"id": "customfield_10016", "name": "Story Points", "schema": {"type": "number",
"custom": "…float", …}}``. ``renderer_for(column)`` looks the renderer up by the schema's
custom type, then its system field, then its type (with ``items`` for arrays); a column
stored without a schema (older snapshots) falls back to the well-known system field ids,
and anything else to ``Readable``, which finds the most readable text in any value and
never shows a repr, JSON or a Java ``toString``.

Every renderer answers the same four questions: ``text`` (CSV, JSON export, filtering,
comparisons), ``html`` (a safe table cell), ``sort_key`` (natural order; empty last) and
``number`` (totals and charts; ``summable`` says whether adding them up means anything,
and ``total_text`` writes a sum the way the cells are written, e.g. ``2d 4h``).
"""

from __future__ import annotations

from macros.fieldtypes.registry import (
    cell_html,
    cell_text,
    cell_value,
    column_for,
    renderer_for,
)
from macros.fieldtypes.renderers import Renderer

__all__ = ["Renderer", "cell_html", "cell_text", "cell_value", "column_for", "renderer_for"]
