"""The Display tab's **Chart** option: a bar or pie chart of the snapshot above or instead of its table.

Stored in the macro's display as ``{"chart": {"type", "group_by", "measure", "placement"}}``,
so it is frozen into each page version with the rest of the display.
"""

from __future__ import annotations

from django import forms

from macros.chart_data import STATUS_CATEGORY, UNGROUPED

CHART_TYPES = [("", "No chart: the table only"), ("bar", "Bar chart"), ("pie", "Pie chart")]
PLACEMENTS = [("above", "Above the table"), ("instead", "Instead of the table")]


class ChartOptionsForm(forms.Form):
    type = forms.ChoiceField(label="Chart", choices=CHART_TYPES, required=False)
    group_by = forms.ChoiceField(label="Group issues by", required=False)
    measure = forms.ChoiceField(label="Measure", required=False)
    placement = forms.ChoiceField(label="Show the chart", choices=PLACEMENTS, initial="above", widget=forms.RadioSelect, required=False)

    def __init__(self, data=None, *, config: dict, names: dict[str, str], numeric: set[str]):
        chart = (config.get("display") or {}).get("chart") or {}
        super().__init__(data, prefix="chart", initial={"placement": "above", **chart})
        fields = [f for f in ((config.get("levels") or [{}])[0].get("fields") or []) if f not in UNGROUPED]
        self.fields["group_by"].choices = [(STATUS_CATEGORY, "Status category"), *((f, names.get(f, f)) for f in fields)]
        self.fields["measure"].choices = [("", "Number of issues"), *((f, f"Sum of {names.get(f, f)}") for f in fields if f in numeric)]
        self.fields["group_by"].help_text = "Any of the macro's fields; add a field on the Query tab to group by it."

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("type") and not cleaned.get("group_by"):
            self.add_error("group_by", "Choose a field to group the issues by.")
        return cleaned

    def display_options(self) -> dict:
        """What this form adds to the macro's display settings."""
        data = self.cleaned_data
        if not data.get("type"):
            return {}
        return {
            "chart": {
                "type": data["type"],
                "group_by": data["group_by"],
                "measure": data.get("measure") or "",
                "placement": data.get("placement") or "above",
            }
        }


def chart_form(macro, config: dict, data=None) -> ChartOptionsForm:
    """The form, with field names and numeric fields from the source and the latest snapshot."""
    from macros.chart_data import column_names
    from macros.sources import SourceError, get_source

    names = column_names(macro)
    snapshot = macro.latest_snapshot()
    latest = (snapshot.counts or {}) if snapshot is not None else {}
    numeric = set(latest.get("sums") or {})
    for field_id, unit in (latest.get("units") or {}).items():
        names[field_id] = f"{names.get(field_id, field_id)} ({unit})"
    try:
        for info in get_source().fields():
            names.setdefault(info.id, info.name)
            if info.schema_type == "number":
                numeric.add(info.id)
    except SourceError:
        pass  # the names of the latest snapshot's columns will do
    return ChartOptionsForm(data, config=config, names=names, numeric=numeric)

