"""Small helpers shared by tests."""
import re
from urllib.parse import urlsplit

VERIFY_PATH = "/sign-in/verify"


def csrf_token(client, path="/sign-in"):
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, username, password="Bangban@2026", totp=True):
    """Sign in through the form. For an administrator, also pass the second
    factor (enrolling on first use) unless ``totp`` is False; return the
    last response (a 302 when signed in)."""
    token = csrf_token(client)
    response = client.post("/sign-in", data={"username": username, "password": password, "csrf_token": token})
    if totp and response.status_code == 302 and urlsplit(response.location).path == VERIFY_PATH:
        response = second_factor(client, username)
    return response


def totp_secret(client, username, html=None):
    """The TOTP secret of an account: from the enrolment page's HTML if
    given and enrolling, else as stored."""
    if html is not None:
        match = re.search(r'id="totp-secret" data-secret="([A-Z2-7]+)"', html)
        if match:
            return match.group(1)
    from core.auth import totp_secret as load
    from core.models import Staff

    with client.application.app_context():
        return load(Staff.get(Staff.username == username))


def totp_code(secret, last_step=None):
    """The current code, by the app's clock (which tests may move). A code
    is accepted once: after ``last_step`` was used, the next step's code
    (still inside the accepted window) is returned."""
    import pyotp

    from core import sessions

    totp = pyotp.TOTP(secret)
    now = sessions.timestamp()
    step = now // totp.interval
    if last_step is not None and last_step >= step:
        step = last_step + 1
    return totp.at(step * totp.interval)


def second_factor(client, username, code=None):
    """Answer the second-factor page (enrolment or code) with a right code
    (or ``code``)."""
    html = client.get(VERIFY_PATH).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    if code is None:
        code = totp_code(totp_secret(client, username, html), _last_step(client, username))
    return client.post(VERIFY_PATH, data={"code": code, "csrf_token": token})


def _last_step(client, username):
    from core.models import Staff

    with client.application.app_context():
        staff = Staff.get_or_none(Staff.username == username)
        return staff.totp_last_step if staff else None
