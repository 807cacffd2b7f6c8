"""Generated hostile input on every URL, form and API endpoint: never a 500, never slow.

The URLs come from the URL configuration and the forms from the pages themselves, so a
new screen is covered without anyone remembering to add it here. Every request runs in
a transaction that is rolled back, so each one meets the same site.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from automation import globalkeys, service
from automation.models import AutomationEvent
from macros import pages as page_service
from macros.models import MacroSchedule, PageVersion, SnapshotJob
from macros.snapshots import request_snapshot, take
from tests.abuse.hostile import GET_VALUES, HOSTILE, RAW_QUERIES, SHARP, SHARP_GET, Findings, forms_and_query_names, routes, send

PEOPLE = ("site_admin", "space_admin", "editor", "viewer", "outsider")


@pytest.fixture
def world(settings, people, space, page_and_macro) -> dict:
    """A site with something behind every URL: snapshots, a sticker, keys, a schedule, a job."""
    settings.JIRA_URL = ""  # the bundled Sample source
    page, macro = page_and_macro
    for _ in range(2):
        job, _ = request_snapshot(macro, SnapshotJob.Trigger.MANUAL)
        take(job.pk)
    version = PageVersion.objects.filter(page=page, kind=PageVersion.Kind.SNAPSHOT).first()
    sticker, _ = version.add_sticker("Sprint 1", people["editor"])
    issued = service.enable(macro, people["editor"], via=AutomationEvent.Via.SCREEN)
    page_service.publish(page, people["editor"])
    global_key = globalkeys.create(people["site_admin"], via=AutomationEvent.Via.SCREEN)
    MacroSchedule.objects.create(macro=macro, kind=MacroSchedule.Kind.DAILY, enabled=False)
    snapshot = macro.latest_snapshot()
    return {
        "values": {
            "page_id": page.pk,
            "macro_id": macro.public_id,
            "key": space.key,
            "number": version.number,
            "sticker_id": sticker.pk,
            "snapshot_id": snapshot.pk,
            "job_id": job.pk,
        },
        "people": people,
        "macro_key": issued.raw,
        "global_key": global_key.raw,
    }


def _client(person=None) -> Client:
    client = Client(raise_request_exception=False)
    if person is not None:
        client.force_login(person)
    return client


def _site_routes():
    return routes(lambda route: not route.startswith(("api/", "take-snapshot/")))


def _assert_clean(findings: Findings) -> None:
    bad = findings.bad()
    assert not bad, f"{len(bad)} of {len(findings.results)} requests failed or were slow:\n" + "\n".join(bad[:60])


HOSTILE_PATH_VALUES = {
    "int": ["0", "99999999999999999999999", "2147483648"],
    "str": ["%00", "99999999999999999999999", "-1", "%E2%80%AE", "x" * 300, "1e999"],
    "uuid": ["00000000-0000-0000-0000-000000000000"],
    "slug": ["x" * 300, "-"],
    "path": ["%00", "x/../../y", "99999999999999999999999"],
}


def test_every_screen_answers_every_kind_of_person(world):
    findings = Findings()
    clients = {"anonymous": _client(), **{name: _client(world["people"][name]) for name in PEOPLE}}
    for route in _site_routes():
        url = route.fill(world["values"])
        # The admin is Django's: staff, a signed-in non-staff person and a stranger suffice.
        who_asks = ("site_admin", "viewer", "anonymous") if route.route.startswith("admin/") else clients
        for who in who_asks:
            send(clients[who], findings, "get", url, who)
        if _is_admin_detail(route):
            continue
        for name, converter in route.params.items():
            for value in HOSTILE_PATH_VALUES[converter]:
                send(clients["site_admin"], findings, "get", route.fill({**world["values"], name: value}), f"{name}={value[:20]}")
    _assert_clean(findings)


def _is_admin_detail(route) -> bool:
    """The admin's add, change, delete and history screens: Django's own, read no parameters."""
    return (route.route.startswith("admin/") and bool(route.params)) or route.route.endswith("/add/")


def test_hostile_query_parameters_on_every_screen(world):
    findings = Findings()
    admin, viewer = _client(world["people"]["site_admin"]), _client(world["people"]["viewer"])
    for route in _site_routes():
        if _is_admin_detail(route):
            continue
        url = route.fill(world["values"])
        page = admin.get(url)
        names: set[str] = set()
        if page.status_code == 200 and "html" in page.get("Content-Type", ""):
            names = forms_and_query_names(page.content.decode(), url)[1]
        generic = {"p", "next", "page", "q", "o", "sticker", "a", "b", "show", "wait"}
        for value in GET_VALUES:
            send(admin, findings, "get", url, f"all={value[:30]}", data=dict.fromkeys(names | generic, value))
        for name in sorted(names - generic):
            for value in SHARP_GET:
                send(admin, findings, "get", url, f"{name}={value[:30]}", data={name: value})
        for raw in RAW_QUERIES:
            send(viewer if not route.route.startswith("admin/") else admin, findings, "get", url, raw, QUERY_STRING=raw)
    _assert_clean(findings)


def _post_forms(world) -> dict[tuple, tuple[str, object, list[tuple[str, str]]]]:
    """Every POST form the site admin can see, once: (action, fields) -> (url, form, buttons)."""
    admin = _client(world["people"]["site_admin"])
    found = {}
    for route in _site_routes():
        if route.route.startswith("admin/") and not route.route.endswith(("/add/", "/change/")):
            continue
        url = route.fill(world["values"])
        response = admin.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        forms, _ = forms_and_query_names(response.content.decode(), url)
        for form in forms:
            if form.method == "post" and "logout" not in form.action:  # signing out would hide the rest
                found.setdefault((form.action, tuple(sorted(form.fields))), (form.action, form, form.buttons or [("", "")]))
    return found


def test_hostile_values_in_every_form_field(world):
    findings = Findings()
    admin = _client(world["people"]["site_admin"])
    forms = _post_forms(world)
    assert len(forms) >= 15, f"too few forms found: {sorted(forms)}"
    for action, form, buttons in forms.values():
        admin.force_login(world["people"]["site_admin"])  # whatever the last form did to the session
        for button, value in dict.fromkeys(buttons):
            extra = {button: value} if button else {}
            send(admin, findings, "post", action, f"button {button}={value}", data=form.data(**extra))
        first = dict(buttons[:1]) if buttons[0][0] else {}
        fields = [name for name in form.fields if name != "csrfmiddlewaretoken" and "__prefix__" not in name]
        # Django's admin forms get the all-fields sweep only: each costs a heavy render.
        for name in fields if not action.startswith("/admin/") else ():
            for value in SHARP:
                send(admin, findings, "post", action, f"{name}={value[:30]}", data=form.data(**first, **{name: value}))
            send(admin, findings, "post", action, f"{name} twice", data={**form.data(**first), name: ["1", "2"]})
        for value in HOSTILE:
            send(admin, findings, "post", action, f"all={value[:30]}", data=form.data(**first, **dict.fromkeys(fields, value)))
    _assert_clean(findings)


def test_every_form_sent_by_every_kind_of_person(world):
    findings = Findings()
    clients = {"anonymous": _client(), **{name: _client(world["people"][name]) for name in PEOPLE}}
    for action, form, buttons in _post_forms(world).values():
        for button, value in dict.fromkeys(buttons):
            for who, client in clients.items():
                send(client, findings, "post", action, f"{who} {button}={value}", data=form.data(**({button: value} if button else {})))
    _assert_clean(findings)


def test_hostile_sign_in(db):
    findings = Findings()
    client = _client()
    for value in HOSTILE:
        send(client, findings, "post", "/accounts/login/", value[:30], data={"username": value, "password": value})
        send(client, findings, "post", "/accounts/login/?next=" + value[:2000], "next", data={"username": "x", "password": "y"})
    _assert_clean(findings)


# --- the automation API --------------------------------------------------------------

HOSTILE_BODIES = [
    b'{"pages": ["\\u0000"], "macros": ["\\u0000"]}',
    b'{"pages": [1], "macros": ["not-a-uuid"]}',
    b'{"pages": {"a": 1}, "macros": 7}',
    b'{"pages": [true, null, 1.5, "1", [1]]}',
    b'{"spaces": ["\\u0000", "' + b"x" * 10_000 + b'"]}',
    b"\xff\xfe\x00",
    b'"' + b"\\ud800" * 1000 + b'"',
    b"",
    b"null",
    json.dumps({"pages": list(range(600))}).encode(),
]
# Deep nesting and numbers JSON cannot hold: the bulk endpoint's body validation is
# another part of issue 13 (a branch of its own); these pass once it is merged.
UNPARSEABLE_BODIES = [
    b"[" * 100_000,
    b'{"pages": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"pages": [NaN]}',
    b'{"pages": [1e999]}',
    b'{"pages": [-Infinity]}',
    b'{"pages": [99999999999999999999999]}',
]


def _api_routes():
    api = routes(lambda route: route.startswith(("api/", "take-snapshot/")))
    assert len(api) >= 5
    return api


def test_hostile_calls_on_every_api_endpoint(world):
    findings = Findings()
    client = _client()
    keys = [None, world["global_key"], world["macro_key"], "💥" * 100, "x" * 10_000, "Bearer " + "a" * 500]
    for route in _api_routes():
        url = route.fill(world["values"])
        for key in keys:
            headers = {} if key is None else {"HTTP_JIRA_SNAPSHOTS_API_KEY": key}
            for method in ("get", "post", "put"):
                send(client, findings, method, url, f"key={str(key)[:10]}", **headers)
        for key in (world["global_key"], world["macro_key"]):
            headers = {"HTTP_JIRA_SNAPSHOTS_API_KEY": key}
            for body in HOSTILE_BODIES:
                send(client, findings, "post", url, f"body={body[:30]!r}", data=body, content_type="application/json", **headers)
            for wait in ("NaN", "1e999", "-1", "99999999999999999999999", "0.0001"):
                send(client, findings, "post", url + f"?wait={wait}", f"wait={wait}", **headers)
        for name, converter in route.params.items():
            for value in HOSTILE_PATH_VALUES[converter]:
                send(client, findings, "post", route.fill({**world["values"], name: value}), f"{name}={value[:20]}",
                     HTTP_JIRA_SNAPSHOTS_API_KEY=world["global_key"])
    for path in ("/api/automation/v1/%00", "/api/automation/v1/" + "x" * 5000, "/take-snapshot/%ED%A0%80"):
        send(client, findings, "post", path, "catch-all", HTTP_JIRA_SNAPSHOTS_API_KEY=world["global_key"])
    _assert_clean(findings)


def test_unparseable_bodies_on_every_api_endpoint(world):
    findings = Findings()
    client = _client()
    for route in _api_routes():
        for body in UNPARSEABLE_BODIES:
            send(client, findings, "post", route.fill(world["values"]), f"body={body[:30]!r}", data=body,
                 content_type="application/json", HTTP_JIRA_SNAPSHOTS_API_KEY=world["global_key"])
    _assert_clean(findings)
