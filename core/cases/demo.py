"""Demo cases in every state, so that a new user sees a living system."""
from __future__ import annotations

import datetime

from ..auth import User
from ..models import MetadataRecord, Staff
from . import service
from .models import Case


def id_number(region6: str, birth: str, seq: int) -> str:
    """A syntactically valid citizen ID number (GB 11643 check digit)."""
    body = f"{region6}{birth}{seq:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]
    return body + check


PEOPLE = [("乌日娜", "19680512"), ("王建国", "19550803"), ("其木格", "19900101"), ("李桂兰", "19420315"),
          ("巴图", "19851120"), ("张海燕", "19770630"), ("斯琴图雅", "19930218"), ("刘福", "19480909"),
          ("赵淑珍", "19600126"), ("额尔德木图", "19821012"), ("孙丽", "19950704"), ("高志远", "19710417"),
          ("宝音", "19581230")]


def _item(predicate, county=None):
    from .. import catalog

    for record in catalog.all_current("items", county=county):
        if predicate(record.content):
            return record
    return None


def _holders(county, test):
    """Active staff of the county whose role's metadata passes ``test``."""
    from ..permissions import permissions_of
    from ..scope import role_info

    out = []
    for staff in Staff.select().where((Staff.county_code == county) & Staff.active).order_by(Staff.id):
        user = User(staff)
        if test(permissions_of(staff.role, county), role_info(user).get("scope"), staff):
            out.append(user)
    return out


def _form(n, village):
    name, birth = PEOPLE[n % len(PEOPLE)]
    return {"applicant_name": name, "applicant_id_number": id_number(village[:6], birth, 10 + n),
            "applicant_phone": f"1384770{n:04d}", "applicant_address": "", "applicant_division": village,
            "principal_is_applicant": True}


def load_demo_cases(county="150626"):
    """Create one county's demo cases once (nothing if it has any): a case
    in every state of the flow. Who acts is read from the roles metadata
    (who may file, accept, complete, stop), never from role codes."""
    if Case.select().where(Case.county_code == county).exists():
        return 0
    from .. import catalog
    from . import workflow as wf

    from ..models import Region

    grids = _holders(county, lambda perms, scope, s: "case.create" in perms and scope == "village"
                     and len(s.region) == 12)
    # the village with the most groups first: its group agents see the cases too
    grids.sort(key=lambda u: -Region.select().where(Region.parent == u.region).count())
    agents = _holders(county, lambda perms, scope, s: "case.create" in perms and "case.decline" in perms
                      and scope == "township" and (not grids or s.region == grids[0].region[:9]))
    specialists = _holders(county, lambda perms, scope, s: {"case.dispatch_joint", "case.complete"} <= perms
                           and s.region == (agents[0].region if agents else ""))
    township = agents[0].region[:9] if agents else ""
    supervisors = _holders(county, lambda perms, scope, s: "case.stop" in perms
                           and (scope == "county" or (scope == "township" and s.region[:9] == township)))
    if not (grids and agents and supervisors):
        return 0
    agent, grid, supervisor = agents[0], grids[0], supervisors[0]
    specialist = specialists[0] if specialists else agent
    village = grid.region

    roles = [r for record in catalog.all_current("workflows") for r in wf.load(record.key).assignee_roles()]

    def helpers_of(department):
        """Whether the department has staff of a role dispatched cases go to."""
        return Staff.select().where((Staff.county_code == county) & (Staff.department == department)
                                    & Staff.role.in_(roles) & Staff.active).exists()

    promised = None
    for helper_staff in Staff.select().where((Staff.county_code == county) & Staff.role.in_(roles) & Staff.active
                                             & Staff.department.is_null(False)).order_by(Staff.id):
        promised = _item(lambda i: i["kind"] == "promised" and "village" in i["levels"]
                         and i["department"] == helper_staff.department, county)
        if promised is not None:
            break
    instant = _item(lambda i: i["kind"] == "instant" and "village" in i["levels"], county)
    major = _item(lambda i: i["kind"] == "major" and "township" in i["levels"], county)
    if promised is None or instant is None:
        return 0
    department = promised.content["department"]
    helper = User(Staff.select().where((Staff.county_code == county) & (Staff.department == department)
                                       & Staff.role.in_(roles) & Staff.active).order_by(Staff.username).first())
    n = 0

    def new(record, user, *steps):
        nonlocal n
        case = service.create_case(record, _form(n, village), user)
        n += 1
        for actor, code, inputs in steps:
            case = service.take(case, code, actor, inputs)
        return case

    today = service.today()
    delivery = {"delivery": {"method": "pickup", "received_by": "本人"}}
    new(promised, grid)  # applied
    new(promised, agent, (agent, "one_time_notice", {"missing_materials": ["居民户口簿"]}))
    new(promised, agent, (agent, "accept", {}))
    new(promised, agent, (agent, "tolerant_accept",
                          {"missing_material": "复印件", "promise_due": (today + datetime.timedelta(days=5)).isoformat()}))
    new(promised, agent, (agent, "accept", {}), (agent, "dispatch", {"department": department}))
    new(promised, agent, (agent, "accept", {}), (agent, "dispatch", {"department": department}),
        (helper, "report_up", {"note": "已报上级部门审核"}))
    new(promised, agent, (agent, "accept", {}), (agent, "dispatch", {"department": department}),
        (agent, "suspend", {"reason": "申请人外出务工，暂缓办理"}))
    new(instant, grid, (grid, "accept", {}), (grid, "finish_instant", {}))
    new(instant, grid, (grid, "accept", {}), (grid, "finish_instant", {}), (grid, "archive", delivery))
    new(instant, grid, (grid, "accept", {}), (grid, "finish_instant", {}), (grid, "archive", delivery),
        (grid, "evaluate", {"rating": 5}))
    new(promised, agent, (agent, "decline", {"reason": "申请人不符合本地户籍条件"}))
    new(promised, agent, (agent, "accept", {}), (supervisor, "stop", {"reason": "申请人撤回申请"}))
    if major is not None:
        joint = [major.content["department"], *major.content["joint_departments"]][:2]
        if all(helpers_of(d) for d in joint):
            new(major, specialist, (specialist, "accept", {}), (specialist, "dispatch_joint", {"joint": joint}))
    overdue = new(promised, agent, (agent, "accept", {}), (agent, "dispatch", {"department": department}))
    # an overdue case: as if accepted a month ago (demo only), so the tracker
    # and the supervisor have something to act on
    Case.update(accepted_on=today - datetime.timedelta(days=40), due_day=today - datetime.timedelta(days=10)) \
        .where(Case.id == overdue.id).execute()
    service.sla_scan()
    return n
