from __future__ import annotations

import re

from django import forms

from macros.rendering import MAX_BODY_CHARS, body_problem

MAX_LEVELS = 5
_FIELD_ID = re.compile(r"^[A-Za-z0-9_.\[\]-]+$")


class PageForm(forms.Form):
    title = forms.CharField(max_length=255)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}), required=False, help_text=f"Markdown, up to {MAX_BODY_CHARS:,} characters."
    )

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        problem = body_problem(body)
        if problem:
            raise forms.ValidationError(problem)
        return body


class MacroQueryForm(forms.Form):
    """Title plus levels; level i's inputs are ``level-i-jql`` and ``level-i-fields``."""

    title = forms.CharField(max_length=200)

    def __init__(self, data=None, *, config: dict):
        super().__init__(data, initial={"title": config.get("title", "")})
        levels = config.get("levels") or [{"jql": "", "fields": ["key", "summary"]}]
        count = len(levels)
        if data is not None:
            count = sum(1 for i in range(MAX_LEVELS) if f"level-{i}-jql" in data) or 1
        for i in range(min(count, MAX_LEVELS)):
            initial = levels[i] if i < len(levels) else {"jql": "", "fields": ["key", "summary"]}
            self.fields[f"level-{i}-jql"] = forms.CharField(
                label="JQL" if i == 0 else f"Level {i + 1} JQL ($key is the issue of level {i})",
                initial=initial.get("jql", ""),
                required=i > 0,
                max_length=4000,
                widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "jql"}),
            )
            self.fields[f"level-{i}-fields"] = forms.CharField(
                label="Fields (in column order)" if i == 0 else f"Level {i + 1} fields",
                initial=", ".join(initial.get("fields", [])),
                max_length=2000,
                help_text="Field ids separated by commas, e.g. key, summary, status, customfield_10016.",
            )

    def level_count(self) -> int:
        return sum(1 for name in self.fields if name.endswith("-jql"))

    def level_fields(self):
        return [(self[f"level-{i}-jql"], self[f"level-{i}-fields"], i) for i in range(self.level_count())]

    def clean(self):
        cleaned = super().clean()
        for i in range(self.level_count()):
            raw = cleaned.get(f"level-{i}-fields", "")
            fields = [f.strip() for f in raw.split(",") if f.strip()]
            bad = [f for f in fields if not _FIELD_ID.match(f)]
            if bad:
                self.add_error(f"level-{i}-fields", f"Not a field id: {', '.join(bad)}.")
            elif not fields:
                self.add_error(f"level-{i}-fields", "Choose at least one field.")
            cleaned[f"level-{i}-fields"] = fields
            if i > 0 and "$key" not in cleaned.get(f"level-{i}-jql", ""):
                self.add_error(f"level-{i}-jql", "A lower level's JQL must use $key, e.g. parent = $key.")
        return cleaned

    def levels(self) -> list[dict]:
        return [
            {"jql": self.cleaned_data[f"level-{i}-jql"].strip(), "fields": self.cleaned_data[f"level-{i}-fields"]}
            for i in range(self.level_count())
        ]


SORT_LEVELS = 3
WIDTH_CHOICES = [("narrow", "Narrow"), ("auto", "Auto"), ("wide", "Wide")]


class DisplayForm(forms.Form):
    """The Display tab: paging, the saved order, grouping, totals, placeholders, columns.

    Column options are per field id of level 1 (``col-<i>-…``, in column order); deeper
    levels showing the same field use the same options.
    """

    page_size = forms.IntegerField(label="Rows per page", min_value=5, max_value=500, initial=25)
    show_count = forms.BooleanField(label="Show the issue count", required=False, initial=True)
    group_by = forms.ChoiceField(label="Group by", required=False)
    show_totals = forms.BooleanField(label="Show totals", required=False, help_text="A sum row for numeric fields (story points, estimates), per group when grouped.")
    empty_cell_text = forms.CharField(label="Empty cell text", required=False, max_length=40, initial="—", strip=False)
    empty_level_text = forms.CharField(
        label="Empty level text", required=False, max_length=100, help_text="Shown under a parent that has no issues in the level below, e.g. “No sub-tasks”."
    )

    def __init__(self, data=None, *, display: dict, columns: list[tuple[str, str]]):
        self.columns = columns
        initial = {
            "page_size": display.get("page_size", 25),
            "show_count": display.get("show_count", True),
            "group_by": display.get("group_by", ""),
            "show_totals": display.get("show_totals", False),
            "empty_cell_text": display.get("empty_cell_text", "—"),
            "empty_level_text": display.get("empty_level_text", ""),
        }
        choices = [("", "—")] + [(field_id, name) for field_id, name in columns]
        sorts = [s for s in display.get("sort_by") or [] if isinstance(s, dict)]
        for i in range(SORT_LEVELS):
            initial[f"sort-{i}-field"] = sorts[i].get("field", "") if i < len(sorts) else ""
            initial[f"sort-{i}-direction"] = "desc" if i < len(sorts) and sorts[i].get("desc") else "asc"
        options = display.get("columns") or {}
        for i, (field_id, _) in enumerate(columns):
            own = options.get(field_id) or {}
            initial[f"col-{i}-heading"] = own.get("heading", "")
            initial[f"col-{i}-width"] = own.get("width", "auto")
            initial[f"col-{i}-nowrap"] = bool(own.get("nowrap"))
        super().__init__(data, initial=initial)
        self.fields["group_by"].choices = [("", "No grouping"), *choices[1:]]
        for i in range(SORT_LEVELS):
            self.fields[f"sort-{i}-field"] = forms.ChoiceField(label="Sort by" if i == 0 else "Then by", choices=choices, required=False)
            self.fields[f"sort-{i}-direction"] = forms.ChoiceField(
                label="Direction", choices=[("asc", "Ascending"), ("desc", "Descending")], required=False
            )
        for i, (_, name) in enumerate(columns):
            self.fields[f"col-{i}-heading"] = forms.CharField(label="Heading text", required=False, max_length=80, widget=forms.TextInput(attrs={"placeholder": name}))
            self.fields[f"col-{i}-width"] = forms.ChoiceField(label="Width", choices=WIDTH_CHOICES, required=False)
            self.fields[f"col-{i}-nowrap"] = forms.BooleanField(label="Don't wrap", required=False)

    def sort_rows(self):
        return [(self[f"sort-{i}-field"], self[f"sort-{i}-direction"]) for i in range(SORT_LEVELS)]

    def column_rows(self):
        return [
            (field_id, name, self[f"col-{i}-heading"], self[f"col-{i}-width"], self[f"col-{i}-nowrap"])
            for i, (field_id, name) in enumerate(self.columns)
        ]

    def display(self) -> dict:
        """The display settings to save (keys other tabs add are kept by the caller)."""
        data = self.cleaned_data
        sort_by, seen = [], set()
        for i in range(SORT_LEVELS):
            field_id = data.get(f"sort-{i}-field")
            if field_id and field_id not in seen:
                seen.add(field_id)
                sort_by.append({"field": field_id, "desc": data.get(f"sort-{i}-direction") == "desc"})
        columns = {}
        for i, (field_id, _) in enumerate(self.columns):
            own = {
                "heading": data.get(f"col-{i}-heading", "").strip(),
                "width": data.get(f"col-{i}-width") or "auto",
                "nowrap": bool(data.get(f"col-{i}-nowrap")),
            }
            if own != {"heading": "", "width": "auto", "nowrap": False}:
                columns[field_id] = own
        return {
            "page_size": data["page_size"],
            "show_count": data["show_count"],
            "sort_by": sort_by,
            "group_by": data.get("group_by", ""),
            "show_totals": data["show_totals"],
            "empty_cell_text": data.get("empty_cell_text", ""),
            "empty_level_text": data.get("empty_level_text", "").strip(),
            "columns": columns,
        }


class SaveTemplateForm(forms.Form):
    name = forms.CharField(label="Template name", max_length=120)
    description = forms.CharField(label="Description", max_length=255, required=False)
    site_template = forms.BooleanField(label="Site template (offered to everyone)", required=False)


class UserSettingsForm(forms.Form):
    snapshot_on_save = forms.ChoiceField(
        label="Take a snapshot when I save a macro's configuration",
        widget=forms.RadioSelect,
        choices=[("ask", "Ask every time"), ("yes", "Yes"), ("no", "No")],
        help_text="Applies when you save a changed query.",
    )


class TableDefaultsForm(forms.Form):
    date_format = forms.ChoiceField(label="Date format")
    page_size = forms.IntegerField(label="Rows per page", min_value=5, max_value=500)
    empty_cell_text = forms.CharField(label="Empty cell text", required=False, max_length=40, strip=False)

    def __init__(self, *args, **kwargs):
        from macros.models import TableDefaults

        super().__init__(*args, **kwargs)
        self.fields["date_format"].choices = TableDefaults.DateFormat.choices


class ScheduleForm(forms.Form):
    enabled = forms.BooleanField(label="Refresh this macro on a schedule", required=False)
    kind = forms.ChoiceField(label="How often", choices=[("daily", "Every day"), ("weekly", "Every week"), ("cron", "Cron expression")], widget=forms.RadioSelect)
    time = forms.TimeField(label="At (site time)", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    weekday = forms.TypedChoiceField(
        label="On",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(1, "Monday"), (2, "Tuesday"), (3, "Wednesday"), (4, "Thursday"), (5, "Friday"), (6, "Saturday"), (0, "Sunday")],
    )
    cron = forms.CharField(
        label="Cron expression",
        required=False,
        max_length=100,
        help_text="Five fields: minute hour day-of-month month day-of-week, e.g. 0 7 * * 1-5 for 07:00 on weekdays.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "class": "mono"}),
    )

    def clean(self):
        from macros.schedules import never_fires, valid_cron

        cleaned = super().clean()
        if not cleaned.get("enabled"):
            return cleaned
        kind = cleaned.get("kind")
        if kind in ("daily", "weekly") and cleaned.get("time") is None:
            self.add_error("time", "Choose the time of day.")
        if kind == "weekly" and cleaned.get("weekday") is None:
            self.add_error("weekday", "Choose the day of the week.")
        if kind == "cron":
            expression = " ".join(cleaned.get("cron", "").split())
            if not valid_cron(expression):
                self.add_error("cron", "Not a valid cron expression: give five fields, e.g. 0 7 * * 1-5.")
            elif never_fires(expression):
                self.add_error("cron", "This cron expression never fires: no month has that day (e.g. 31 February).")
            cleaned["cron"] = expression
        return cleaned
