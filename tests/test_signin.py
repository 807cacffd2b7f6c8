"""Failed sign-ins are throttled per user name and per client address (django-axes), on the site's
sign-in page and the Django admin's."""

from __future__ import annotations

import pytest

from conftest import PASSWORD

pytestmark = pytest.mark.django_db
PAUSED = "Too many failed sign-ins for this user name or from this address. Sign-in is paused for 15 minutes"


@pytest.fixture
def limit(settings):
    assert settings.AXES_FAILURE_LIMIT == 10  # as shipped
    return settings.AXES_FAILURE_LIMIT


def sign_in(client, username: str, password: str, path: str = "/accounts/login/", **extra):
    return client.post(path, {"username": username, "password": password, "next": "/"}, **extra)


def test_after_too_many_wrong_passwords_even_the_right_one_is_refused_with_a_clear_message(client, people, limit):
    wrong = [sign_in(client, "editor", "guess").status_code for _ in range(limit - 1)]

    paused = sign_in(client, "editor", "guess again")
    right = sign_in(client, "editor", PASSWORD)

    assert wrong == [200] * (limit - 1)
    assert paused.status_code == 429
    assert right.status_code == 429
    assert PAUSED in right.content.decode()
    assert int(right["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session
    assert client.get("/accounts/login/").status_code == 200  # the page itself still opens


def test_a_few_wrong_passwords_do_not_stop_the_right_one(client, people, limit):
    for _ in range(3):
        sign_in(client, "editor", "typo")

    answer = sign_in(client, "editor", PASSWORD)

    assert answer.status_code == 302 and answer["Location"] == "/"
    assert client.session["_auth_user_id"] == str(people["editor"].pk)


def test_guessing_one_user_name_from_many_addresses_pauses_that_user_name(client, people, limit):
    for n in range(limit):
        sign_in(client, "editor", "guess", REMOTE_ADDR=f"198.51.100.{n}")

    assert sign_in(client, "editor", PASSWORD, REMOTE_ADDR="192.0.2.50").status_code == 429
    assert sign_in(client, "viewer", PASSWORD, REMOTE_ADDR="192.0.2.50").status_code == 302


def test_guessing_many_user_names_from_one_address_pauses_that_address(client, people, limit):
    for n in range(limit):
        sign_in(client, f"nobody{n}", "guess", REMOTE_ADDR="203.0.113.5")

    assert sign_in(client, "viewer", PASSWORD, REMOTE_ADDR="203.0.113.5").status_code == 429
    assert sign_in(client, "viewer", PASSWORD, REMOTE_ADDR="203.0.113.6").status_code == 302


def test_behind_declared_proxies_the_forwarded_address_is_the_one_paused(client, people, limit, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(limit):
        sign_in(client, f"nobody{n}", "guess", HTTP_X_FORWARDED_FOR="203.0.113.5")

    # Same proxy (REMOTE_ADDR), another client behind it: not paused.
    assert sign_in(client, "viewer", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 302
    assert sign_in(client, "editor", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429


def test_the_admin_sign_in_is_throttled_too(client, people, limit):
    for _ in range(limit):
        sign_in(client, "site_admin", "guess", path="/admin/login/?next=/admin/")

    answer = sign_in(client, "site_admin", PASSWORD, path="/admin/login/?next=/admin/")

    assert answer.status_code == 429
    assert PAUSED in answer.content.decode()
    assert client.get("/admin/").status_code == 302  # still signed out


def test_the_test_clients_login_still_works(client, people):
    assert client.login(username="editor", password=PASSWORD)
    assert not client.login(username="editor", password="wrong")
