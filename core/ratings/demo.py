"""Demo ratings: on each demo county's cases, good ratings from the QR code
and 差评 in every state of their handling (to verify, to rectify, appealed,
to call back, closed after the callback, closed by an upheld appeal). Who
acts is found by permission and scope, never by role code."""
from __future__ import annotations

from ..auth import User
from ..cases.models import Case
from ..models import Staff
from ..permissions import can
from . import service
from .models import Rating

COMMENTS = {1: "办理时间太长，多次跑腿", 2: "窗口人员解释不清楚", 4: "代办员很耐心", 5: "上门代办，非常方便"}


def _holder(county, permission, case):
    for staff in Staff.select().where((Staff.county_code == county) & Staff.active).order_by(Staff.id):
        user = User(staff)
        if can(user, permission, case):
            return user
    return None


def load_demo_ratings(county) -> int:
    """Rate the county's demo cases once (nothing if any is rated through
    this table besides the workflow's own evaluate step)."""
    cases = list(Case.select().where((Case.county_code == county) & Case.accepted_on.is_null(False)
                                     & Case.id.not_in(Rating.select(Rating.case))).order_by(Case.id))
    finished = [c for c in cases if c.finished_on is not None and c.state not in service.NOT_SERVED]
    running = [c for c in cases if c.finished_on is None]
    n = 0
    for case in finished[:2]:  # good ratings from the receipt's QR code, at completion
        service.record(case, "completion", 5 - n, channel="qr", comment=COMMENTS[5 - n])
        n += 1
    chain = ["verify", "rectify", "appeal", "callback", "closed", "upheld"]
    for case, target in zip(running, chain):
        manager = _holder(county, "rectification.manage", case)
        judge = _holder(county, "rectification.appeal_decide", case)
        if manager is None or (target == "upheld" and judge is None):
            continue
        level = 1 if n % 2 else 2
        rating = service.record(case, "acceptance", level, channel="qr" if n % 3 else "track",
                                rater="anonymous" if target == "upheld" else "real_name", comment=COMMENTS[level])
        n += 1
        rect = rating.rectifications.get()
        if target == "verify":
            continue
        if target in ("appeal", "upheld"):
            rect = service.verify(rect, manager, "appeal", "评价人反映的问题与办件无关，疑似误评")
            if target == "upheld":
                service.decide_appeal(rect, judge, "upheld", "经核实系误评，申诉成立")
            continue
        rect = service.verify(rect, manager, "rectify", "情况属实：材料清单告知不一次到位")
        if target == "rectify":
            continue
        rect = service.rectify(rect, manager, "已对窗口人员开展一次性告知培训，并向申请人致歉")
        if target == "closed":
            service.callback(rect, manager, service.today(), "phone", 4)
    return n
