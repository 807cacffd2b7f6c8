"""A column's rendered results per distinct raw value, while a snapshot is written.

A 20,000-issue snapshot holds a few dozen distinct statuses, people, priorities and
sprints, each a fresh dict from Jira's JSON: rendering each once per snapshot rather than
once per issue is most of what keeps its index and chart counts cheap (issue 12's bar).
The cache key is the value itself, exactly (its JSON), never an ``id`` or ``self``
standing for it: a cascading select's parent option is one ``id`` whatever its child.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

import orjson

T = TypeVar("T")
LIMIT = 4096  # distinct values kept per column; past it (dates, summaries) a value is rendered each time
_MISSING = object()
UNKEYED = object()  # no key worked out yet (None is a key: "not cached")


def value_key(value: Any) -> Hashable | None:
    """What identifies ``value`` exactly, or None when it is not worth (or not safe) keying."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return type(value), value  # 1, 1.0 and True are equal keys in a dict, and read differently
    try:
        key = orjson.dumps(value)
    except TypeError:  # integers past 64 bits, nesting past orjson's limit
        return None
    if b"null" in key:
        # orjson writes NaN and infinities as null too; json tells them apart.
        try:
            return "json", json.dumps(value)
        except (TypeError, ValueError, RecursionError):
            return None
    return key


def value_keys(fields: dict, field_ids: Iterable[str]) -> dict[str, Hashable | None]:
    """Each field's ``value_key``, worked out once per issue for all that render its values."""
    get = fields.get
    return {field_id: value_key(get(field_id)) for field_id in field_ids}


def remembered(memo: dict, value: Any, work: Callable[[Any], T], key: Any = UNKEYED) -> T:
    """``work(value)``, from ``memo`` when this very value was worked out before.

    ``key``: the value's ``value_key`` when the caller has it already.
    """
    if key is UNKEYED:
        key = value_key(value)
    if key is None:
        return work(value)
    found = memo.get(key, _MISSING)
    if found is _MISSING:
        found = work(value)
        if len(memo) < LIMIT:
            memo[key] = found
    return found
