"""Staff sign-in security through real HTTP requests, on SQLite and
PostgreSQL: lockout, audit, server-side sessions (regeneration, sign-out,
idle and absolute limits, disabled accounts), TOTP for administrators,
password policy and expiry, rate limits."""
import datetime
import hashlib
import re

import pyotp
import pytest

from core import auth, passwords, sessions
from core.demo import load_demo
from core.models import AuditEntry, SignInAttempt, Staff, UserSession
from tests.helpers import csrf_token, second_factor, sign_in, totp_code

PASSWORD = "Bangban@2026"
AGENT = "galutu.agent"  # no second factor
ADMIN = "county.admin"


class Clock:
    """The app's clock (core.sessions.now), moved by hand."""

    def __init__(self):
        self.moment = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    def __call__(self):
        return self.moment

    def advance(self, **kw):
        self.moment += datetime.timedelta(**kw)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(sessions, "now", clock)
    return clock


def english_client(app):
    client = app.test_client()
    client.get("/?lang=en")  # remembered in the session, kept across sign-in
    return client


def post_sign_in(client, username, password=PASSWORD):
    return client.post("/sign-in", data={"username": username, "password": password,
                                         "csrf_token": csrf_token(client)})


def signed_in(client):
    """Whether the client is signed in (a page that needs it answers 200)."""
    return client.get("/account").status_code == 200


def auth_actions(app, username=None):
    with app.app_context():
        query = AuditEntry.select().where(AuditEntry.action.startswith("auth.")).order_by(AuditEntry.seq)
        if username:
            query = query.where(AuditEntry.actor == username)
        return [e.action for e in query]


def attempts(app, username):
    with app.app_context():
        return [(a.ok) for a in SignInAttempt.select().where(SignInAttempt.username == username)
                .order_by(SignInAttempt.id)]


def flash_text(html):
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'class="flash flash-error"[^>]*>([^<]*)<', html)]


def token_of(client):
    with client.session_transaction() as flask_session:
        return flask_session.get(auth.TOKEN_KEY)


def session_row(app, token):
    with app.app_context():
        return UserSession.get(UserSession.token_hash == sessions.hash_token(token))


# -- lockout and audit -----------------------------------------------------------

def test_five_failures_lock_the_account_for_thirty_minutes(demo_app, clock):
    client = english_client(demo_app)
    for _ in range(5):
        response = post_sign_in(client, AGENT, "wrong-password")
        assert response.status_code == 200
        assert flash_text(response.get_data(as_text=True)) == ["The username or password is wrong."]
    right = post_sign_in(client, AGENT)  # the right password, but locked
    assert right.status_code == 200 and not signed_in(client)
    wrong = post_sign_in(client, AGENT, "wrong-password")
    locked = ["Too many failed sign-in attempts: this account is locked for a while. Try again later."]
    # the same answer whether the password was right or not
    assert flash_text(right.get_data(as_text=True)) == flash_text(wrong.get_data(as_text=True)) == locked
    clock.advance(minutes=29)
    assert flash_text(post_sign_in(client, AGENT).get_data(as_text=True)) == locked
    clock.advance(minutes=2)  # 31 minutes after the fifth failure; refusals did not extend the lock
    assert post_sign_in(client, AGENT).status_code == 302 and signed_in(client)
    # every attempt: one SignInAttempt row and one audit entry
    assert attempts(demo_app, AGENT) == [False] * 8 + [True]
    assert auth_actions(demo_app, AGENT) == (["auth.sign_in_failed"] * 5 + ["auth.sign_in_locked"] * 3
                                             + ["auth.sign_in"])
    with demo_app.app_context():
        payloads = [e.payload for e in AuditEntry.select().where(AuditEntry.action == "auth.sign_in_failed")]
    assert all('"reason": "password"' in p and '"ip": "127.0.0.1"' in p for p in payloads)


def test_failures_spread_out_or_before_a_success_do_not_lock(demo_app, clock):
    client = english_client(demo_app)
    for _ in range(4):
        post_sign_in(client, AGENT, "wrong-password")
    clock.advance(minutes=16)  # the first four fall out of the 15-minute window
    post_sign_in(client, AGENT, "wrong-password")
    with demo_app.app_context():
        assert auth.locked_until(AGENT) is None
    for _ in range(3):
        post_sign_in(client, AGENT, "wrong-password")  # four within the window
    assert post_sign_in(client, AGENT).status_code == 302
    with demo_app.app_context():
        assert auth.locked_until(AGENT) is None
        # a success starts the count afresh
        clock.advance(seconds=1)
        for _ in range(4):
            SignInAttempt.create(username=AGENT, at=clock(), ok=False)
        assert auth.locked_until(AGENT) is None
        SignInAttempt.create(username=AGENT, at=clock(), ok=False)
        assert auth.locked_until(AGENT) == clock() + datetime.timedelta(minutes=30)


def test_unknown_usernames_lock_like_real_ones(demo_app, clock):
    """No way to tell accounts that exist from ones that do not."""
    answers = {}
    for n, username in enumerate(("nobody.here", AGENT)):
        client = demo_app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{n + 1}"  # under the rate limit of each address
        client.get("/?lang=en")
        for _ in range(6):
            response = post_sign_in(client, username, "wrong-password")
        answers[username] = flash_text(response.get_data(as_text=True))
    assert answers["nobody.here"] == answers[AGENT]
    assert auth_actions(demo_app, "nobody.here")[-1] == "auth.sign_in_locked"


def test_a_disabled_account_cannot_sign_in(demo_app):
    with demo_app.app_context():
        Staff.update(active=False).where(Staff.username == AGENT).execute()
    client = english_client(demo_app)
    response = post_sign_in(client, AGENT)
    assert response.status_code == 200
    assert flash_text(response.get_data(as_text=True)) == ["The username or password is wrong."]
    with demo_app.app_context():
        entry = AuditEntry.select().where(AuditEntry.action == "auth.sign_in_failed").get()
    assert '"reason": "disabled"' in entry.payload


# -- server-side sessions --------------------------------------------------------

def test_sign_in_starts_a_new_session(demo_app):
    client = english_client(demo_app)
    with client.session_transaction() as planted:  # session fixation: a cookie set up beforehand
        planted[auth.TOKEN_KEY] = "planted-token"
        planted["planted"] = "by an attacker"
    old_csrf = csrf_token(client)
    response = sign_in(client, AGENT)
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("session=") and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies)
    assert not any(c.startswith("remember_token=") for c in cookies)  # Flask-Login's "remember me" stays off
    first = token_of(client)
    assert first and first != "planted-token"
    with client.session_transaction() as flask_session:
        assert "planted" not in flask_session and flask_session.get("lang") == "en"
    assert csrf_token(client, "/account") != old_csrf
    # only the token's SHA-256 is stored
    row = session_row(demo_app, first)
    assert row.token_hash == hashlib.sha256(first.encode()).hexdigest() and row.ended_at is None
    assert row.staff.username == AGENT and row.ip == "127.0.0.1"
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    sign_in(client, AGENT)
    second = token_of(client)
    assert second not in (None, first)
    sign_in(client, "galutu.agent2")  # signing in again in the same browser ends the session there
    assert session_row(demo_app, second).ended_why == "new_sign_in"
    assert session_row(demo_app, token_of(client)).staff.username == "galutu.agent2"


def test_sign_out_ends_the_session_on_the_server(demo_app):
    client = english_client(demo_app)
    sign_in(client, AGENT)
    cookie = client.get_cookie("session").value
    token = token_of(client)
    replay = demo_app.test_client()
    replay.set_cookie("session", cookie)
    assert signed_in(replay)  # the copied cookie works while the session is live
    response = client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 302 and not signed_in(client)
    row = session_row(demo_app, token)
    assert row.ended_at is not None and row.ended_why == "sign_out"
    stale = demo_app.test_client()
    stale.set_cookie("session", cookie)  # replaying the old cookie after sign-out
    response = stale.get("/account")
    assert response.status_code == 302 and "/sign-in" in response.location
    assert not signed_in(replay)
    assert auth_actions(demo_app, AGENT) == ["auth.sign_in", "auth.sign_out"]


def test_idle_timeout(demo_app, clock):
    client = english_client(demo_app)
    sign_in(client, AGENT)
    token = token_of(client)
    for _ in range(3):  # activity keeps the session alive past 30 minutes in all
        clock.advance(minutes=29)
        assert signed_in(client)
    clock.advance(minutes=30, seconds=1)
    response = client.get("/account")
    assert response.status_code == 302 and "/sign-in" in response.location
    html = client.get("/sign-in").get_data(as_text=True)
    assert "You were signed out after a time without activity." in html
    row = session_row(demo_app, token)
    assert row.ended_why == "idle" and row.ended_at == clock.moment
    assert token_of(client) is None
    assert auth_actions(demo_app, AGENT) == ["auth.sign_in", "auth.session_end"]


def test_idle_timeout_is_configurable(demo_app, clock):
    demo_app.config["BANGBAN"]["SESSION_IDLE_MINUTES"] = 5
    client = english_client(demo_app)
    sign_in(client, AGENT)
    clock.advance(minutes=4)
    assert signed_in(client)
    clock.advance(minutes=5)
    assert not signed_in(client)


def test_last_seen_is_written_at_most_once_a_minute(demo_app, clock):
    client = english_client(demo_app)
    sign_in(client, AGENT)
    token = token_of(client)
    start = session_row(demo_app, token).last_seen
    clock.advance(seconds=30)
    assert signed_in(client) and signed_in(client)
    assert session_row(demo_app, token).last_seen == start
    clock.advance(seconds=31)
    assert signed_in(client)
    assert session_row(demo_app, token).last_seen == clock.moment


def test_absolute_limit(demo_app, clock):
    client = english_client(demo_app)
    sign_in(client, AGENT)
    token = token_of(client)
    for _ in range(11 * 3 + 2):  # active every 20 minutes for 11 h 40 min
        clock.advance(minutes=20)
        assert signed_in(client)
    clock.advance(minutes=20)  # 12 h
    assert not signed_in(client)
    assert session_row(demo_app, token).ended_why == "absolute"
    assert "Your session reached its time limit." in client.get("/sign-in").get_data(as_text=True)
    demo_app.config["BANGBAN"]["SESSION_ABSOLUTE_HOURS"] = 1
    sign_in(client, AGENT)
    token = token_of(client)
    clock.advance(minutes=25)
    assert signed_in(client)
    clock.advance(minutes=25)
    assert signed_in(client)
    clock.advance(minutes=10)
    assert not signed_in(client)
    assert session_row(demo_app, token).ended_why == "absolute"


def test_disabling_an_account_ends_its_session_at_the_next_request(demo_app):
    client = english_client(demo_app)
    sign_in(client, AGENT)
    token = token_of(client)
    assert signed_in(client)
    with demo_app.app_context():
        Staff.update(active=False).where(Staff.username == AGENT).execute()
    response = client.get("/cases")
    assert response.status_code == 302 and "/sign-in" in response.location
    assert session_row(demo_app, token).ended_why == "disabled"
    with demo_app.app_context():
        entry = AuditEntry.select().where(AuditEntry.action == "auth.session_end").get()
    assert entry.actor == AGENT and '"why": "disabled"' in entry.payload
    with demo_app.app_context():
        Staff.update(active=True).where(Staff.username == AGENT).execute()
    assert not signed_in(client)  # re-enabling does not revive the ended session


# -- TOTP for administrators -----------------------------------------------------

def test_administrator_without_a_secret_enrols_then_signs_in(demo_app):
    client = english_client(demo_app)
    response = post_sign_in(client, ADMIN)
    assert response.status_code == 302 and response.location.endswith("/sign-in/verify")
    assert not signed_in(client) and token_of(client) is None  # the password alone is not enough
    page = client.get("/sign-in/verify")
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    secret = re.search(r'data-secret="([A-Z2-7]+)"', html).group(1)
    uri = re.search(r'id="totp-uri">([^<]+)<', html).group(1).replace("&amp;", "&")
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri and "county.admin" in uri
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "").replace("http://localhost", "")
    with demo_app.app_context():
        assert Staff.get(Staff.username == ADMIN).totp_secret is None  # not kept before it is confirmed
    token = csrf_token(client, "/sign-in/verify")
    wrong = client.post("/sign-in/verify", data={"code": "000000" if totp_code(secret) != "000000" else "111111",
                                                  "csrf_token": token})
    assert wrong.status_code == 200 and "The code is wrong or has expired." in wrong.get_data(as_text=True)
    assert not signed_in(client)
    assert re.search(r'data-secret="([A-Z2-7]+)"', client.get("/sign-in/verify").get_data(as_text=True)).group(1) \
        == secret  # the same key until it is confirmed
    right = client.post("/sign-in/verify", data={"code": totp_code(secret), "csrf_token": token})
    assert right.status_code == 302 and signed_in(client)
    assert client.get("/admin/").status_code == 200
    with demo_app.app_context():
        assert auth.totp_secret(Staff.get(Staff.username == ADMIN)) == secret
        payloads = [e.payload for e in AuditEntry.select().where(AuditEntry.action.startswith("auth."))
                    .order_by(AuditEntry.seq)]
    assert auth_actions(demo_app) == ["auth.sign_in_failed", "auth.sign_in"]
    assert '"reason": "totp"' in payloads[0] and '"totp_enrolled": true' in payloads[1]
    assert attempts(demo_app, ADMIN) == [False, True]


def test_administrator_with_a_secret_must_enter_a_code(demo_app):
    secret = pyotp.random_base32()
    with demo_app.app_context():
        Staff.update(totp_secret=auth._store_secret(secret)).where(Staff.username == ADMIN).execute()
    client = english_client(demo_app)
    assert post_sign_in(client, ADMIN).location.endswith("/sign-in/verify")
    html = client.get("/sign-in/verify").get_data(as_text=True)
    assert secret not in html and 'name="code"' in html  # no secret shown once enrolled
    assert client.get("/admin/").status_code == 302
    wrong = second_factor(client, ADMIN, code="12345x")
    assert wrong.status_code == 200 and not signed_in(client)
    wrong = second_factor(client, ADMIN, code=pyotp.TOTP(pyotp.random_base32()).now())
    assert wrong.status_code == 200 and not signed_in(client)
    # a code from the previous 30-second step is still accepted (valid_window=1)
    right = second_factor(client, ADMIN, code=pyotp.TOTP(secret).at(sessions.timestamp() - 30))
    assert right.status_code == 302 and signed_in(client)
    assert client.get("/admin/").status_code == 200
    assert auth_actions(demo_app) == ["auth.sign_in_failed", "auth.sign_in_failed", "auth.sign_in"]
    assert attempts(demo_app, ADMIN) == [False, False, True]


def test_wrong_codes_count_towards_the_lockout(demo_app):
    secret = pyotp.random_base32()
    with demo_app.app_context():
        Staff.update(totp_secret=auth._store_secret(secret)).where(Staff.username == ADMIN).execute()
    client = english_client(demo_app)
    post_sign_in(client, ADMIN)
    for _ in range(4):
        assert second_factor(client, ADMIN, code="000000" if totp_code(secret) != "000000" else "1").status_code == 200
    fifth = second_factor(client, ADMIN, code="000000" if totp_code(secret) != "000000" else "1")
    assert fifth.status_code == 302 and fifth.location.endswith("/sign-in")
    # the pending sign-in is gone and the account is locked, even with both factors right
    assert client.get("/sign-in/verify").status_code == 302
    assert post_sign_in(client, ADMIN).status_code == 200
    assert auth_actions(demo_app) == ["auth.sign_in_failed"] * 5 + ["auth.sign_in_locked"]


def test_second_factor_step_expires(demo_app, clock):
    client = english_client(demo_app)
    post_sign_in(client, ADMIN)
    clock.advance(minutes=11)
    response = client.get("/sign-in/verify")
    assert response.status_code == 302 and response.location.endswith("/sign-in")
    assert client.get("/sign-in/verify").status_code == 302


def test_non_administrators_need_no_code(demo_app):
    client = english_client(demo_app)
    response = post_sign_in(client, AGENT)
    assert response.status_code == 302 and response.location == "/work"  # staff land on their workbench
    assert signed_in(client)
    assert auth_actions(demo_app) == ["auth.sign_in"]


def test_next_is_kept_through_the_second_factor_and_must_be_local(demo_app):
    client = english_client(demo_app)
    token = csrf_token(client)
    response = client.post("/sign-in?next=/admin/", data={"username": ADMIN, "password": PASSWORD,
                                                            "csrf_token": token})
    assert response.location.endswith("/sign-in/verify")
    assert second_factor(client, ADMIN).location == "/admin/"
    other = english_client(demo_app)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "/%09/evil.example"):
        response = other.post(f"/sign-in?next={target}", data={"username": AGENT, "password": PASSWORD,
                                                               "csrf_token": csrf_token(other)})
        assert response.location == "/work"  # not the foreign target: the agent's workbench


# -- password policy and expiry ----------------------------------------------------

def test_password_policy_profiles(app):
    with app.test_request_context("/?lang=en"):
        def check(password, profile, username=None):
            return [str(m) for m in passwords.check_policy(password, profile, username=username)]

        # 等保: ≥ 8 characters from at least three of four classes
        assert check("Abcdefg1", "dengbao") == []
        assert check("abcdefg1!", "dengbao") == []
        assert check("Bangban@2026", "dengbao") == []
        assert check("abcdefgh1", "dengbao") == [
            "The password must mix at least three of: upper-case letters, lower-case letters, digits and symbols."]
        assert check("Ab1!", "dengbao") == ["The password must be at least 8 characters long."]
        assert check("中文密码abc123", "dengbao") == []  # CJK characters count as symbols
        # ASVS: 12 to 128 characters, no composition rules
        assert check("abcdefghijkl", "asvs") == []
        assert check("correct horse battery staple", "asvs") == []
        assert check("Abcdefg1!", "asvs") == ["The password must be at least 12 characters long."]
        assert check("a" * 128, "asvs") == []
        assert check("a" * 129, "asvs") == ["The password must be at most 128 characters long."]
        # both: not the username
        assert check("xgalutu.agent1X", "dengbao", "galutu.agent") == ["The password must not contain the username."]
        assert check("my galutu.agent pass", "asvs", "galutu.agent") == [
            "The password must not contain the username."]
    with app.test_request_context("/?lang=zh_Hans_CN"):
        assert len(passwords.check_policy("x", "dengbao")) == 2
    with pytest.raises(ValueError):
        passwords.get_profile("nist")


def test_password_age_by_profile():
    now = datetime.datetime(2026, 6, 1, 12, 0)

    class Staffer:
        password_changed_at = now - datetime.timedelta(days=89)

    assert not passwords.is_expired(Staffer, "dengbao", now)
    Staffer.password_changed_at = now - datetime.timedelta(days=90, seconds=1)
    assert passwords.is_expired(Staffer, "dengbao", now)
    assert not passwords.is_expired(Staffer, "asvs", now)  # no forced rotation
    Staffer.password_changed_at = now - datetime.timedelta(days=3650)
    assert not passwords.is_expired(Staffer, "asvs", now)


def test_argon2id_parameters():
    hashed = passwords.hash_password("Bangban@2026")
    assert hashed.startswith("$argon2id$") and "m=19456,t=2,p=1" in hashed
    assert passwords.verify(hashed, "Bangban@2026") and not passwords.verify(hashed, "bangban@2026")
    assert not passwords.verify(None, "x") and not passwords.verify("not a hash", "x")


def test_an_expired_password_must_be_changed_first(demo_app, clock):
    with demo_app.app_context():
        Staff.update(password_changed_at=clock() - datetime.timedelta(days=91)).where(
            Staff.username == AGENT).execute()
    other = english_client(demo_app)  # an older session of the same user, elsewhere
    with demo_app.app_context():
        Staff.update(password_changed_at=clock()).where(Staff.username == AGENT).execute()
    sign_in(other, AGENT)
    with demo_app.app_context():
        Staff.update(password_changed_at=clock() - datetime.timedelta(days=91)).where(
            Staff.username == AGENT).execute()
    client = english_client(demo_app)
    response = sign_in(client, AGENT)
    assert response.status_code == 302 and response.location == "/account"
    for path in ("/", "/cases", "/guides"):
        response = client.get(path)
        assert response.status_code == 302 and response.location == "/account", path
    html = client.get("/account").get_data(as_text=True)
    assert "Your password has expired." in html

    def change(old, new, again=None):
        return client.post("/account", data={"old_password": old, "new_password": new,
                                             "new_password2": new if again is None else again,
                                             "csrf_token": csrf_token(client, "/account")})

    html = change("wrong", "Better#Pass9").get_data(as_text=True)
    assert re.search(r'id="old_password-error"[^>]*><p>The current password is wrong.', html)
    html = change(PASSWORD, "weakpass").get_data(as_text=True)
    assert re.search(r'id="new_password-error"[^>]*><p>The password must mix at least three', html)
    html = change(PASSWORD, "Better#Pass9", "Better#Pass8").get_data(as_text=True)
    assert re.search(r'id="new_password2-error"[^>]*><p>The two new passwords differ.', html)
    html = change(PASSWORD, PASSWORD).get_data(as_text=True)
    assert "The new password must differ from the current one." in html
    response = change(PASSWORD, "Better#Pass9")
    assert response.status_code == 302 and response.location == "/"
    assert client.get("/").status_code == 200
    with demo_app.app_context():
        staff = Staff.get(Staff.username == AGENT)
        assert staff.password_changed_at == clock.moment
        assert passwords.verify(staff.password_hash, "Better#Pass9")
        entry = AuditEntry.select().where(AuditEntry.action == "auth.password_change").get()
        assert '"forced": "expired"' in entry.payload and '"sessions_ended": 1' in entry.payload
        ended = [s.ended_why for s in UserSession.select().where(UserSession.staff == staff).order_by(UserSession.id)]
    assert ended == ["password_change", None]  # the other session ended, this one lives
    assert not signed_in(other) and signed_in(client)
    assert "auth.password_change_failed" in auth_actions(demo_app, AGENT)


def test_no_forced_rotation_under_asvs(demo_app, clock):
    demo_app.config["BANGBAN"]["PASSWORD_PROFILE"] = "asvs"
    with demo_app.app_context():
        Staff.update(password_changed_at=clock() - datetime.timedelta(days=400)).where(
            Staff.username == AGENT).execute()
    client = english_client(demo_app)
    assert sign_in(client, AGENT).location == "/work"
    assert client.get("/").status_code == 200


def test_a_password_below_the_policy_must_be_changed_at_sign_in(demo_app):
    demo_app.config["BANGBAN"]["PASSWORD_PROFILE"] = "asvs"
    with demo_app.app_context():
        Staff.update(password_hash=passwords.hash_password("Short#1a")).where(Staff.username == AGENT).execute()
    client = english_client(demo_app)
    assert sign_in(client, AGENT, "Short#1a").location == "/account"
    assert client.get("/").location == "/account"
    assert "does not meet the password rules" in client.get("/account").get_data(as_text=True)
    response = client.post("/account", data={"old_password": "Short#1a", "new_password": "a long passphrase",
                                             "new_password2": "a long passphrase",
                                             "csrf_token": csrf_token(client, "/account")})
    assert response.location == "/" and client.get("/").status_code == 200


# -- rate limits ---------------------------------------------------------------------

def test_sign_in_posts_are_rate_limited_per_server(make_app, tmp_path):
    app = make_app()
    client = app.test_client()
    token = csrf_token(client)
    codes = [client.post("/sign-in", data={"username": "x", "password": "y", "csrf_token": token}).status_code
             for _ in range(11)]
    assert codes == [200] * 10 + [429]
    response = client.post("/sign-in", data={"username": "x", "password": "y", "csrf_token": token})
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert client.get("/sign-in").status_code == 200  # only POSTs count
    # another worker process of the same server (the same data directory) counts with it
    worker = make_app().test_client()
    assert worker.post("/sign-in", data={"username": "x", "password": "y",
                                         "csrf_token": csrf_token(worker)}).status_code == 429
    # another server (its own data directory) keeps its own counts
    fresh = make_app(data_dir=str(tmp_path / "other")).test_client()
    assert fresh.post("/sign-in", data={"username": "x", "password": "y",
                                        "csrf_token": csrf_token(fresh)}).status_code == 200


def test_case_tracking_is_rate_limited(app):
    client = app.test_client()
    codes = [client.get("/track/NO-SUCH-CASE").status_code for _ in range(31)]
    assert codes == [404] * 30 + [429]
    assert client.get("/").status_code == 200


def test_a_totp_code_is_accepted_once_and_the_secret_is_encrypted(app):
    """Replaying a code inside its 90-second window is refused; the stored
    secret is not the secret."""
    from core import auth
    from core.models import Staff
    from tests.helpers import totp_secret

    with app.app_context():
        load_demo(app.extensions["bangban"].pm, "Bangban@2026")
    first = app.test_client()
    assert sign_in(first, "county.admin").status_code == 302
    with app.app_context():
        staff = Staff.get(Staff.username == "county.admin")
        assert staff.totp_secret.startswith("enc1:")
        secret = auth.totp_secret(staff)
        assert secret and secret not in staff.totp_secret
        code = pyotp.TOTP(secret).at(auth.sessions.timestamp())
        assert auth.verify_totp(secret, code, staff) is False  # the sign-in above used this step already
    assert totp_secret(first, "county.admin") == secret
