"""Generate the Sample source's issues: ``python -m macros.sources.sample_data.generate``.

A seeded ``random.Random`` makes every run write the same ``issues.json.gz`` byte for byte
(gzip with no file name and mtime 0). Dates are laid out over the year before ``ANCHOR``;
the Sample source shifts them at load time so the newest update is a few hours old.

The file holds ``{"anchor": …, "groups": {name: [accountId, …]}, "issues": [...]}``, each
issue in the exact shape Jira Cloud's ``POST /rest/api/3/search/jql`` returns.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20260601
ANCHOR = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
SITE = "https://sample.atlassian.net"
OUTPUT = Path(__file__).with_name("issues.json.gz")

STATUSES = {
    "To Do": {"id": "10000", "category": (2, "new", "To Do", "blue-gray")},
    "In Progress": {"id": "3", "category": (4, "indeterminate", "In Progress", "yellow")},
    "In Review": {"id": "10001", "category": (4, "indeterminate", "In Progress", "yellow")},
    "Done": {"id": "10002", "category": (3, "done", "Done", "green")},
}
PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]
RESOLUTIONS = [("10000", "Done"), ("10001", "Won't Do"), ("10002", "Duplicate"), ("10003", "Cannot Reproduce")]
ISSUE_TYPES = {
    "Epic": {"id": "10000", "subtask": False, "hierarchyLevel": 1},
    "Story": {"id": "10001", "subtask": False, "hierarchyLevel": 0},
    "Task": {"id": "10002", "subtask": False, "hierarchyLevel": 0},
    "Bug": {"id": "10003", "subtask": False, "hierarchyLevel": 0},
    "Sub-task": {"id": "10004", "subtask": True, "hierarchyLevel": -1},
}

# name, time zone, active, teams
PEOPLE = [
    ("Amara Okafor", "Europe/London", True, ("web",)),
    ("Lukas Becker", "Europe/Berlin", True, ("web",)),
    ("Priya Natarajan", "Asia/Kolkata", True, ("web", "mobile")),
    ("Tomas Ruiz", "Europe/Madrid", True, ("mobile",)),
    ("Mei Lin", "Asia/Singapore", True, ("mobile",)),
    ("Jonas Berg", "Europe/Stockholm", True, ("ops",)),
    ("Fatima Haddad", "Europe/Paris", True, ("ops", "web")),
    ("Daniel Kim", "America/Los_Angeles", True, ("mobile",)),
    ("Sofia Rossi", "Europe/Rome", True, ("web",)),
    ("Noah Williams", "America/New_York", True, ("ops",)),
    ("Aisha Bello", "Africa/Lagos", True, ("ops", "mobile")),
    ("Erik Johansson", "Europe/Stockholm", False, ("web",)),  # left the company: inactive
]

PROJECTS = {
    "WEB": {
        "id": "10000",
        "name": "Web Storefront",
        "team": "web",
        "board": 1,
        "components": ["Checkout", "Catalog", "Search", "Accounts", "Payments"],
        "labels": ["checkout", "seo", "performance", "accessibility", "tech-debt", "customer-reported", "mobile-web"],
        "versions": [("Storefront 2025.07", 335), ("Storefront 2025.09", 270), ("Storefront 2025.11", 200),
                     ("Storefront 2026.01", 140), ("Storefront 2026.03", 80), ("Storefront 2026.05", 20),
                     ("Storefront 2026.07", -40)],  # (name, days before the anchor it ships)
        "epics": ["Guest checkout", "Search relevance overhaul", "Accessibility audit fixes",
                  "Saved carts and wishlists", "Payment provider migration"],
        "stories": ["Let shoppers {verb} from the {thing}", "Show {detail} on the {thing}",
                    "Allow customers to {verb} without signing in", "Remember the last {detail} on the {thing}"],
        "conditions": ["the cart is empty", "two tabs are open", "the session expires", "VoiceOver is on",
                       "the currency is EUR", "a coupon is applied", "the promo ends at midnight"],
        "things": ["cart page", "product listing", "search results", "checkout form", "order history",
                   "promo code field", "address autocomplete", "product detail page", "sign-in dialog",
                   "category filters", "mini cart", "payment step"],
    },
    "MOB": {
        "id": "10001",
        "name": "Mobile App",
        "team": "mobile",
        "board": 2,
        "components": ["iOS", "Android", "Push Notifications", "Onboarding", "Offline Sync"],
        "labels": ["ios", "android", "crash", "offline", "ux", "tech-debt", "release-blocker"],
        "versions": [("5.0.0", 320), ("5.1.0", 250), ("5.2.0", 180), ("5.3.0", 110), ("5.4.0", 45),
                     ("6.0.0", -30)],
        "epics": ["Offline mode", "Dark mode", "New onboarding flow", "Biometric sign-in",
                  "Push notification preferences"],
        "stories": ["Let users {verb} from the {thing}", "Show {detail} on the {thing}",
                    "Remember the last {detail} on the {thing}", "Add {detail} to the {thing}"],
        "conditions": ["the network drops", "the device is offline", "the user switches language",
                       "the app resumes from background", "the phone is in landscape", "VoiceOver is on"],
        "things": ["home feed", "settings screen", "login screen", "order tracking view", "push opt-in prompt",
                   "profile editor", "barcode scanner", "image cache", "deep link handler", "tab bar",
                   "onboarding carousel", "sync queue"],
    },
    "OPS": {
        "id": "10002",
        "name": "Platform Ops",
        "team": "ops",
        "board": None,  # a Kanban team: no sprints
        "components": ["CI/CD", "Monitoring", "Database", "Networking", "Kubernetes"],
        "labels": ["incident", "security", "cost", "kubernetes", "terraform", "on-call", "postmortem"],
        "versions": [("Q3 2025", 245), ("Q4 2025", 150), ("Q1 2026", 60), ("Q2 2026", -29)],
        "epics": ["Kubernetes 1.30 upgrade", "Observability overhaul", "Postgres 16 migration",
                  "Cost reduction FY26", "Zero-downtime deploys"],
        "stories": ["Automate failover for the {thing}", "Alert on-call when the {thing} nears capacity",
                    "Self-service access to the {thing}", "Show {thing} health on the status page"],
        "conditions": ["a node is drained", "the disk is nearly full", "traffic spikes", "a deploy is rolled back",
                       "the certificate renews", "the primary fails over"],
        "things": ["staging cluster", "deploy pipeline", "Grafana dashboards", "alert routing", "nightly backups",
                   "TLS certificates", "ingress controller", "log retention", "read replica", "build cache",
                   "secrets rotation", "DNS records"],
    },
}

TASK_TEMPLATES = [
    "Upgrade {library} on the {thing}",
    "Document how the {thing} handles {detail}",
    "Add monitoring for the {thing}",
    "Clean up feature flags around the {thing}",
    "Write runbook for the {thing}",
    "Remove dead code from the {thing}",
]
BUG_TEMPLATES = [
    "{thing_cap} crashes when {condition}",
    "{thing_cap} shows the wrong {detail} when {condition}",
    "{thing_cap} is slow when {condition}",
    "Error 500 from the {thing} when {condition}",
    "{thing_cap} ignores {detail} when {condition}",
]
SUBTASK_TEMPLATES = [
    "Write unit tests",
    "Update API documentation",
    "QA on staging",
    "Address code review comments",
    "Add analytics events",
    "Design review",
    "Update translations",
]
VERBS = ["reorder items", "save a draft", "share a link", "apply a coupon", "compare prices", "filter by size",
         "download an invoice", "change the delivery date"]
DETAILS = ["delivery estimate", "currency", "stock level", "tax total", "time zone", "language", "discount",
           "shipping address", "loyalty points"]
LIBRARIES = ["React to 19", "Django to 5.2", "the Kotlin plugin", "Swift to 6", "Terraform providers",
             "the Node runtime to 22", "OpenTelemetry SDK"]
DESCRIPTIONS = [
    "Customers reported this through support several times last week.",
    "This came out of the quarterly planning session; see the linked epic for context.",
    "We agreed to keep the change behind a feature flag until the next release.",
    "The current behaviour confuses new users and shows up in the funnel metrics.",
    "Small change, but it blocks the release checklist.",
]


def _timestamp(moment: datetime) -> str:
    """Jira Cloud's issue date format: ``2026-06-09T16:29:31.871+0000``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _sprint_timestamp(moment: datetime) -> str:
    """The Agile API's sprint date format: ``2026-06-09T09:00:00.000Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _account_id(name: str) -> str:
    return "712020:" + str(hashlib.sha1(name.encode()).hexdigest()[:32])


def _person(name: str, zone: str, active: bool) -> dict:
    account = _account_id(name)
    avatar = f"https://avatar-management.services.atlassian.net/default/{account}"
    first, last = name.lower().split(" ", 1)
    return {
        "self": f"{SITE}/rest/api/3/user?accountId={account}",
        "accountId": account,
        "emailAddress": f"{first}.{last.replace(' ', '')}@example.com",
        "avatarUrls": {size: f"{avatar}/{size}" for size in ("48x48", "24x24", "16x16", "32x32")},
        "displayName": name,
        "active": active,
        "timeZone": zone,
        "accountType": "atlassian",
    }


def _status(name: str) -> dict:
    info = STATUSES[name]
    cat_id, key, cat_name, colour = info["category"]
    return {
        "self": f"{SITE}/rest/api/3/status/{info['id']}",
        "description": "",
        "name": name,
        "id": info["id"],
        "statusCategory": {
            "self": f"{SITE}/rest/api/3/statuscategory/{cat_id}",
            "id": cat_id,
            "key": key,
            "colorName": colour,
            "name": cat_name,
        },
    }


def _issuetype(name: str) -> dict:
    info = ISSUE_TYPES[name]
    return {
        "self": f"{SITE}/rest/api/3/issuetype/{info['id']}",
        "id": info["id"],
        "name": name,
        "subtask": info["subtask"],
        "hierarchyLevel": info["hierarchyLevel"],
    }


def _priority(index: int) -> dict:
    pid, name = PRIORITIES[index]
    return {"self": f"{SITE}/rest/api/3/priority/{pid}", "id": pid, "name": name}


def _adf(paragraphs: list[str], bullets: list[str] | None = None, heading: str | None = None) -> dict:
    content: list[dict] = []
    if heading:
        content.append({"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": heading}]})
    for text in paragraphs:
        content.append({"type": "paragraph", "content": [{"type": "text", "text": text}]})
    if bullets:
        content.append({
            "type": "bulletList",
            "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": b}]}]}
                for b in bullets
            ],
        })
    return {"type": "doc", "version": 1, "content": content}


class _Generator:
    def __init__(self, seed: int):
        self.seed = seed
        self.rng = random.Random(seed)
        self.people = {name: _person(name, zone, active) for name, zone, active, _ in PEOPLE}
        self.next_component = 10000
        self.next_version = 10000
        self.next_sprint = 1
        self.start = ANCHOR - timedelta(days=365)

    def moment_between(self, low: datetime, high: datetime) -> datetime:
        span = max((high - low).total_seconds(), 1.0)
        moment = low + timedelta(seconds=self.rng.uniform(0, span))
        # Work happens in working hours, mostly: pull the time into 07:00–19:00 UTC.
        moment = moment.replace(hour=7 + (moment.hour % 12))
        return min(max(moment, low), high)

    def team(self, team: str) -> list[str]:
        return [name for name, _, active, teams in PEOPLE if team in teams]

    # -- per-project reference data -------------------------------------------------------
    def project_setup(self, key: str, spec: dict) -> dict:
        components = []
        for name in spec["components"]:
            components.append({"self": f"{SITE}/rest/api/3/component/{self.next_component}",
                               "id": str(self.next_component), "name": name})
            self.next_component += 1
        versions = []
        for name, days_before in spec["versions"]:
            release = (ANCHOR - timedelta(days=days_before)).date()
            versions.append({
                "self": f"{SITE}/rest/api/3/version/{self.next_version}",
                "id": str(self.next_version),
                "description": "",
                "name": name,
                "archived": False,
                "released": days_before > 0,
                "releaseDate": release.isoformat(),
            })
            self.next_version += 1
        sprints = []
        if spec["board"]:
            # Two-week sprints ending on the anchor's fortnight, one future sprint after.
            first = ANCHOR - timedelta(days=364 - 3)
            number = 1
            begin = first.replace(hour=9, minute=0, second=0, microsecond=0)
            while begin < ANCHOR + timedelta(days=14):
                end = begin + timedelta(days=14)
                state = "closed" if end <= ANCHOR else ("active" if begin <= ANCHOR else "future")
                sprint = {
                    "id": self.next_sprint,
                    "name": f"{key} Sprint {number}",
                    "state": state,
                    "boardId": spec["board"],
                    "goal": "",
                    "startDate": _sprint_timestamp(begin),
                    "endDate": _sprint_timestamp(end),
                }
                if state == "closed":
                    sprint["completeDate"] = _sprint_timestamp(end + timedelta(hours=2))
                if state == "future":
                    del sprint["startDate"], sprint["endDate"]  # Jira has none until it starts
                sprints.append((begin, end, sprint))
                self.next_sprint += 1
                number += 1
                begin = end
        project = {"self": f"{SITE}/rest/api/3/project/{spec['id']}", "id": spec["id"], "key": key,
                   "name": spec["name"], "projectTypeKey": "software", "simplified": False}
        return {"project": project, "components": components, "versions": versions, "sprints": sprints}

    # -- issues ---------------------------------------------------------------------------
    def summary(self, kind: str, spec: dict) -> str:
        rng = self.rng
        thing = rng.choice(spec["things"])
        values = {"thing": thing, "thing_cap": thing[:1].upper() + thing[1:], "verb": rng.choice(VERBS),
                  "detail": rng.choice(DETAILS), "library": rng.choice(LIBRARIES),
                  "condition": rng.choice(spec["conditions"])}
        templates = {"Story": spec["stories"], "Task": TASK_TEMPLATES, "Bug": BUG_TEMPLATES}[kind]
        return rng.choice(templates).format(**values)

    def description(self, kind: str, summary: str) -> dict | None:
        rng = self.rng
        if rng.random() < 0.2:
            return None  # plenty of real issues have none
        if kind == "Bug":
            return _adf(
                [
                    f"Seen in production: {summary[:1].lower() + summary[1:]}.",
                    "Expected: the flow completes as it does on the previous release.",
                    f"Actual: {rng.choice(['a blank screen', 'a spinner that never ends', 'an error toast'])}.",
                ],
                bullets=["Open the app on a clean session", "Follow the path from the summary",
                         "Watch the console for errors"],
                heading="Steps to reproduce",
            )
        paragraphs = [rng.choice(DESCRIPTIONS)]
        if rng.random() < 0.5:
            paragraphs.append(rng.choice(DESCRIPTIONS))
        bullets = None
        if kind == "Story" and rng.random() < 0.6:
            bullets = ["Works on desktop and mobile", "Covered by an end-to-end test", "Copy reviewed by UX"]
        return _adf(paragraphs, bullets=bullets)

    def lifecycle(self, created: datetime, kind: str) -> tuple[str, datetime | None, datetime]:
        """Status, resolution date and last update for an issue created at ``created``."""
        rng = self.rng
        age_days = (ANCHOR - created).total_seconds() / 86400
        done_chance = min(0.9, 0.05 + age_days / 160)
        if rng.random() < done_chance:
            took = timedelta(days=rng.expovariate(1 / (20 if kind == "Epic" else 8)), hours=rng.uniform(1, 9))
            resolved = min(created + took, ANCHOR - timedelta(hours=rng.uniform(2, 48)))
            resolved = max(resolved, created + timedelta(minutes=30))
            updated = min(resolved + timedelta(hours=rng.uniform(0, 30)), ANCHOR - timedelta(minutes=50))
            return "Done", resolved, max(updated, resolved)
        status = rng.choices(["To Do", "In Progress", "In Review"], weights=[5, 3, 1])[0]
        # Open issues are touched recently: most within the last fortnight.
        recent = ANCHOR - timedelta(hours=rng.expovariate(1 / 150) + 1)
        updated = max(created + timedelta(minutes=5), recent)
        return status, None, min(updated, ANCHOR - timedelta(minutes=50))

    def make(self, project_key: str, kind: str, created: datetime, summary: str, setup: dict, spec: dict,
             parent: dict | None = None, forced_status: tuple | None = None) -> dict:
        rng = self.rng
        team = self.team(spec["team"])
        status, resolved, updated = forced_status or self.lifecycle(created, kind)
        active_team = [name for name in team if self.people[name]["active"]]
        reporter = rng.choice(team if created < ANCHOR - timedelta(days=200) else active_team)
        assignee = None if status == "To Do" and rng.random() < 0.45 else rng.choice(active_team)
        if status == "Done" and assignee is None:
            assignee = rng.choice(team)
        priority = rng.choices(range(5), weights=[1, 4, 10, 4, 1])[0]
        if kind == "Bug":
            priority = rng.choices(range(5), weights=[2, 5, 6, 2, 1])[0]
        resolution = None
        if status == "Done":
            res_index = 0 if rng.random() < 0.85 or kind == "Epic" else rng.choice([1, 2, 3] if kind == "Bug" else [1, 2])
            rid, rname = RESOLUTIONS[res_index]
            resolution = {"self": f"{SITE}/rest/api/3/resolution/{rid}", "id": rid, "description": "", "name": rname}
        labels = sorted(rng.sample(spec["labels"], k=rng.choices([0, 1, 2, 3], weights=[4, 5, 3, 1])[0]))
        components = [] if kind == "Epic" else sorted(
            rng.sample(setup["components"], k=rng.choices([0, 1, 2], weights=[2, 6, 1])[0]), key=lambda c: c["id"])
        fix_versions = []
        if kind != "Sub-task":
            if resolved is not None and resolution and resolution["name"] == "Done":
                shipped = [v for v in setup["versions"] if v["releaseDate"] >= resolved.date().isoformat()]
                if shipped and rng.random() < 0.85:
                    fix_versions = [shipped[0]]
            elif resolved is None and rng.random() < 0.35:
                upcoming = [v for v in setup["versions"] if not v["released"]]
                fix_versions = upcoming[:1]
        sprints = []
        if setup["sprints"] and kind not in ("Epic",):
            when = resolved or (ANCHOR if status != "To Do" or rng.random() < 0.3 else None)
            if when is not None:
                for index, (begin, end, sprint) in enumerate(setup["sprints"]):
                    if begin <= when < end:
                        if index and rng.random() < 0.15 and setup["sprints"][index - 1][0] >= created - timedelta(days=14):
                            sprints.append(setup["sprints"][index - 1][2])  # carried over
                        sprints.append(sprint)
                        break
            elif rng.random() < 0.1:
                sprints = [s for _, _, s in setup["sprints"] if s["state"] == "future"]
        points = None
        if kind == "Story":
            points = rng.choice([1, 2, 3, 3, 5, 5, 8, 13, None])
        elif kind in ("Task", "Bug") and rng.random() < 0.4:
            points = rng.choice([1, 2, 3, 5])
        due = None
        if kind != "Sub-task" and rng.random() < 0.25:
            due = (created + timedelta(days=rng.randint(7, 75))).date().isoformat()
        fields = {
            "summary": summary,
            "issuetype": _issuetype(kind),
            "project": setup["project"],
            "status": _status(status),
            "priority": _priority(priority),
            "resolution": resolution,
            "resolutiondate": _timestamp(resolved) if resolved else None,
            "created": _timestamp(created),
            "updated": _timestamp(updated),
            "duedate": due,
            "assignee": self.people[assignee] if assignee else None,
            "reporter": self.people[reporter],
            "labels": labels,
            "components": components,
            "fixVersions": fix_versions,
            "customfield_10020": sprints or None,
            "customfield_10016": points,
            "description": self.description(kind, summary) if kind != "Sub-task" or rng.random() < 0.3 else None,
            "environment": None,
            "votes": {"self": "", "votes": rng.choices([0, 1, 2, 3, 5], weights=[12, 4, 2, 1, 1])[0], "hasVoted": False},
            "watches": {"self": "", "watchCount": rng.randint(1, 6), "isWatching": False},
        }
        return {"_created": created, "_project": project_key, "_parent": parent, "fields": fields}

    def build(self) -> dict:
        rng = self.rng
        drafts: list[dict] = []
        for key, spec in PROJECTS.items():
            setup = self.project_setup(key, spec)
            epics = []
            for title in spec["epics"]:
                created = self.moment_between(self.start, ANCHOR - timedelta(days=45))
                epic = self.make(key, "Epic", created, title, setup, spec)
                epics.append(epic)
                drafts.append(epic)
            count = rng.randint(165, 185)
            for _ in range(count):
                kind = rng.choices(["Story", "Task", "Bug"], weights=[5, 3, 3])[0]
                created = self.moment_between(self.start, ANCHOR - timedelta(hours=2))
                candidates = [e for e in epics if e["_created"] < created]
                link_chance = {"Story": 0.7, "Task": 0.35, "Bug": 0.2}[kind]
                parent = rng.choice(candidates) if candidates and rng.random() < link_chance else None
                issue = self.make(key, kind, created, self.summary(kind, spec), setup, spec, parent=parent)
                drafts.append(issue)
                if rng.random() < 0.3:
                    for title in rng.sample(SUBTASK_TEMPLATES, k=rng.randint(1, 3)):
                        sub_created = min(created + timedelta(hours=rng.uniform(0.5, 72)), ANCHOR - timedelta(hours=1))
                        forced = None
                        if issue["fields"]["status"]["name"] == "Done":
                            done_at = datetime.fromisoformat(issue["fields"]["resolutiondate"])
                            sub_created = min(sub_created, done_at - timedelta(minutes=10))
                            forced = ("Done", done_at - timedelta(minutes=rng.randint(1, 9)),
                                      datetime.fromisoformat(issue["fields"]["updated"]))
                        sub = self.make(key, "Sub-task", sub_created, title, setup, spec, parent=issue,
                                        forced_status=forced)
                        sub["fields"]["customfield_10020"] = issue["fields"]["customfield_10020"]
                        sub["fields"]["fixVersions"] = []
                        drafts.append(sub)
            # An epic is done only when its children are; otherwise it is in progress.
            for epic in epics:
                children = [d for d in drafts if d["_parent"] is epic]
                if any(c["fields"]["status"]["name"] != "Done" for c in children):
                    epic["fields"].update(status=_status("In Progress"), resolution=None, resolutiondate=None)

        # Ids and keys grow with creation time, as on a real site.
        drafts.sort(key=lambda d: (d["_created"], d["_project"], d["fields"]["summary"]))
        numbers: dict[str, int] = {}
        for index, draft in enumerate(drafts):
            numbers[draft["_project"]] = numbers.get(draft["_project"], 0) + 1
            draft["id"] = str(10001 + index)
            draft["key"] = f"{draft['_project']}-{numbers[draft['_project']]}"
        issues = []
        for draft in drafts:
            fields = draft["fields"]
            if draft["_parent"] is not None:
                parent = draft["_parent"]
                pf = parent["fields"]
                fields["parent"] = {
                    "id": parent["id"],
                    "key": parent["key"],
                    "self": f"{SITE}/rest/api/3/issue/{parent['id']}",
                    "fields": {"summary": pf["summary"], "status": pf["status"], "priority": pf["priority"],
                               "issuetype": pf["issuetype"]},
                }
            issues.append({
                "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
                "id": draft["id"],
                "self": f"{SITE}/rest/api/3/issue/{draft['id']}",
                "key": draft["key"],
                "fields": fields,
            })
        _add_work_fields(issues, self.people, self.seed)
        groups = {"jira-software-users": [self.people[name]["accountId"] for name, *_ in PEOPLE]}
        for team in ("web", "mobile", "ops"):
            groups[f"{team}-team"] = [self.people[name]["accountId"] for name in self.team(team)]
        return {"anchor": _timestamp(ANCHOR), "groups": groups, "issues": issues}


COMMENTS = [
    "Reproduced on staging; looking into it.",
    "Pushed a fix to the branch, ready for review.",
    "Can we split this? The second half depends on the API change.",
    "Checked with support: two more customers hit this yesterday.",
    "Looks good to me, merging after the release freeze.",
    "Moved to the next sprint, the dependency is not ready.",
    "Verified on production.",
]
ATTACHMENTS = ["screenshot.png", "console-log.txt", "har-export.har", "mockup.pdf", "steps.mp4"]
LINKS = [("10000", "Blocks", "is blocked by", "blocks"), ("10003", "Relates", "relates to", "relates to"),
         ("10001", "Cloners", "is cloned by", "clones")]
HOUR = 3600
DAY = 8 * HOUR  # Jira's default working day


def _duration(seconds: int) -> str:
    """Jira's short form with 8 h days and 5 d weeks (the same as macros.fieldtypes.formats)."""
    minutes, parts = seconds // 60, []
    for size, unit in ((5 * DAY // 60, "w"), (DAY // 60, "d"), (60, "h"), (1, "m")):
        if minutes >= size:
            parts.append(f"{minutes // size}{unit}")
            minutes %= size
    return " ".join(parts) or "0m"


def _stub(issue: dict) -> dict:
    f = issue["fields"]
    return {"id": issue["id"], "key": issue["key"], "self": issue["self"],
            "fields": {"summary": f["summary"], "status": f["status"], "priority": f["priority"], "issuetype": f["issuetype"]}}


def _add_work_fields(issues: list[dict], people: dict[str, dict], seed: int) -> None:
    """Time tracking, progress, comments, attachments, sub-tasks and links, the shapes Jira
    Cloud sends for them. Each issue draws from its own generator (seeded by its key), so
    the fields made before this pass stay exactly as they were."""
    by_key = {issue["key"]: issue for issue in issues}
    names = sorted(people)
    children: dict[str, list[dict]] = {}
    for issue in issues:
        parent = (issue["fields"].get("parent") or {}).get("key")
        if parent and issue["fields"]["issuetype"]["name"] == "Sub-task":
            children.setdefault(parent, []).append(issue)
    earlier: dict[str, list[str]] = {}
    for issue in issues:
        f = issue["fields"]
        rng = random.Random(f"{seed}:{issue['key']}")
        kind, status = f["issuetype"]["name"], f["status"]["name"]
        created, updated = datetime.fromisoformat(f["created"]), datetime.fromisoformat(f["updated"])
        estimate = spent = remaining = None
        if kind != "Epic":
            points = f.get("customfield_10016")
            hours = points * 4 if points else rng.choice({"Sub-task": [1, 2, 3, 4, 6]}.get(kind, [2, 4, 6, 8, 12, 16, 24]))
            estimate = hours * HOUR
            if status == "Done":
                spent, remaining = round(estimate * rng.uniform(0.6, 1.4) / 1800) * 1800, 0
            elif status == "To Do":
                spent, remaining = 0, estimate
            else:
                spent = round(estimate * rng.uniform(0.2, 0.9) / 1800) * 1800
                remaining = max(estimate - spent, 1800)
        tracking = {}
        if estimate is not None:
            tracking = {"originalEstimate": _duration(estimate), "remainingEstimate": _duration(remaining),
                        "originalEstimateSeconds": estimate, "remainingEstimateSeconds": remaining}
            if spent:
                tracking |= {"timeSpent": _duration(spent), "timeSpentSeconds": spent}
        comments = []
        for n in range(rng.choice([0, 0, 1, 1, 2, 3, 5])):
            moment = created + (updated - created) * (n + 1) / 6
            author = people[rng.choice(names)]
            body = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": rng.choice(COMMENTS)}]}]}
            comments.append({"self": f"{issue['self']}/comment/{20000 + n}", "id": str(20000 + n), "author": author,
                             "body": body, "updateAuthor": author, "created": _timestamp(moment), "updated": _timestamp(moment), "jsdPublic": True})
        attachments = []
        if rng.random() < 0.15:
            author = f["reporter"]
            for n, name in enumerate(rng.sample(ATTACHMENTS, k=rng.randint(1, 2))):
                attachments.append({"self": f"{SITE}/rest/api/3/attachment/{issue['id']}{n}", "id": f"{issue['id']}{n}", "filename": name,
                                    "author": author, "created": f["created"], "size": rng.randint(2_000, 900_000),
                                    "mimeType": "application/octet-stream", "content": f"{SITE}/rest/api/3/attachment/content/{issue['id']}{n}"})
        f.update(
            timeoriginalestimate=estimate, timeestimate=remaining, timespent=spent or None, timetracking=tracking,
            progress=_progress(spent or 0, remaining or 0),
            comment={"comments": comments, "self": f"{issue['self']}/comment", "maxResults": len(comments), "total": len(comments), "startAt": 0},
            attachment=attachments,
            subtasks=[_stub(child) for child in children.get(issue["key"], [])],
            issuelinks=f.get("issuelinks", []),
        )
        project = issue["key"].split("-")[0]
        candidates = earlier.setdefault(project, [])
        if kind != "Sub-task" and candidates and rng.random() < 0.15:
            other = by_key[rng.choice(candidates[-40:])]
            link_id, name, inward, outward = rng.choice(LINKS)
            kind_ = {"id": link_id, "name": name, "inward": inward, "outward": outward, "self": f"{SITE}/rest/api/3/issueLinkType/{link_id}"}
            f["issuelinks"].append({"id": f"3{issue['id']}", "self": "", "type": kind_, "outwardIssue": _stub(other)})
            other["fields"].setdefault("issuelinks", []).append({"id": f"3{issue['id']}", "self": "", "type": kind_, "inwardIssue": _stub(issue)})
        if kind != "Sub-task":
            candidates.append(issue["key"])
    for issue in issues:  # Σ progress: the issue and its sub-tasks
        f = issue["fields"]
        family = [f, *(c["fields"] for c in children.get(issue["key"], []))]
        spent = sum(m.get("timespent") or 0 for m in family)
        remaining = sum(m.get("timeestimate") or 0 for m in family)
        f["aggregateprogress"] = _progress(spent, remaining)


def _progress(spent: int, remaining: int) -> dict:
    total = spent + remaining
    return {"progress": spent, "total": total, **({"percent": round(100 * spent / total)} if total else {})}


def build_dataset(seed: int = SEED) -> dict[str, Any]:
    """The whole dataset as a dict; the same seed always gives the same data."""
    return _Generator(seed).build()


def encode(dataset: dict[str, Any]) -> bytes:
    """Gzipped JSON with no name and mtime 0, so equal data gives equal bytes."""
    raw = json.dumps(dataset, ensure_ascii=False, separators=(",", ":")).encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as out:
        out.write(raw)
    return buffer.getvalue()


def write(path: Path = OUTPUT, seed: int = SEED) -> Path:
    path.write_bytes(encode(build_dataset(seed)))
    return path


def main() -> None:
    path = write()
    dataset = json.loads(gzip.decompress(path.read_bytes()))
    print(f"wrote {len(dataset['issues'])} issues to {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

