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


def _user(username):
    staff = Staff.get_or_none(Staff.username == username)
    return User(staff) if staff else None


def _item(predicate):
    for record in (MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current)
                   .order_by(MetadataRecord.key)):
        if predicate(record.content):
            return record
    return None


def _form(n, village):
    name, birth = PEOPLE[n % len(PEOPLE)]
    return {"applicant_name": name, "applicant_id_number": id_number("150626", birth, 10 + n),
            "applicant_phone": f"1384770{n:04d}", "applicant_address": "乌审旗嘎鲁图镇", "applicant_division": village,
            "principal_is_applicant": True}


def load_demo_cases():
    """Create the demo cases once (does nothing if any case exists)."""
    if Case.select().exists():
        return 0
    agent, grid = _user("galutu.agent"), _user("taoli.grid")
    specialist, helper = _user("galutu.specialist"), _user("rsj.helper")
    supervisor = _user("county.supervisor")
    if not all((agent, grid, specialist, helper, supervisor)):
        return 0
    promised = _item(lambda i: i["kind"] == "promised" and i["department"] == "rsj" and "village" in i["levels"])
    instant = _item(lambda i: i["kind"] == "instant" and "village" in i["levels"])
    major = _item(lambda i: i["kind"] == "major" and "township" in i["levels"])
    village = "150626100201"
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
    new(promised, agent, (agent, "accept", {}), (agent, "dispatch", {"department": "rsj"}))
    new(promised, agent, (agent, "accept", {}), (agent, "dispatch", {"department": "rsj"}),
        (helper, "report_up", {"note": "已报旗人社局审核"}))
    new(promised, agent, (agent, "accept", {}), (agent, "dispatch", {"department": "rsj"}),
        (agent, "suspend", {"reason": "申请人外出务工，暂缓办理"}))
    new(instant, grid, (grid, "accept", {}), (grid, "finish_instant", {}))
    new(instant, grid, (grid, "accept", {}), (grid, "finish_instant", {}), (grid, "archive", delivery))
    new(instant, grid, (grid, "accept", {}), (grid, "finish_instant", {}), (grid, "archive", delivery),
        (grid, "evaluate", {"rating": 5}))
    new(promised, agent, (agent, "decline", {"reason": "申请人不符合本旗户籍条件"}))
    new(promised, agent, (agent, "accept", {}), (supervisor, "stop", {"reason": "申请人撤回申请"}))
    if major is not None:
        joint = [major.content["department"], *major.content["joint_departments"]][:2]
        if all(Staff.select().where((Staff.department == d) & (Staff.role == "department_helper")).exists()
               for d in joint):
            new(major, specialist, (specialist, "accept", {}), (specialist, "dispatch_joint", {"joint": joint}))
    overdue = new(promised, agent, (agent, "accept", {}), (agent, "dispatch", {"department": "rsj"}))
    # an overdue case: as if accepted a month ago (demo only), so the tracker
    # and the supervisor have something to act on
    Case.update(accepted_on=today - datetime.timedelta(days=40), due_day=today - datetime.timedelta(days=10)) \
        .where(Case.id == overdue.id).execute()
    service.sla_scan()
    return n
