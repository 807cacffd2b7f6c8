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


class DisplayForm(forms.Form):
    page_size = forms.IntegerField(label="Rows per page", min_value=5, max_value=500, initial=25)
    show_count = forms.BooleanField(label="Show the issue count", required=False, initial=True)


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
