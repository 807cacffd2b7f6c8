"""How Jira writes numbers, durations, dates and date-times, in one place for the site."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

# Jira's time-tracking defaults (Administration → Time tracking): 8 h a day, 5 days a week.
HOURS_PER_DAY = 8
DAYS_PER_WEEK = 5

DATE_FORMAT = "%Y-%m-%d"  # one format site-wide: unambiguous in every locale, sorts as text
DATETIME_FORMAT = "%Y-%m-%d %H:%M"


def number_text(value: Any) -> str:
    """``5`` for story points, ``1,234.5`` for a float, as Jira shows numbers."""
    number = to_number(value)
    if number is None:
        return ""
    if number == int(number) and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.3f}".rstrip("0").rstrip(".")


def to_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", "").strip())
        except ValueError:
            return None
    return None


def duration_text(seconds: Any) -> str:
    """Seconds in Jira's short form: ``1w 2d 3h 30m`` (8 h days, 5 d weeks)."""
    number = to_number(seconds)
    if number is None:
        return ""
    total = round(number)
    sign = "-" if total < 0 else ""
    minutes = abs(total) // 60
    hour, day = 60, 60 * HOURS_PER_DAY
    week = day * DAYS_PER_WEEK
    parts = []
    for size, unit in ((week, "w"), (day, "d"), (hour, "h"), (1, "m")):
        if minutes >= size:
            parts.append(f"{minutes // size}{unit}")
            minutes %= size
    return sign + (" ".join(parts) or "0m")


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhm])")


def duration_seconds(text: str) -> int | None:
    """``1d 2h`` back to seconds, for time-tracking values given only as text."""
    units = {"w": 3600 * HOURS_PER_DAY * DAYS_PER_WEEK, "d": 3600 * HOURS_PER_DAY, "h": 3600, "m": 60}
    parts = _DURATION_PART.findall(text or "")
    if not parts:
        return None
    return int(sum(float(amount) * units[unit] for amount, unit in parts))


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_datetime(value: Any) -> datetime | None:
    """Jira's ``2022-06-09T16:29:31.871-0700`` (also ``Z`` and ``+07:00`` forms)."""
    if not isinstance(value, str) or len(value) < 16 or value[4:5] != "-" or value[10:11] not in ("T", " "):
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def datetime_text(value: Any) -> str:
    moment = parse_datetime(value)
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(_zone(settings.TIME_ZONE))
    return moment.strftime(DATETIME_FORMAT)


def date_text(value: Any) -> str:
    day = parse_date(value)
    return day.strftime(DATE_FORMAT) if day else ""
