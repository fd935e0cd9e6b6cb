"""Walk the app's URL map: every state-changing route refuses a request
without a CSRF token, and one with a foreign token (400), Flask-Admin's
included — signed in as a county administrator and as an agent."""
import re

import pytest
from werkzeug.routing import IntegerConverter

from tests.helpers import sign_in

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}



def concrete(rule):
    """A URL for the rule with made-up arguments."""
    values = {}
    for name, converter in rule._converters.items():
        values[name] = 1 if isinstance(converter, IntegerConverter) else "x"
    return rule.build(values, append_unknown=False)[1]


def state_changing_rules(app):
    rules = [r for r in app.url_map.iter_rules() if STATE_CHANGING & set(r.methods or ())]
    assert len(rules) >= 20, "the walk must see the app's forms"
    return rules


@pytest.mark.parametrize("username", ["county.admin", "galutu.agent"])
def test_every_state_changing_route_refuses_a_missing_or_foreign_token(demo_app, username):
    client = demo_app.test_client()
    assert sign_in(client, username).status_code == 302
    other = demo_app.test_client()
    html = other.get("/sign-in").get_data(as_text=True)
    foreign = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    checked = []
    for rule in state_changing_rules(demo_app):
        url = concrete(rule)
        for method in sorted(STATE_CHANGING & set(rule.methods)):
            for data in ({}, {"csrf_token": foreign}, {"csrf_token": "forged"}):
                response = client.open(url, method=method, data=data)
                assert response.status_code == 400, (method, url, data, response.status_code)
            checked.append((method, url))
    assert any(u.startswith("/admin/") for _m, u in checked)
    assert any(u.startswith("/cases/") for _m, u in checked)
    assert ("POST", "/sign-in") in checked
