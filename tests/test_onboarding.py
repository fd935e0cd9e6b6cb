"""Onboarding a region nobody here wrote (README "Add a region").

The example region package tests/fixtures/bangban_region_example (桥西区,
130104) is installed into a FRESH virtualenv next to a non-editable install
of Bangban, and used beside 乌审旗 (``BANGBAN_PLUGINS=wushen,qiaoxi``) the
way a deployer would: through the installed ``bangban`` command, then
through HTTP requests to the installed app.

The HTTP checks run in one Python script executed by the venv's python with
Flask's test client (as tests/test_thirdparty_plugin.py does): the code under
test is the installed copy, every request goes through the whole WSGI stack
(sessions, CSRF, scope, forms), and no port, server process or sleep is
needed, which keeps each database's run short and free of port races.

No network: the venv sees the test environment's installed dependencies
through a ``.pth`` line; pip installs only Bangban and the region
(``--no-deps --no-index --no-build-isolation``). Everything runs on SQLite
and on PostgreSQL (module-scoped, one database each).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import _reset_pg
from tests.helpers import make_venv

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path(__file__).parent / "fixtures" / "bangban_region_example"
COUNTY = "130104"
PLUGINS = "wushen,bank_partnership,qiaoxi"


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    return make_venv(tmp_path_factory, ROOT, EXAMPLE)


def run(venv, env, *args):
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True, env=env,
                          cwd=venv, timeout=300)


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


PROBE_HEAD = """
import json, re, sys
import core
from core import create_app
app = create_app()
app.config["TESTING"] = True
sys.path.insert(0, ROOT)  # the test helpers only; the code under test stays the installed copy
from tests.helpers import csrf_token, sign_in
out = {"core_file": core.__file__}

def client(username, password="Bangban@2026"):
    c = app.test_client()
    assert sign_in(c, username, password).status_code == 302, username
    return c

def guide_dl(code):
    html = app.test_client().get("/guides/" + code + "?lang=zh_Hans_CN").get_data(as_text=True)
    return html[html.index('<dl class="guide">'):html.index("</dl>")]
"""

BEFORE = """
agent = client("galutu.agent")
out["form"] = agent.get("/api/items/150626-rsj-001/form?lang=zh_Hans_CN").get_json()
out["guide"] = guide_dl("150626-rsj-001")
print(json.dumps(out, ensure_ascii=False))
"""

AFTER = """
import datetime
from core import catalog
from core.cases.demo import id_number
from core.cases.models import Case
from core.models import Staff
from core.permissions import permissions_of

wushen_agent, qx_agent = client("galutu.agent"), client("qiaoxi.agent")
out["form"] = wushen_agent.get("/api/items/150626-rsj-001/form?lang=zh_Hans_CN").get_json()
out["guide"] = guide_dl("150626-rsj-001")
out["qx_guide"] = guide_dl("130104-cl-001")
qx_form = qx_agent.get("/api/items/130104-cl-001/form?lang=zh_Hans_CN").get_json()
out["qx_applicant"] = [(f["name"], f["required"]) for f in qx_form["sections"][0]["fields"]]
out["qx_item_fields"] = [(f["name"], f.get("pattern")) for f in qx_form["sections"][1]["fields"]]

# items and cases never cross the county line (404, as if they did not exist)
out["items_across"] = [wushen_agent.get("/api/items/130104-cl-001/form").status_code,
                       qx_agent.get("/api/items/150626-rsj-001/form").status_code]
with app.app_context():
    wushen_case = Case.select().where(Case.county_code == "150626").order_by(Case.id).first().id
    qx_case = Case.select().where(Case.county_code == "130104").order_by(Case.id).first().id
    out["qx_states"] = sorted({c.state for c in Case.select().where(Case.county_code == "130104")})
wushen_sup, qx_sup = client("county.supervisor"), client("qiaoxi.supervisor")
out["cases_across"] = {"wushen_on_qx": wushen_sup.get(f"/cases/{qx_case}").status_code,
                       "qx_on_wushen": qx_sup.get(f"/cases/{wushen_case}").status_code,
                       "wushen_on_own": wushen_sup.get(f"/cases/{wushen_case}").status_code,
                       "qx_on_own": qx_sup.get(f"/cases/{qx_case}").status_code}

# the volunteer building head files a case for a neighbour and follows only their own
volunteer = client("qiaoxi.volunteer")
token = csrf_token(volunteer, "/cases/new/130104-rsj-001")
person = {"csrf_token": token, "applicant_name": "孙桂英", "applicant_id_number": id_number("130104", "19520304", 21),
          "applicant_phone": "13931100021", "applicant_division": "130104001001",
          "applicant_building": "维明小区3号楼2单元", "principal_is_applicant": "true"}
with app.app_context():
    before = Case.select().where(Case.county_code == "130104").count()
no_building = volunteer.post("/cases/new/130104-rsj-001", data={**{k: v for k, v in person.items()
                                                                    if k != "applicant_building"}, "material_1": "on"})
out["no_building"] = [no_building.status_code,
                      'id="f-applicant_building-error"' in no_building.get_data(as_text=True)]
filed = volunteer.post("/cases/new/130104-rsj-001", data={**person, "material_1": "on"})
out["filed"] = filed.status_code
with app.app_context():
    mine = Case.select().where(Case.county_code == "130104").order_by(Case.id.desc()).first()
    out["filed_count"] = Case.select().where(Case.county_code == "130104").count() - before
    out["mine_owner"] = Staff.get_by_id(mine.owner_id).username
    out["mine"] = mine.id
    grid_case = Case.select().where((Case.county_code == "130104") & (Case.village_code == "130104001001")
                                    & (Case.id != mine.id)).first().id
    out["volunteer_grants"] = sorted(permissions_of("building_head", "130104"))
out["volunteer_sees"] = {"own": volunteer.get(f"/cases/{mine.id}").status_code,
                         "grid_agents": volunteer.get(f"/cases/{grid_case}").status_code,
                         "list": re.findall(r'href="/cases/(\\d+)"', volunteer.get("/cases").get_data(as_text=True))}
grid = client("qiaoxi.grid")
out["grid_sees_volunteers"] = grid.get(f"/cases/{mine.id}").status_code
gtoken = csrf_token(grid, f"/cases/{mine.id}")
for code, data in (("accept", {}), ("finish_instant", {}),
                   ("archive", {"delivery_method": "pickup", "received_by": "本人"})):
    grid.post(f"/cases/{mine.id}/take/{code}", data={"csrf_token": gtoken, **data})
vtoken = csrf_token(volunteer, f"/cases/{mine.id}")
out["evaluate"] = volunteer.post(f"/cases/{mine.id}/take/evaluate",
                                 data={"csrf_token": vtoken, "rating": "2", "comment": "等得太久"}).status_code
with app.app_context():
    rated = Case.get_by_id(mine.id)
    out["rated"] = [rated.state, rated.rating]

# the item field's pattern: a 20-character 残疾人证号
form = {**person, "material_1": "on", "material_2": "on"}
with app.app_context():
    before = Case.select().where(Case.county_code == "130104").count()
results = {}
for label, number in (("short", "1301041952030402141"), ("letters", "13010419520304021X4A"),
                      ("grade", "13010419520304021X45"), ("good", "13010419520304021X42")):
    page = volunteer.post("/cases/new/130104-cl-001", data={**form, "disability_card_number": number})
    html = page.get_data(as_text=True)
    results[label] = [page.status_code, 'id="f-disability_card_number-error"' in html]
with app.app_context():
    results["created"] = Case.select().where(Case.county_code == "130104").count() - before
    results["stored"] = Case.select().where(Case.county_code == "130104").order_by(Case.id.desc()).first().item_code
out["pattern"] = results

# the rule set, read through the core, drives the plugin's rectification deadline
from bangban_region_example import rectification_due
with app.app_context():
    record = catalog.current("rulesets", "qiaoxi_2026", county="130104")
    out["rules"] = [record.county_code, record.content["rules"]["rating_rectification_days"],
                    [(t["metric"], str(t["due"])) for t in record.content["targets"]]]
    out["rectification"] = {"qiaoxi": str(rectification_due(datetime.date(2026, 12, 1))),
                            "wushen": rectification_due(datetime.date(2026, 12, 1), county_code="150626")}

# the first administrators made by `bangban county init`
for username, password in INIT:
    c = app.test_client()
    r = c.post("/sign-in", data={"username": username, "password": password, "csrf_token": csrf_token(c)})
    wrong = app.test_client()
    w = wrong.post("/sign-in", data={"username": username, "password": password + "x",
                                     "csrf_token": csrf_token(wrong)})
    out.setdefault("init_sign_in", {})[username] = [r.status_code, (r.location or "").split("?")[0], w.status_code]
with app.app_context():
    out["init_staff"] = sorted((s.username, s.role, s.county_code) for s in
                               Staff.select().where(Staff.username.startswith("130104.")))
print(json.dumps(out, ensure_ascii=False))
"""


def probe(venv, env, body, **values):
    script = textwrap.dedent(PROBE_HEAD) + textwrap.dedent(body)
    script = script.replace("ROOT", repr(str(ROOT)), 1)
    for name, value in values.items():
        script = f"{name} = {value!r}\n" + script
    result = ok(run(venv, env, "python", "-c", script))
    return json.loads(result.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def onboarded(request, venv, tmp_path_factory):
    """乌审旗 running alone, then the example region installed beside it."""
    data = tmp_path_factory.mktemp("data")
    if request.param == "sqlite":
        url = f"sqlite:///{data / 'db.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
        _reset_pg(url)
    # nothing of the checkout leaks in: no BANGBAN_* of the caller, no PYTHONPATH
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANGBAN_") and k != "PYTHONPATH"}
    env.update(BANGBAN_DATA_DIR=str(data), BANGBAN_DATABASE_URL=url, PATH=f"{venv / 'bin'}:{env.get('PATH', '')}",
               BANGBAN_SIGN_IN_RATE_LIMIT="1000/minute")  # one client address signs in a dozen people here
    alone = {**env, "BANGBAN_PLUGINS": "wushen,bank_partnership"}  # 乌审旗's demo has bank points
    ok(run(venv, alone, "bangban", "demo", "--county", "150626"))
    before = probe(venv, alone, BEFORE)
    before["check"] = ok(run(venv, alone, "bangban", "metadata", "check"))
    both = {**env, "BANGBAN_PLUGINS": PLUGINS}
    out = {"before": before,
           "plugins": ok(run(venv, both, "bangban", "plugins")),
           "check": ok(run(venv, both, "bangban", "metadata", "check")),
           "sync": ok(run(venv, both, "bangban", "metadata", "sync")),
           "init": ok(run(venv, both, "bangban", "county", "init", COUNTY)),
           "init_again": ok(run(venv, both, "bangban", "county", "init", COUNTY)),
           "demo": ok(run(venv, both, "bangban", "demo", "--county", COUNTY))}
    out["init_accounts"] = re.findall(r"^\s+(130104\.\w+)\s+(\w+)\s+(\S+)$", out["init"], re.M)
    out["after"] = probe(venv, both, AFTER, INIT=[(u, p) for u, _r, p in out["init_accounts"]])
    return out


def test_the_installed_copies_run(onboarded, venv):
    assert onboarded["after"]["core_file"].startswith(str(venv))
    assert "bangban-region-example 1.0.0" in onboarded["plugins"]
    hooks = onboarded["plugins"].split("bangban-region-example 1.0.0", 1)[1].splitlines()[1]
    for hook in ("register_metadata_packs", "register_demo_packs", "permission_allowed"):
        assert hook in hooks


def test_metadata_check_sync_and_demo(onboarded):
    def counts(text):
        return {kind: int(n) for n, kind in re.findall(r"(\d+) (\w+)", text.split("ok:", 1)[1])}

    alone, both = counts(onboarded["before"]["check"]), counts(onboarded["check"])
    assert onboarded["check"].startswith("ok:")
    # core + bank + wushen, then + qiaoxi (demo packs are loaded by `bangban demo` only)
    assert (alone["pack"], both["pack"]) == (3, 4)
    assert both["items"] - alone["items"] == 6 and both["rulesets"] - alone["rulesets"] == 1
    assert both["guide_fields"] - alone["guide_fields"] == 1 and both["roles"] - alone["roles"] == 1
    assert "qiaoxi.volunteer" in onboarded["demo"] and "building_head" in onboarded["demo"]
    # demo cases in the states of the flow, for the new county
    assert {"applied", "accepted", "declined", "stopped", "evaluated", "archived"} <= set(
        onboarded["after"]["qx_states"])


def test_county_init_creates_the_first_administrators(onboarded):
    accounts = onboarded["init_accounts"]
    assert sorted((u, r) for u, r, _p in accounts) == [
        ("130104.admin", "county_admin"), ("130104.audit", "audit_admin"),
        ("130104.security", "security_admin"), ("130104.system", "system_admin")]
    assert len({p for _u, _r, p in accounts}) == 4
    assert "nothing created" in onboarded["init_again"]
    assert onboarded["after"]["init_staff"] == sorted([u, r, COUNTY] for u, r, _p in accounts)
    for username, (status, location, wrong) in onboarded["after"]["init_sign_in"].items():
        assert status == 302 and location != "/sign-in", username  # the printed password works …
        assert wrong != 302, username  # … and only it


def test_the_other_countys_forms_and_guides_are_unchanged(onboarded):
    before, after = onboarded["before"], onboarded["after"]
    assert after["form"] == before["form"]
    assert after["guide"] == before["guide"]
    names = [f["name"] for f in after["form"]["sections"][0]["fields"]]
    assert "applicant_name" in names and "applicant_building" not in names


def test_no_staff_reaches_into_the_other_county(onboarded):
    assert onboarded["after"]["items_across"] == [404, 404]
    assert onboarded["after"]["cases_across"] == {"wushen_on_qx": 404, "qx_on_wushen": 404,
                                                  "wushen_on_own": 200, "qx_on_own": 200}


def _order(html, *labels):
    return [html.index(f"<dt>{label}</dt>") for label in labels]


def test_the_regions_guide_order_and_applicant_fields(onboarded):
    after = onboarded["after"]
    phone, materials, conditions = _order(after["qx_guide"], "咨询电话", "申请材料", "受理条件")
    assert phone < materials < conditions
    w_conditions, w_materials, w_phone = _order(after["guide"], "受理条件", "申请材料", "咨询电话")
    assert w_conditions < w_materials < w_phone
    assert "桥西区残疾人联合会" in after["qx_guide"] and "乌审旗" not in after["qx_guide"]
    assert ["applicant_building", True] in after["qx_applicant"]
    assert after["no_building"] == [400, True]


def test_the_volunteer_sees_only_the_cases_they_filed(onboarded):
    after = onboarded["after"]
    assert after["filed"] == 302 and after["filed_count"] == 1 and after["mine_owner"] == "qiaoxi.volunteer"
    assert after["volunteer_sees"]["own"] == 200
    assert after["volunteer_sees"]["grid_agents"] == 404
    assert set(after["volunteer_sees"]["list"]) == {str(after["mine"])}  # not the demo cases of the village
    assert after["grid_sees_volunteers"] == 200


def test_the_plugin_lets_the_volunteer_rate_their_own_case(onboarded):
    after = onboarded["after"]
    assert "rating.record" not in after["volunteer_grants"]  # the role alone would refuse
    assert after["evaluate"] == 302
    assert after["rated"] == ["evaluated", 2]


def test_an_item_fields_pattern_is_enforced(onboarded):
    pattern = onboarded["after"]["pattern"]
    assert pattern["short"] == [400, True]  # a 400 with the error on the field, and no case
    assert pattern["letters"] == [400, True]
    assert pattern["grade"] == [400, True]
    assert pattern["good"] == [302, False]
    assert pattern["created"] == 1 and pattern["stored"] == "130104-cl-001"
    assert onboarded["after"]["qx_item_fields"] == [["disability_card_number", "^[0-9]{17}[0-9X][1-7][1-4]$"]]


def test_the_rule_sets_rectification_days_take_effect(onboarded):
    county, days, targets = onboarded["after"]["rules"]
    assert (county, days) == (COUNTY, 7)
    assert targets == [["online_rate", "2026-12-31"], ["village_items", "2026-06-30"]]
    # 7 working days after Tuesday 1 December 2026: 2, 3, 4, 7, 8, 9, 10 December
    assert onboarded["after"]["rectification"] == {"qiaoxi": "2026-12-10", "wushen": None}


# --- the `pattern` and `max_length` of a text field, in the core ---------------------

CARD = {"name": "disability_card_number", "type": "text", "label": {"zh": "残疾人证号"}, "required": True,
        "pattern": "^[0-9]{17}[0-9X][1-7][1-4]$"}


def _card_form(app, value, **field):
    from core.forms import build_form_spec, validate_form

    item = {"code": "t-1", "name": "t", "kind": "promised", "fields": [{**CARD, **field}]}
    with app.test_request_context("/?lang=en"):
        data, errors = validate_form(build_form_spec(item, {"applicant_fields": []}), {"disability_card_number": value})
        return data, {k: [str(m) for m in v] for k, v in errors.items()}


@pytest.mark.parametrize("value", ["1301041952030402141", "13010419520304021X4A", "13010419520304021X45",
                                   "x13010419520304021X42", "13010419520304021X42\n1"])
def test_a_text_answer_must_match_the_whole_pattern(app, value):
    _data, errors = _card_form(app, value)
    assert list(errors) == ["disability_card_number"]
    assert errors["disability_card_number"] == ["Not in the expected form; see the field's explanation."]


def test_a_text_answer_matching_the_pattern_is_kept(app):
    assert _card_form(app, " 13010419520304021X42 ") == ({"disability_card_number": "13010419520304021X42"}, {})


def test_a_text_fields_max_length_is_enforced(app):
    _data, errors = _card_form(app, "abcdef", pattern=None, max_length=5)
    assert errors == {"disability_card_number": ["Too long: at most 5 characters."]}
    assert _card_form(app, "abcde", pattern=None, max_length=5) == ({"disability_card_number": "abcde"}, {})


@pytest.mark.parametrize("field, message", [
    ({"pattern": "^[0-9"}, "not a valid regular expression"),
    ({"type": "integer"}, "applies to text and long_text fields only"),
    ({"type": "date", "pattern": None, "max_length": 10}, "applies to text and long_text fields only"),
])
def test_metadata_refuses_a_broken_or_misplaced_pattern(field, message):
    from marshmallow import ValidationError

    from core.metadata.schemas import FieldSchema

    raw = {k: v for k, v in {**CARD, **field}.items() if v is not None}
    with pytest.raises(ValidationError) as caught:
        FieldSchema().load(raw)
    assert message in str(caught.value.messages)
    assert FieldSchema().load(CARD)["pattern"] == CARD["pattern"]
