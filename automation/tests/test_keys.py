import re

import argon2
import pytest
from django.test import RequestFactory

from automation import keys
from automation.models import MacroKey
from automation.tests.conftest import trigger


def test_a_new_key_has_the_prefix_a_lookup_id_and_256_random_bits():
    key = keys.new_key()
    match = re.fullmatch(r"snap_([a-z0-9]{12})_([A-Za-z0-9_-]{43})", key.raw)
    assert match, "unexpected key shape"
    assert match[1] == key.lookup_id
    assert keys.SECRET_BYTES * 8 >= 128
    assert key.raw not in key.hash
    assert keys.new_key().raw != key.raw


def test_it_parses_its_own_keys_and_nothing_else():
    key = keys.new_key()
    presented = keys.parse(key.raw)
    assert presented is not None
    assert (presented.kind, presented.lookup_id) == (keys.KeyKind.MACRO, key.lookup_id)
    unknown_prefix = "other_" + key.raw.removeprefix("snap_")  # the shape of a key, a prefix of none
    for junk in ["", "snap_", "snap_short_x", key.raw + "x", key.raw[:-1], "SNAP" + key.raw[4:], "x" * 5000,
                 key.raw.replace("_", "-", 1), unknown_prefix]:
        assert keys.parse(junk) is None, junk


def test_the_hash_is_argon2id_with_the_small_profile_in_its_phc_string():
    key = keys.new_key()
    params = argon2.extract_parameters(key.hash)
    assert key.hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert params == keys.PARAMETERS
    assert keys.check(key.hash, key.raw)
    assert not keys.check(key.hash, key.raw[:-1] + ("A" if key.raw[-1] != "A" else "B"))
    assert not keys.check("not a hash", key.raw)


@pytest.fixture
def argon2_checks(monkeypatch):
    """Counts the full Argon2 checks ``keys.check`` makes (its memo of verified keys aside)."""
    made = []
    real = keys._argon2_check
    monkeypatch.setattr(keys, "_argon2_check", lambda stored, raw: made.append(stored) or real(stored, raw))
    monkeypatch.setattr(keys, "_verified", {})
    return made


def test_a_verified_key_is_recognised_again_without_argon2(argon2_checks):
    key = keys.new_key()
    assert keys.check(key.hash, key.raw)
    assert keys.check(key.hash, keys.parse(key.raw))
    assert argon2_checks == [key.hash]
    assert key.raw not in repr(keys._verified) and key.raw.encode() not in keys._verified.values()


def test_a_wrong_secret_is_refused_with_a_full_check_even_after_the_right_one(argon2_checks):
    key = keys.new_key()
    assert keys.check(key.hash, key.raw)
    wrong = key.raw[:-1] + ("A" if key.raw[-1] != "A" else "B")
    assert not keys.check(key.hash, wrong)
    assert not keys.check(key.hash, wrong)
    assert argon2_checks == [key.hash] * 3  # the right one once, the wrong one every time
    assert keys.check(key.hash, key.raw)  # and the right one is still known


def test_a_regenerated_key_is_not_recognised_by_the_old_secret(argon2_checks):
    old, new = keys.new_key(), keys.new_key()
    assert keys.check(old.hash, old.raw)
    assert not keys.check(new.hash, old.raw)  # the macro's row now holds the new hash
    assert not keys.check(keys.DUMMY_HASH, old.raw)
    assert keys.check(new.hash, new.raw)


def test_the_memo_of_verified_keys_is_bounded(argon2_checks, monkeypatch):
    monkeypatch.setattr(keys, "_VERIFIED_MAX", 3)
    made = [keys.new_key() for _ in range(5)]
    sizes = []
    for key in made:
        assert keys.check(key.hash, key.raw)
        sizes.append(len(keys._verified))
    assert sizes == [1, 2, 3, 1, 2], "full at three: emptied before the fourth is kept"
    assert all(keys.check(key.hash, key.raw) for key in made)


def test_one_check_is_cheap_enough_for_every_request():
    # The figure (22-33 µs here) and its bar are bench/bench_trigger.py's; this bound only
    # catches a profile gone memory-hard (the argon2 default, 64 MiB, costs tens of ms).
    seconds = keys.bench_hash_check(rounds=50)
    print(f"\nArgon2id key check (m={keys.PARAMETERS.memory_cost} KiB, t={keys.PARAMETERS.time_cost}): {seconds * 1e6:.1f} µs")
    assert seconds < 0.02


def test_hashes_made_with_other_parameters_need_a_rehash():
    old = argon2.PasswordHasher(time_cost=2, memory_cost=64, parallelism=1).hash("snap_aaaaaaaaaaaa_" + "a" * 43)
    assert keys.needs_rehash(old)
    assert not keys.needs_rehash(keys.new_key().hash)
    assert keys.needs_rehash("garbage")
    raw = "snap_aaaaaaaaaaaa_" + "a" * 43
    # The current profile's prefix with a shorter salt, and another time cost at the current length:
    # neither is the current profile, whichever of the two quick tests it passes.
    short_salt = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=32, salt_len=8).hash(raw)
    slower = argon2.PasswordHasher(time_cost=2, memory_cost=8, parallelism=1, hash_len=32, salt_len=16).hash(raw)
    assert short_salt.startswith(keys._CURRENT_PREFIX) and len(short_salt) < keys._CURRENT_LENGTH
    assert not slower.startswith(keys._CURRENT_PREFIX) and len(slower) == keys._CURRENT_LENGTH
    assert keys.needs_rehash(short_salt)
    assert keys.needs_rehash(slower)


def test_the_key_comes_from_its_header_or_a_bearer_token():
    factory = RequestFactory()
    key = keys.new_key().raw

    def presented(**headers):
        return keys.from_request(factory.post("/", **headers))

    assert presented(HTTP_JIRA_SNAPSHOTS_API_KEY=f" {key} ").lookup_id == key[5:17]
    assert presented(HTTP_AUTHORIZATION=f"Bearer {key}").raw == key
    assert presented(HTTP_AUTHORIZATION=f"bearer  {key}").raw == key
    assert presented(HTTP_JIRA_SNAPSHOTS_API_KEY="k1").well_formed is False
    assert presented(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz") is None
    assert presented(HTTP_JIRA_SNAPSHOTS_API_KEY="") is None
    assert presented() is None


def test_reprs_never_show_the_secret():
    key = keys.new_key()
    assert key.raw not in repr(key)
    assert key.raw not in repr(keys.parse(key.raw))
    assert key.raw not in str(keys.parse(key.raw))
    assert "k1" not in repr(keys.from_request(RequestFactory().post("/", HTTP_JIRA_SNAPSHOTS_API_KEY="k1")))


@pytest.mark.django_db
def test_a_successful_call_upgrades_a_hash_made_with_old_parameters(client, automated):
    row = MacroKey.objects.get(lookup_id=keys.parse(automated.key).lookup_id)
    stronger = argon2.PasswordHasher(time_cost=2, memory_cost=16, parallelism=1, type=argon2.Type.ID).hash(automated.key)
    MacroKey.objects.filter(pk=row.pk).update(hash=stronger)

    response = trigger(client, automated, automated.key)

    assert response.status_code == 202, response.json()
    row.refresh_from_db()
    assert row.hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert keys.check(row.hash, automated.key)
