"""Hooks through ``pm.hook``: order, wrappers, the domain hooks inside and
after the case's transaction, the form spec per county, the registries and
their core entries, a core without plugins, and the README's hook table."""
import datetime
import inspect
import logging
import re
from pathlib import Path

import pytest
from marshmallow import Schema, fields

from core import registry
from core.auth import User
from core.cases import service
from core.cases.demo import _form
from core.cases.models import Case, CaseEvent
from core.hookspecs import hookimpl
from core.models import AuditEntry, MetadataRecord, Site, Staff
from core.plugins import PluginError, call_each, collect, make_manager

from helpers import sign_in

ROOT = Path(__file__).parent.parent
VILLAGE = "150626100201"
BUILTIN = "wushen,bank_partnership"


# --- order and wrappers --------------------------------------------------------

class First:
    @hookimpl(tryfirst=True)
    def register_intake_channels(self, register):
        register("first_channel")


class Last:
    @hookimpl(trylast=True)
    def register_intake_channels(self, register):
        register("last_channel")


class Wrapping:
    @hookimpl(wrapper=True)
    def register_intake_channels(self, register):
        register("before_all")
        result = yield
        register("after_all")
        return result

    @hookimpl(wrapper=True)
    def menu_links(self, request):
        links = yield
        return [*links, [{"href": "/wrapped", "label": "W"}]]


class Linking:
    @hookimpl
    def menu_links(self, request):
        return [{"href": "/plain", "label": "P"}]


def test_tryfirst_trylast_and_wrappers_take_effect():
    pm = make_manager(allow="", extra=[Last(), First(), Wrapping(), Linking()])
    name_of = {type(p): n for n, p in pm.list_name_plugin()}
    calls = [(plugin, args[0]) for plugin, args, _kw in collect(pm, "register_intake_channels")]
    codes = [code for _p, code in calls]
    assert codes[:2] == ["before_all", "first_channel"]
    assert codes[-2:] == ["last_channel", "after_all"]
    assert "window" in codes[2:-2]  # the core's entries come in between
    by_code = dict((code, plugin) for plugin, code in calls)
    wrapper_name = name_of[Wrapping]
    assert by_code["before_all"] == by_code["after_all"] == wrapper_name
    assert by_code["window"] == "core.registries"
    assert (by_code["first_channel"], by_code["last_channel"]) == (name_of[First], name_of[Last])

    # (a built-in plugin with nothing to link for nobody signed in answers [])
    links = [(name, found) for name, found in call_each(pm, "menu_links", request=None) if found]
    linking_name = name_of[Linking]
    assert links == [(linking_name, [{"href": "/plain", "label": "P"}]),
                     (wrapper_name, [{"href": "/wrapped", "label": "W"}])]


class DuplicateChannel:
    @hookimpl
    def register_intake_channels(self, register):
        register("window", label="again")


class NoticeSchema(Schema):
    code = fields.String(required=True)
    title = fields.String()


class DuplicateKind:
    @hookimpl
    def register_metadata_kinds(self, register):
        register("items", NoticeSchema)


@pytest.mark.parametrize("plugin, registry_name, code", [
    (DuplicateChannel(), "intake_channels", "window"), (DuplicateKind(), "metadata_kinds", "items")])
def test_code_registered_twice_names_both_plugins(plugin, registry_name, code):
    pm = make_manager(allow="", extra=[plugin])
    mine = pm.get_name(plugin)
    owner = "core.registries" if registry_name == "intake_channels" else "core.catalog"
    with pytest.raises(registry.RegistryError) as caught:
        registry.get(registry_name, pm)
    message = str(caught.value)
    assert repr(code) in message and repr(mine) in message and repr(owner) in message


def test_core_entries_come_from_builtin_plugins():
    pm = make_manager(allow="")
    # the bank channel and bank branches belong to the bank_partnership plugin, not the core
    assert set(registry.intake_channels(pm)) == {"window", "comprehensive_window", "post", "mobile",
                                                 "online", "phone", "home_visit"}
    assert set(registry.site_kinds(pm)) == {"service_center", "service_station", "service_point", "post_office"}
    with_bank = make_manager(allow="bank_partnership")
    assert registry.owner("intake_channels", "bank", with_bank) == "bank_partnership"
    assert registry.owner("site_kinds", "bank_branch", with_bank) == "bank_partnership"
    assert set(registry.languages(pm)) == {"zh_Hans_CN", "en"}
    assert set(registry.compliance_criteria(pm)) == {
        "min_area", "agents_posted", "items_offered", "window_kinds", "equipment", "zones", "features", "ports",
        "sessions", "extended_hours", "staffing", "rating_device", "naming", "online_rate"}
    assert {"on_time_rate", "rating_coverage", "satisfaction", "online_rate"} <= set(registry.metrics(pm))
    assert registry.owner("metrics", "on_time_rate", pm) == "core.metrics"
    assert "items" in registry.metadata_kinds(pm)
    assert registry.metadata_kinds(pm) is registry.metadata_kinds(pm)  # built once per manager


# --- the domain hooks ------------------------------------------------------------

class Recorder:
    """Records every domain hook call; raises where told to."""

    def __init__(self):
        self.calls, self.fail = [], set()

    def _note(self, name, **kw):
        self.calls.append((name, kw))
        if name in self.fail:
            raise RuntimeError(f"{name} refused")

    @hookimpl
    def case_created(self, case, item, actor, data):
        self._note("case_created", number=case.number, item=item["code"], actor=actor.username,
                   in_db=Case.select().where(Case.number == case.number).exists())

    @hookimpl
    def case_moved(self, case, transition, from_state, actor, inputs):
        self._note("case_moved", code=transition.code, from_state=from_state, to=case.state)

    @hookimpl
    def case_committed(self, case, action, from_state, actor):
        self._note("case_committed", action=action, from_state=from_state)

    @hookimpl
    def rating_recorded(self, case, rating, comment, channel, actor):
        self._note("rating_recorded", rating=rating, channel=channel,
                   stored=Case.get_by_id(case.id).rating)

    @hookimpl
    def case_deadline(self, case, item, start, days):
        return 0 if "deadline" in self.fail else None

    @hookimpl
    def prepare_form_spec(self, spec, item, county_code, locale):
        if county_code == "150626":
            spec["sections"][1]["fields"].append({
                "name": "plugin_pasture", "type": "text", "label": "草场编号", "required": True, "options": [],
                "show_if": None, "required_if": None, "help": None})


class AlsoCommitted:
    def __init__(self):
        self.seen = []

    @hookimpl
    def case_committed(self, case, action, from_state, actor):
        self.seen.append(action)


@pytest.fixture
def hooked(make_app):
    from core.demo import load_demo

    recorder, other = Recorder(), AlsoCommitted()
    pm = make_manager(allow=BUILTIN, extra=[recorder, other])
    app = make_app(pm=pm)
    with app.app_context():
        load_demo(pm, "Bangban@2026")
    recorder.calls.clear()
    other.seen.clear()
    return app, recorder, other


def _user(username):
    return User(Staff.get(Staff.username == username))


def _item(kind, online=None):
    for record in MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current) \
            .order_by(MetadataRecord.key):
        c = record.content
        if c["kind"] == kind and c["department"] == "rsj" and (online is None or bool(c.get("online")) == online):
            return record
    raise LookupError(kind)


def test_case_hooks_fire_inside_and_after_the_transaction(hooked):
    app, recorder, other = hooked
    with app.app_context():
        agent = _user("galutu.agent")
        case = service.create_case(_item("promised"), _form(1, VILLAGE), agent)
        assert [c[0] for c in recorder.calls] == ["case_created", "case_committed"]
        assert recorder.calls[0][1] == {"number": case.number, "item": case.item_code, "actor": "galutu.agent",
                                        "in_db": True}
        assert recorder.calls[1][1] == {"action": "apply", "from_state": None}
        case = service.take(case, "accept", agent)
        assert ("case_moved", {"code": "accept", "from_state": "applied", "to": case.state}) in recorder.calls
        assert other.seen == ["apply", "accept"]


def test_raising_case_created_rolls_the_case_back(hooked):
    app, recorder, _other = hooked
    recorder.fail.add("case_created")
    with app.app_context():
        cases, events, audits = Case.select().count(), CaseEvent.select().count(), AuditEntry.select().count()
        with pytest.raises(RuntimeError, match="case_created refused") as caught:
            service.create_case(_item("promised"), _form(2, VILLAGE), _user("galutu.agent"))
        name = app.extensions["bangban"].pm.get_name(recorder)
        assert caught.value.__notes__ == [f"(raised by plugin {name!r} in hook case_created)"]
        assert (Case.select().count(), CaseEvent.select().count(), AuditEntry.select().count()) == \
            (cases, events, audits)
        assert "case_committed" not in [c[0] for c in recorder.calls]


def test_raising_case_moved_rolls_the_transition_back(hooked):
    app, recorder, _other = hooked
    with app.app_context():
        agent = _user("galutu.agent")
        case = service.create_case(_item("promised"), _form(3, VILLAGE), agent)
        recorder.fail.add("case_moved")
        with pytest.raises(RuntimeError, match="case_moved refused"):
            service.take(case, "accept", agent)
        again = Case.get_by_id(case.id)
        assert again.state == "applied" and again.accepted_on is None
        assert [e.action for e in CaseEvent.select().where(CaseEvent.case == case)] == ["apply"]


def test_failing_case_committed_is_logged_and_undoes_nothing(hooked, caplog):
    app, recorder, other = hooked
    recorder.fail.add("case_committed")
    with app.app_context(), caplog.at_level(logging.ERROR, logger="bangban.plugins"):
        case = service.create_case(_item("promised"), _form(4, VILLAGE), _user("galutu.agent"))
        assert Case.get_by_id(case.id).number == case.number
        assert other.seen == ["apply"]  # the other plugin still ran
    assert "case_committed" in caplog.text and "case_committed refused" in caplog.text


def test_rating_and_deadline_hooks(hooked):
    app, recorder, _other = hooked
    with app.app_context():
        agent, helper = _user("galutu.agent"), _user("rsj.helper")
        recorder.fail.add("deadline")  # the plugin says: 0 working days
        case = service.create_case(_item("promised"), _form(5, VILLAGE), agent)
        case = service.take(case, "accept", agent)
        assert case.accepted_on == service.today() and case.due_day == case.accepted_on
        recorder.fail.discard("deadline")
        case = service.take(case, "dispatch", agent, {"department": "rsj"})
        case = service.take(case, "complete", helper)
        case = service.take(case, "archive", agent, {"delivery": {"method": "door", "received_by": "本人"}})
        case = service.take(case, "evaluate", agent, {"rating": 2})
        rated = [kw for name, kw in recorder.calls if name == "rating_recorded"]
        assert rated == [{"rating": 2, "channel": "staff", "stored": 2}]


def test_prepare_form_spec_per_county(hooked):
    app, _recorder, _other = hooked
    from core.cases.views import guide_field_set
    from core.forms import prepare_form_spec

    with app.app_context():
        record = _item("promised")
        here = prepare_form_spec(record.content, guide_field_set(), "150626", locale="zh")
        elsewhere = prepare_form_spec(record.content, guide_field_set(), "370304", locale="zh")
        names = lambda spec: [f["name"] for s in spec["sections"] for f in s["fields"]]  # noqa: E731
        assert "plugin_pasture" in names(here) and "plugin_pasture" not in names(elsewhere)
        code = record.key
    client = app.test_client()
    assert sign_in(client, "galutu.agent").status_code == 302
    html = client.get(f"/cases/new/{code}").get_data(as_text=True)
    assert 'name="plugin_pasture"' in html and "草场编号" in html


# --- the core's metrics and criteria, against hand computations --------------------

def test_metrics_by_hand(hooked):
    app, _recorder, _other = hooked
    with app.app_context():
        agent = _user("galutu.agent")
        online, offline = _item("promised", online=True), _item("promised", online=False)
        made = [service.create_case(record, _form(10 + n, VILLAGE), agent)
                for n, record in enumerate([online, online, offline, offline])]
        day = datetime.date(2026, 3, 2)
        rows = [  # finished_on, due_day, rating
            (day, day, 5),                              # on time, rated, satisfied
            (day + datetime.timedelta(days=1), day, 2),  # late, rated, 差评
            (day, None, None),                          # finished, no deadline, unrated
            (None, day, 3),                             # running, rated 基本满意: not satisfied
        ]
        for case, (finished, due, rating) in zip(made, rows):
            Case.update(finished_on=finished, due_day=due, rating=rating).where(Case.id == case.id).execute()
        cases = Case.select().where(Case.id.in_([c.id for c in made]))
        assert registry.compute_metric("on_time_rate", cases) == (1, 2)
        assert registry.compute_metric("rating_coverage", cases) == (2, 3)
        assert registry.compute_metric("satisfaction", cases) == (1, 3)  # only 5 and 4 count
        assert registry.compute_metric("online_rate", cases) == (1, 2)


def test_compliance_criteria_by_hand(hooked):
    app, _recorder, _other = hooked
    with app.app_context():
        grid = Staff.get(Staff.role == "grid_agent")
        online, offline = _item("promised", online=True), _item("promised", online=False)
        profile = {"area": 60, "items": [online.key, offline.key, "no-such-item"], "ports": 1,
                   "equipment": [{"zh": "电脑", "en": "Computer"}, "打印机"],
                   "zones": [{"zh": "咨询引导区"}], "features": ["barrier_free"],
                   "sessions": [{"days": ["mon", "tue", "wed"], "start": "08:30", "end": "17:00"},
                                {"days": ["sat"], "start": "09:00", "end": "12:00", "kind": "extended"}]}
        site = Site(code="s1", county_code=grid.county_code, kind="service_station", name={"zh": "某村便民服务站"},
                    region=grid.region, profile=profile)
        bare = Site(code="s2", county_code=grid.county_code, kind="service_point", name={"zh": "某某小卖部"},
                    region="150626999999", profile={})
        standard = {"min_area": 50, "staffing": [{"role": "grid_agent", "min": 1}, {"role": "supervisor", "min": 1}]}
        check = lambda site_, code, **req: registry.check_site(site_, standard, {"measure": code, **req})[0]  # noqa
        channel = online.content["channels"][0]
        grids_here = Staff.select().where((Staff.region == grid.region) & (Staff.role == "grid_agent")
                                          & Staff.active).count()
        assert grids_here >= 1
        expected = [
            (("min_area", ()), "met"),                                   # 60 ≥ 50
            (("min_area", (("min", 80),)), "not_met"),                   # 60 < 80
            (("agents_posted", (("role", "grid_agent"),)), "met"),
            (("agents_posted", (("role", "grid_agent"), ("min", grids_here + 1))), "not_met"),
            (("items_offered", (("min", 2),)), "met"),                   # 2 known items, one unknown
            (("items_offered", (("min", 3),)), "not_met"),
            (("window_kinds", (("items", [channel]),)), "met"),          # a channel of an item offered
            (("window_kinds", (("items", ["no_such_channel"]),)), "not_met"),
            (("equipment", (("items", [{"zh": "电脑"}, "打印机"]),)), "met"),
            (("equipment", (("items", ["复印机"]),)), "not_met"),
            (("zones", (("items", ["咨询引导区"]),)), "met"),
            (("zones", (("items", ["等候区"]),)), "not_met"),
            (("features", (("items", ["barrier_free"]),)), "met"),
            (("features", (("items", ["cctv"]),)), "not_met"),
            (("ports", (("min", 1),)), "met"),
            (("ports", (("min", 2),)), "not_met"),
            (("sessions", (("min", 4),)), "met"),                        # mon tue wed sat
            (("sessions", (("min", 5),)), "not_met"),
            (("extended_hours", ()), "met"),
            (("staffing", ()), "not_met"),                               # no supervisor posted to the village
            (("rating_device", ()), "not_met"),
            (("naming", ()), "met"),                                     # …便民服务站
            (("online_rate", (("min", 0.5),)), "met"),                   # 1 of 2
            (("online_rate", (("min", 0.6),)), "not_met"),
        ]
        for (code, req), status in expected:
            assert check(site, code, **dict(req)) == status, (code, req)
        for code in ("min_area", "items_offered", "window_kinds", "equipment", "zones", "features", "ports",
                     "sessions", "extended_hours", "rating_device", "online_rate"):
            assert check(bare, code, min=1) == "not_measurable", code
        assert check(bare, "naming") == "not_met"                      # 小卖部 is no 便民服务点
        assert check(bare, "agents_posted", role="grid_agent") == "not_met"  # nobody posted there
        site.profile = {**profile, "equipment": ["评价器"]}
        assert check(site, "rating_device") == "met"
        assert registry.check_site(site, standard, {"code": "x"}) == ("not_measurable", "")


# --- plugin kinds in the back office's import and export ------------------------

class NoticeKind:
    @hookimpl
    def register_metadata_kinds(self, register):
        register("notices", NoticeSchema)


def test_plugin_kinds_in_yaml_import_and_export(make_app, tmp_path):
    from core import catalog_io

    pack = tmp_path / "in" / "extra"
    pack.mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: extra\nversion: '1'\n", encoding="utf-8")
    (pack / "notices.yaml").write_text("notices:\n  - title: 通知\n    code: n1\n", encoding="utf-8")
    app = make_app(pm=make_manager(allow=BUILTIN, extra=[NoticeKind()]))
    with app.app_context():
        result = catalog_io.import_yaml(pack)
        assert not result.problems, result.problems
        assert [e.kind for p in result.packs for e in p.entries] == ["notices"]
        catalog_io.apply_import(result, actor="t", role="system")
        catalog_io.export_yaml(tmp_path / "out")
    written = (tmp_path / "out" / "extra" / "notices.yaml").read_text(encoding="utf-8")
    assert written.index("code: n1") < written.index("title:")  # the plugin schema's field order


# --- a core without plugins ------------------------------------------------------

def test_core_works_without_plugins(make_app):
    from core.cli import load_catalog
    from core.metadata import store
    from core.passwords import hash_password

    app = make_app(plugins="")
    pm = app.extensions["bangban"].pm
    assert all(name.startswith("core.") for name, _p in pm.list_name_plugin())
    with app.app_context():
        store.sync(load_catalog(pm, [ROOT / "metadata/core", ROOT / "metadata/wushen"]), actor="t", role="system")
        Staff.create(county_code="150626", username="solo.agent", name="代办员", role="grassroots_agent",
                     region="150626100", password_hash=hash_password("Bangban@2026"))
        code = MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current).first().key
    client = app.test_client()
    assert client.get("/").status_code == 200
    guides = client.get("/guides")
    assert guides.status_code == 200 and code in guides.get_data(as_text=True)
    assert client.get(f"/guides/{code}").status_code == 200
    response = sign_in(client, "solo.agent")
    assert response.status_code == 302 and "/sign-in" not in response.location
    assert client.get("/account").status_code == 200


# --- the README's hook table -------------------------------------------------------

def _readme_hooks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Plugins", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"^\| `(\w+)` \| `\(([^)]*)\)` \| (.+) \|$", line)
        if match:
            rows[match.group(1)] = ([a.strip() for a in match.group(2).split(",") if a.strip()], match.group(3))
    return rows


def test_readme_documents_every_hook_with_its_signature():
    from core import hookspecs

    specs = {name: fn for name, fn in vars(hookspecs).items() if hasattr(fn, "bangban_spec")}
    rows = _readme_hooks()
    assert len(specs) >= 27
    assert set(rows) == set(specs), f"undocumented: {set(specs) - set(rows)}; unknown: {set(rows) - set(specs)}"
    for name, fn in specs.items():
        assert rows[name][0] == list(inspect.signature(fn).parameters), f"{name}: README signature differs"
        assert rows[name][1].strip(), f"{name}: README does not say when it fires"
        doc = inspect.getdoc(fn) or ""
        assert "Fires" in doc, f"{name}: its docstring must say when it fires"
    assert "What the core will never do" in (ROOT / "README.md").read_text(encoding="utf-8")
