"""API keys for automation: how they look, how they are hashed, how a request presents one.

A key reads ``snap_<lookup id>_<secret>``: the prefix lets people and secret scanners
recognise it, the lookup id finds its row with one indexed query, and the secret carries
256 random bits. Only an Argon2id hash of the whole key is stored.

Argon2's default profile (~115 ms here) exists to slow guessing of low-entropy
passwords. A 256-bit random key cannot be guessed whatever the cost, so the parameters
are the smallest Argon2id allows (NIST SP 800-63B accepts a plain approved hash for
secrets of at least 112 bits): one check costs ~30 µs (see ``bench_hash_check`` and its
test). The parameters travel in the PHC string, so they can be raised later and old
hashes are upgraded on their next successful check.

Macro keys and the site's global key share the format and the hash; the global key's
own prefix (``snapglobal_``) tells a request which table holds its row, so a call still
costs one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import time
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type, hash_secret, verify_secret
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

HEADER = "jira-snapshots-api-key"
_META_HEADER = "HTTP_" + HEADER.upper().replace("-", "_")
MAX_KEY_LENGTH = 200

LOOKUP_ID_LENGTH = 12
_LOOKUP_ALPHABET = string.ascii_lowercase + string.digits
SECRET_BYTES = 32  # 256 bits; token_urlsafe gives 43 characters


class KeyKind:
    MACRO = "macro"
    GLOBAL = "global"


PREFIXES = {KeyKind.MACRO: "snap_", KeyKind.GLOBAL: "snapglobal_"}

PARAMETERS = argon2.Parameters(
    type=Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=1,
    memory_cost=8,  # KiB: the minimum for one lane
    parallelism=1,
)

_SHAPE = re.compile(
    rf"^(?P<prefix>[a-z]+_)(?P<lookup>[{_LOOKUP_ALPHABET}]{{{LOOKUP_ID_LENGTH}}})_(?P<secret>[A-Za-z0-9_-]{{43}})$"
)


@dataclass(frozen=True, repr=False)
class PresentedKey:
    """A key a request carried. ``kind`` and ``lookup_id`` are None when it is malformed.

    Views hold the key only inside this object, whose repr never shows it: Django's error
    reports print local variables, and ``sensitive_variables`` cannot mask the frames of
    an exception DRF catches and re-raises.
    """

    raw: str
    kind: str | None = None
    lookup_id: str | None = None

    @property
    def well_formed(self) -> bool:
        return self.kind is not None

    def __repr__(self) -> str:
        return f"PresentedKey(kind={self.kind!r}, lookup_id={self.lookup_id!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class NewKey:
    raw: str  # shown once, then forgotten
    lookup_id: str
    hash: str

    def __repr__(self) -> str:
        return f"NewKey(lookup_id={self.lookup_id!r})"


def new_lookup_id() -> str:
    return "".join(secrets.choice(_LOOKUP_ALPHABET) for _ in range(LOOKUP_ID_LENGTH))


@sensitive_variables("raw")
def new_key(kind: str = KeyKind.MACRO) -> NewKey:
    lookup_id = new_lookup_id()
    raw = f"{PREFIXES[kind]}{lookup_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return NewKey(raw=raw, lookup_id=lookup_id, hash=make_hash(raw))


@sensitive_variables("raw")
def make_hash(raw: str) -> str:
    p = PARAMETERS
    return hash_secret(
        raw.encode(),
        secrets.token_bytes(p.salt_len),
        time_cost=p.time_cost,
        memory_cost=p.memory_cost,
        parallelism=p.parallelism,
        hash_len=p.hash_len,
        type=p.type,
        version=p.version,
    ).decode("ascii")


def check(stored_hash: str, key: PresentedKey | str) -> bool:
    """Whether ``key`` is the key behind ``stored_hash``; Argon2 compares in constant time.

    A key this process has already verified against the same stored hash is recognised
    by its SHA-256 instead (a plain approved hash is enough for a 256-bit secret, as
    above), which spares a busy key one Argon2 check per call. Only verified keys are
    remembered, so a wrong secret always costs a full check; a regenerated key has a new
    stored hash, and a revoked one is never looked up.
    """
    raw = _raw(key).encode()
    digest = hashlib.sha256(raw).digest()
    known = _verified.get(stored_hash)
    if known is not None and hmac.compare_digest(known, digest):
        return True
    if not _argon2_check(stored_hash, raw):
        return False
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[stored_hash] = digest
    return True


def _argon2_check(stored_hash: str, raw: bytes) -> bool:
    try:
        return verify_secret(stored_hash.encode("ascii"), raw, Type.ID)
    except (VerificationError, InvalidHashError, ValueError):
        return False


# Stored hash -> SHA-256 of the key verified against it, in this process.
_verified: dict[str, bytes] = {}
_VERIFIED_MAX = 10_000


def _raw(key: PresentedKey | str) -> str:
    return key.raw if isinstance(key, PresentedKey) else key


# Checked against when no stored key matches, to keep refusals' timing alike.
DUMMY_HASH = make_hash(secrets.token_urlsafe(SECRET_BYTES))


def needs_rehash(stored_hash: str) -> bool:
    if stored_hash.startswith(_CURRENT_PREFIX) and len(stored_hash) == _CURRENT_LENGTH:
        return False  # the common case, without parsing the PHC string
    try:
        return argon2.extract_parameters(stored_hash) != PARAMETERS
    except InvalidHashError:
        return True


_CURRENT_PREFIX = (
    f"$argon2id$v={PARAMETERS.version}$m={PARAMETERS.memory_cost},t={PARAMETERS.time_cost},p={PARAMETERS.parallelism}$"
)
# Salt and hash in unpadded base64, joined by "$".
_CURRENT_LENGTH = len(_CURRENT_PREFIX) + -(-PARAMETERS.salt_len * 4 // 3) + 1 + -(-PARAMETERS.hash_len * 4 // 3)


def parse(raw: str | None) -> PresentedKey | None:
    """The parts of a well-formed key, or None for anything else (no database needed)."""
    if not raw or len(raw) > MAX_KEY_LENGTH:
        return None
    match = _SHAPE.match(raw)
    if match is None:
        return None
    kind = next((k for k, prefix in PREFIXES.items() if prefix == match["prefix"]), None)
    if kind is None:
        return None
    return PresentedKey(raw=raw, kind=kind, lookup_id=match["lookup"])


def from_request(request: HttpRequest) -> PresentedKey | None:
    """The key a request carries in ``jira-snapshots-api-key`` or ``Authorization: Bearer``.

    None when neither header carries anything; an unusable value comes back as a
    malformed ``PresentedKey`` (later refused as invalid), so "no key" and "a wrong key"
    stay distinct.
    """
    meta = request.META
    if meta.get(_META_HEADER, "").strip():
        return _present(meta[_META_HEADER].strip())
    scheme, _, rest = meta.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return _present(rest.strip())
    return None


def _present(raw: str) -> PresentedKey:
    return parse(raw) or PresentedKey(raw=raw[:MAX_KEY_LENGTH])


def bench_hash_check(rounds: int = 2000) -> float:
    """Mean seconds per key check with the current parameters (for tests and bench output)."""
    key = new_key()
    raw = key.raw.encode()
    started = time.perf_counter()
    for _ in range(rounds):
        _argon2_check(key.hash, raw)
    return (time.perf_counter() - started) / rounds
