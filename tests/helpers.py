"""Small helpers shared by tests."""
import re


def csrf_token(client, path="/sign-in"):
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, username, password="Bangban@2026"):
    token = csrf_token(client)
    return client.post("/sign-in", data={"username": username, "password": password, "csrf_token": token})
