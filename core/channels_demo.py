"""Demo data of the channels: a citizen's online request waiting for a
call back in the village of the demo cases, and the outbox's log of what
the comprehensive window was told of two accepted cases — one delivered,
one given up after every attempt (dead, to be sent again from the back
office) — as if the county had set the platform's address. Run once per
county (nothing if it has an online request or a message)."""
from __future__ import annotations

import datetime

from . import outbox
from .cases.models import Case, CaseEvent
from .db import transaction
from .models import utcnow
from .online import OnlineRequest, write

REQUEST = {"name": "其木格", "phone": "13847709802", "note": "请回电告知需要准备哪些材料，白天在牧场，晚上方便接电话"}
FAILURE = "HTTP 503 from the platform: Service Unavailable"


def load_demo_request(county) -> int:
    from . import catalog

    if OnlineRequest.select().where(OnlineRequest.county_code == county).exists():
        return 0
    case = Case.select().where((Case.county_code == county) & Case.village_code.is_null(False)).order_by(Case.id).first()
    if case is None:
        return 0
    items = [r.content for r in catalog.all_current("items", county=county)]
    item = next((i for i in items if i["code"] == case.item_code), None) \
        or next((i for i in items if "village" in i.get("levels", [])), None)
    if item is None:
        return 0
    with transaction():
        write(county, item_code=item["code"], village_code=case.village_code, photos=[], ip="",
              now=utcnow() - datetime.timedelta(hours=2), **REQUEST)
    return 1


def load_demo_messages(county) -> int:
    from .builtins.channels import _case_facts

    if outbox.OutboxMessage.select().where(outbox.OutboxMessage.county_code == county).exists():
        return 0
    accepted = (CaseEvent.select(CaseEvent, Case).join(Case, on=(CaseEvent.case == Case.id))
                .where((Case.county_code == county) & CaseEvent.action.in_(["accept", "tolerant_accept"]))
                .order_by(CaseEvent.id).limit(2))
    n = 0
    with transaction():
        for event in accepted:
            case, at = event.case, event.at
            fields = {"state": "delivered", "attempts": 1, "delivered_at": at} if n == 0 else \
                {"state": "dead", "attempts": outbox.MAX_ATTEMPTS, "last_error": FAILURE}
            outbox.OutboxMessage.create(county_code=county, target="one_network", topic="case.accepted",
                                        payload={**_case_facts(case), "state": "accepted"},
                                        idempotency_key=f"one_network:{case.number}:{event.id}", created_at=at,
                                        next_attempt_at=at, **fields)
            n += 1
    return n
