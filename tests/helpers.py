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


def make_venv(tmp_path_factory, *sources):
    """A new venv with ``sources`` (project folders) installed from their
    local copies: no network, the test environment's installed dependencies
    seen through a .pth file, and the venv's own old setuptools removed (it
    would shadow the outer one, which builds the wheels)."""
    import os
    import site
    import subprocess
    import sys
    import sysconfig
    from pathlib import Path

    where = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    py = where / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    outer = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    subprocess.run([str(py), "-m", "pip", "uninstall", "-q", "-y", "setuptools"], check=False)
    Path(purelib, "zz_outer_env.pth").write_text("\n".join(dict.fromkeys(outer)) + "\n")
    import fcntl

    for source in sources:
        build = tmp_path_factory.mktemp("build")
        # setuptools builds in the source's own build/ folder: two test workers
        # building the project at once collide there, so they take turns
        with open(Path(source) / ".make_venv.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-build-isolation",
                            str(source)], check=True, cwd=build, env={**os.environ, "PIP_NO_INPUT": "1"})
    return where


def app_with_plugin(make_app, plugin, name):
    """An app with ``plugin`` registered as ``name`` (the registries read
    afresh, so its metrics count) and the demo loaded."""
    from core.demo import load_demo

    app = make_app(plugins="wushen,bank_partnership")
    pm = app.extensions["bangban"].pm
    pm.register(plugin, name=name)
    pm.bangban_registries.clear()
    with app.app_context():
        load_demo(pm, "Bangban@2026")
    return app
