"""What staff do to cases. Every function writes its rows, the case event
and the audit entry in one transaction, or nothing."""
from __future__ import annotations

import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l

from .. import audit, personal, sharding, workdays
from ..db import insert_row, transaction
from ..i18n import labels
from ..models import MetadataRecord, Staff, utcnow
from . import workflow as wf
from .models import Case, CaseCounter, CaseEvent, Commission, Escalation, Handover, Subtask

DELIVERY_METHODS = ("pickup", "mail", "door")
POWERS = ["submit", "supplement", "collect_result", "pay"]


def today():
    return datetime.date.today()


def _pm():
    return current_app.extensions["bangban"].pm


def _committed(case, action, from_state, actor):
    """``case_committed``, after the transaction: each plugin on its own, a
    failure logged, never undoing the case."""
    from ..plugins import call_isolated

    call_isolated(_pm(), "case_committed", case=case, action=action, from_state=from_state, actor=actor)


def _event(case, user, action, from_state, note="", data=None, role=None):
    """The case's ledger row; personal numbers in its note and data are stored
    as tokens (:func:`personal.protect_text`). Inside the transaction of the
    change it records."""
    return insert_row(CaseEvent, county_code=case.county_code, case=case, actor=getattr(user, "id", None),
                            role=role or getattr(user, "role", "system"), action=action, from_state=from_state,
                            to_state=case.state, note=personal.protect_text(note or "", "case_event.note"),
                            data=personal.protect_mapping(data, "case_event.data") if data is not None else None)


def _audit(case, user, action, payload=None):
    """The audit entry of a case action (``audit.record`` protects the
    payload's personal numbers before it is MACed)."""
    audit.record(action, f"case:{case.number}", actor=getattr(user, "username", "system"),
                 role=getattr(user, "role", "system"), county_code=case.county_code, payload=payload or {})


def next_number(county_code, day):
    """Receipt number ``CCCCCC-YYYYMMDD-NNNN`` (dashed, so it can never be
    mistaken for an 18-digit ID number).

    One statement on both databases bumps the county's counter for ``day``
    (an upsert with RETURNING). Call it inside the transaction that writes
    the case: on PostgreSQL the upsert locks the counter row until commit,
    so concurrent writers queue on it instead of reading the same MAX; on
    SQLite the transaction already holds the write lock (``BEGIN
    IMMEDIATE``). A case that rolls back gives its number back."""
    if not Case._meta.database.in_transaction():
        raise RuntimeError("next_number() must run inside the transaction that writes the case")
    bump = (CaseCounter.insert(county_code=county_code, day=day, last=1)
            .on_conflict(conflict_target=[CaseCounter.county_code, CaseCounter.day],
                         update={CaseCounter.last: CaseCounter.last + 1})
            .returning(CaseCounter.last))
    seq = list(bump.execute())[0].last
    return f"{county_code}-{day:%Y%m%d}-{seq:04d}"


# --- creating ---------------------------------------------------------------

def store_uploads(data: dict, folder) -> dict:
    """Save uploaded files (already type-checked by the form) under
    ``folder`` by content hash; the case keeps name, type, size and path."""
    import hashlib
    from pathlib import Path

    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and "file" in value:
            content = value["file"].read()
            digest = hashlib.sha256(content).hexdigest()
            target = Path(folder) / f"{digest}.{value['type']}"
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.write_bytes(content)
            value = {"name": value["file"].filename, "type": value["type"], "size": len(content),
                     "sha256": digest}
        out[key] = value
    return out


#: site kinds a case is filed at by default, in order of preference
HOME_SITE_KINDS = ("service_center", "service_station", "service_point")


def _sites_of(county_code, region):
    """The sites of a region, read once per catalog version (sites change
    only through a metadata sync)."""
    from .. import catalog
    from ..models import Site

    return catalog.cached("sites_of_region", (county_code, region), lambda: tuple(
        Site.select().where((Site.county_code == county_code) & (Site.region == region)).order_by(Site.code)))


def intake_for(user, data: dict, site_code=None):
    """``(site_code, intake_channel)`` of a case filed by ``user``: a
    registered channel the form names (``intake_channel``) wins; else the
    channel naming the user's role (a partner bank clerk: ``bank``), at the
    site of its kind in the user's region (no site when the region has
    several: a staff record names no site); else the user's own center or
    station, whose comprehensive window (``features``) takes the case if it
    has one, a plain window if not. County staff file at no site, through a
    window."""
    from .. import registry
    from ..models import Site

    channels = registry.intake_channels()
    wanted = data.get("intake_channel")
    sites = _sites_of(user.county_code, user.region or "")
    by_role = [c for c in channels.values() if user.role in c["roles"]]
    site = None
    if site_code:
        site = next((s for s in sites if s.code == site_code), None) or Site.get_or_none(Site.code == site_code)
    elif by_role:  # the partner site of the user's region, if there is exactly one
        partner = [s for s in sites if s.kind in by_role[0]["site_kinds"]]
        site = partner[0] if len(partner) == 1 else None
        if site is None:
            return None, (wanted if wanted in channels else by_role[0]["code"])
    if site is None and not site_code:
        site = next((s for kind in HOME_SITE_KINDS for s in sites if s.kind == kind), None)
    if wanted in channels:
        channel = wanted
    elif by_role:
        channel = by_role[0]["code"]
    elif site is not None and "comprehensive_window" in (site.profile or {}).get("features", []) \
            and "comprehensive_window" in channels:
        channel = "comprehensive_window"
    else:
        channel = "window"
    return (site.code if site is not None else site_code), channel


def create_case(item_record: MetadataRecord, data: dict, user, *, region=None, site_code=None):
    """Write the case, its commission, its first event and the audit entry."""
    item = item_record.content
    site_code, channel = intake_for(user, data, site_code)
    flow = wf.for_item(item)
    region = region or data.get("applicant_division") or user.region
    if len(region) < 9:
        raise wf.TransitionError(_l("Choose the applicant's township or village."))
    principal_fields = {k: v for k, v in data.items() if k.startswith("principal_")}
    materials = [{"name": m.get("name"), "form": m.get("form"), "count": m.get("count", 1),
                  "key": bool(m.get("key")), "received": bool(data.get(f"material_{i}"))}
                 for i, m in enumerate(item.get("materials", []), start=1)]
    with transaction():
        case = insert_row(  # Case.create without compiling the statement per case (core.db.insert_row)
            Case, county_code=user.county_code, number=next_number(user.county_code, today()),
            item_code=item["code"], item_record=item_record, item_version=item_record.version, kind=item["kind"],
            workflow=flow.code, state=flow.initial, township_code=region[:9],
            village_code=region[:12] if len(region) >= 12 else None,
            group_code=region if len(region) == 15 else None, site_code=site_code, intake_channel=channel,
            owner=user.id, applicant_name=data["applicant_name"],
            applicant_id_number=personal.encrypt(data["applicant_id_number"], "cases.applicant_id_number"),
            applicant_phone=personal.encrypt(data["applicant_phone"], "cases.applicant_phone"),
            applicant_id_hash=personal.id_hash(data["applicant_id_number"]),
            applicant_phone_hash=personal.phone_hash(data["applicant_phone"]),
            applicant_id_masked=personal.mask_id_number(data["applicant_id_number"]),
            applicant_phone_masked=personal.mask_phone(data["applicant_phone"]),
            green_channel=data.get("green_channel") or None,
            data=personal.protect_mapping({k: v for k, v in data.items() if not k.startswith("material_")},
                                          "cases.data"))
        insert_row(Commission, county_code=case.county_code, case=case,
                          principal=personal.protect_mapping(principal_fields or {"principal_is_applicant": True},
                                                             "commission.principal"),
                          materials=materials, powers=POWERS, created_by=user.id)
        _event(case, user, "apply", None)
        _audit(case, user, "case.create", {"item": item["code"], "version": item_record.version,
                                           **({"green_channel": case.green_channel} if case.green_channel else {})})
        _pm().hook.case_created(case=case, item=item, actor=user, data=case.data)
    _committed(case, "apply", None, user)
    return case


# --- moving -----------------------------------------------------------------

def take(case: Case, code: str, user, inputs: dict | None = None):
    """Take transition ``code``; ``inputs`` carries what it ``requires``."""
    inputs = {k: v for k, v in (inputs or {}).items() if v not in (None, "", [])}
    flow = wf.load(case.workflow)
    open_subtask = Subtask.select().where(sharding.of(Subtask.case, case) & (Subtask.helper == user.id)
                                          & (Subtask.state == "open")).exists()
    transition = flow.check(case, code, user, open_subtask=open_subtask)
    missing = [name for name in transition.requires if name not in inputs]
    if missing:
        raise wf.TransitionError(_l("Please fill in: %(fields)s", fields=labels("input", missing, sep=", ")))
    with transaction():
        case = Case.select().where((Case.id == case.id) & (Case.county_code == case.county_code)).for_update().get() \
            if _pg() else Case.get((Case.id == case.id) & (Case.county_code == case.county_code))
        if case.state not in transition.sources:  # somebody else moved it meanwhile
            raise wf.TransitionError(_l("The case has changed meanwhile; reload the page."))
        source = case.state
        data = {k: inputs[k] for k in transition.requires}
        _apply_effects(case, transition, inputs, user)
        case.state = transition.target
        case.updated_at = utcnow()
        if flow.is_final(case.state) or case.state == "finished":
            _close_escalation(case)
        case.save()
        if "rating" in transition.requires:
            _pm().hook.rating_recorded(case=case, rating=case.rating, comment=case.rating_comment,
                                       channel="staff", actor=user)
        _event(case, user, transition.code, source, note=inputs.get("reason") or inputs.get("note") or "", data=data)
        _audit(case, user, f"case.{transition.code}", {"from": source, "to": case.state, **_safe(data)})
        _pm().hook.case_moved(case=case, transition=transition, from_state=source, actor=user, inputs=inputs)
    _committed(case, transition.code, source, user)
    return case


def _pg():
    from ..db import is_postgres

    return is_postgres()


def _safe(data):
    """What of a transition's inputs goes into the audit payload."""
    return {k: v for k, v in data.items() if k not in ("comment",)}


def _apply_effects(case, transition, inputs, user):
    day = today()
    if transition.clock == "start":
        case.accepted_on = day
        _set_deadline(case)
    elif transition.clock == "pause":
        case.pauses = [*case.pauses, [day.isoformat(), None]]
    elif transition.clock == "resume":
        case.pauses = [[s, e or day.isoformat()] for s, e in case.pauses]
        _set_deadline(case)
    elif transition.clock == "stop":
        case.finished_on = day
    if "promise_due" in transition.requires:
        due = _date(inputs["promise_due"])
        if due <= day:
            raise wf.TransitionError(_l("The promised date must be after today."))
        case.tolerance = {"material": personal.protect_text(inputs["missing_material"], "cases.tolerance.material"),
                          "due": due.isoformat(), "met": False}
    if transition.assignee == "department":
        helper = _helper_for(case, inputs["department"], transition.assignee_role, inputs.get("helper"))
        case.department, case.assignee = inputs["department"], helper.id
    elif transition.assignee == "joint":
        _dispatch_joint(case, inputs["joint"], transition.assignee_role)
    if transition.code == "hand_back":
        case.assignee = None
    if transition.code == "complete":
        open_parts = Subtask.select().where(sharding.of(Subtask.case, case) & (Subtask.state == "open")).count()
        if open_parts:
            raise wf.TransitionError(_l("%(n)d joint part(s) are still open.", n=open_parts))
    if "delivery" in transition.requires:
        delivery = inputs["delivery"]
        if not isinstance(delivery, dict) or delivery.get("method") not in DELIVERY_METHODS \
                or not delivery.get("received_by"):
            raise wf.TransitionError(_l("Say how the result was delivered and who received it."))
        case.delivery = personal.protect_mapping(delivery, "cases.delivery")
    if "rating" in transition.requires:
        rating = int(inputs["rating"])
        if rating not in range(1, 6):
            raise wf.TransitionError(_l("The rating is from 1 to 5."))
        case.rating = rating
        case.rating_comment = personal.protect_text(inputs.get("comment") or None, "cases.rating_comment")


def _date(value):
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))


def _helper_for(case, department, role, helper_id=None):
    """An active staff member of ``role`` (the transition's
    ``assignee_role``) in ``department`` of the case's county."""
    query = Staff.select().where((Staff.county_code == case.county_code) & (Staff.role == role)
                                 & (Staff.department == department) & Staff.active)
    if helper_id:
        query = query.where(Staff.id == int(helper_id))
    helper = query.order_by(Staff.id).first()
    if helper is None:
        raise wf.TransitionError(_l("No active department helper is registered for %(dept)s.", dept=department))
    return helper


def _dispatch_joint(case, departments, role):
    item = case.item_record.content
    departments = list(dict.fromkeys(departments))
    allowed = {item["department"], *item.get("joint_departments", [])}
    strange = [d for d in departments if d not in allowed]
    if strange or len(departments) < 2:
        raise wf.TransitionError(_l("Choose at least two of the item's joint departments."))
    due = case_deadline(case).day
    for department in departments:
        helper = _helper_for(case, department, role)
        Subtask.create(county_code=case.county_code, case=case, department=department, helper=helper.id, due_day=due)
    case.department = item["department"]


def complete_subtask(case, user, note=""):
    """A helper finishes their department's part of a joint case."""
    with transaction():
        part = Subtask.get_or_none(sharding.of(Subtask.case, case) & (Subtask.helper == user.id)
                                   & (Subtask.state == "open"))
        if part is None:
            raise wf.TransitionError(_l("You have no open part in this case."))
        part.state, part.note, part.done_at = "done", personal.protect_text(note, "subtask.note"), utcnow()
        part.save()
        _event(case, user, "complete_part", case.state, note=note, data={"department": part.department})
        _audit(case, user, "case.complete_part", {"department": part.department})
    return part


def deadline_days(case, item, start):
    """The working days a case has from ``start``: the item's promised days
    plus extensions, unless a plugin's ``case_deadline`` says otherwise."""
    days = float(item.get("promised_days", 0)) + case.extended_days
    adjusted = _pm().hook.case_deadline(case=case, item=item, start=start, days=days)
    return days if adjusted is None else float(adjusted)


def case_deadline(case) -> workdays.Deadline:
    """THE deadline of a case (the one computation: the case's due, its
    joint parts' due and the receipt's promise all come from here): the
    item's promised working days plus extensions (or what a plugin's
    ``case_deadline`` says), counted from acceptance (from today for a case
    not yet accepted), the clock standing still during pauses."""
    item = case.item_record.content
    days = deadline_days(case, item, case.accepted_on)
    pauses = [(_date(s), _date(e) if e else None) for s, e in case.pauses]
    return workdays.from_db().deadline_with_pauses(case.accepted_on or today(), days, pauses, today())


def _set_deadline(case):
    """Store the deadline on the case and on its open joint parts."""
    deadline = case_deadline(case)
    case.due_day, case.due_part, case.due_confirmed = deadline.day, deadline.part, deadline.confirmed
    if case.id is not None:
        Subtask.update(due_day=deadline.day).where(sharding.of(Subtask.case, case)
                                                   & (Subtask.state == "open")).execute()


# --- supervising --------------------------------------------------------------

def urge(case, user, note):
    with transaction():
        _event(case, user, "urge", case.state, note=note)
        _audit(case, user, "case.urge", {"note": note})


def extend(case, user, days: float, reason: str):
    if not 0 < days <= 365 or days * 2 != int(days * 2) or not reason:  # refuses NaN and infinity too
        raise wf.TransitionError(_l("An extension needs a positive number of (half) days and a reason."))
    with transaction():
        case.extended_days += days
        if case.accepted_on:
            _set_deadline(case)
        case.updated_at = utcnow()
        case.save()
        _event(case, user, "extend", case.state, note=reason, data={"days": days})
        _audit(case, user, "case.extend", {"days": days, "reason": reason})


def reassign(case, user, field: str, staff: Staff, reason: str):
    if field not in ("owner", "assignee") or not reason:
        raise wf.TransitionError(_l("Reassigning needs a reason."))
    if staff.county_code != case.county_code or not staff.active:
        raise wf.TransitionError(_l("Choose an active staff member of this county."))
    with transaction():
        old = getattr(case, f"{field}_id")
        setattr(case, field, staff.id)
        case.updated_at = utcnow()
        case.save()
        _event(case, user, f"reassign_{field}", case.state, note=reason, data={"from": old, "to": staff.id})
        _audit(case, user, f"case.reassign_{field}", {"from": old, "to": staff.id, "reason": reason})


def _close_escalation(case):
    Escalation.update(open_case=None, closed_at=utcnow()).where(
        (Escalation.county_code == case.county_code) & (Escalation.open_case == case.id)).execute()


def sla_scan(day=None):
    """Open one escalation per overdue case; stop cases whose tolerant
    acceptance promise passed unmet; then the plugins' ``sla_scan`` rounds.
    Safe to run again: returns counts."""
    day = day or today()
    opened = stopped = 0
    flows = {}
    running = (case for county in sharding.counties() for case in Case.select().where(
        (Case.county_code == county) & Case.accepted_on.is_null(False) & Case.finished_on.is_null()).order_by(Case.id))
    for case in running:
        flow = flows.setdefault(case.workflow, wf.load(case.workflow))
        if flow.clock_paused(case.state) or flow.is_final(case.state):
            continue
        tolerance = case.tolerance or {}
        if tolerance and not tolerance.get("met") and _date(tolerance["due"]) < day:
            with transaction():
                source = case.state
                case.state, case.finished_on, case.updated_at = "stopped", day, utcnow()
                case.save()
                _close_escalation(case)
                _event(case, None, "stop", source, note="tolerant acceptance promise not met", role="system")
                _audit(case, None, "case.stop", {"reason": "tolerance_unmet", "due": tolerance["due"]})
            stopped += 1
            continue
        if case.due_day and case.due_day < day and not Escalation.select().where(
                (Escalation.county_code == case.county_code) & (Escalation.open_case == case.id)).exists():
            with transaction():
                Escalation.create(county_code=case.county_code, case=case, open_case=case.id, reason="overdue")
                _event(case, None, "escalate", case.state, note="overdue", role="system")
                _audit(case, None, "case.escalate", {"due": case.due_day.isoformat()})
            opened += 1
    summary = {"opened": opened, "stopped": stopped}
    for extra in _pm().hook.sla_scan(day=day):  # a plugin's own deadlines (see hookspecs.sla_scan)
        summary.update(extra or {})
    return summary


def supply_material(case, user, note=""):
    """The material promised at tolerant acceptance has arrived."""
    if not case.tolerance or case.tolerance.get("met"):
        raise wf.TransitionError(_l("No material is outstanding for this case."))
    with transaction():
        case.tolerance = {**case.tolerance, "met": True, "met_on": today().isoformat()}
        case.save()
        _event(case, user, "supply_material", case.state, note=note)
        _audit(case, user, "case.supply_material",
               {"material": personal.reveal_text(case.tolerance["material"], "cases.tolerance.material")})


# --- handover -----------------------------------------------------------------

def _case_permissions(staff):
    from ..permissions import permissions_of

    return {p for p in permissions_of(staff.role, staff.county_code) if p.startswith("case.")}


def handover(from_staff: Staff, to_staff: Staff, actor, note="", disable=False):
    """Move every case in the departing staff member's hands to a successor
    whose role can hold them: it grants every case permission the departing
    role has, and every moved case lies in the successor's scope."""
    from .. import scope
    from ..auth import User

    if from_staff.id == to_staff.id or not to_staff.active or to_staff.county_code != from_staff.county_code:
        raise wf.TransitionError(_l("Choose another active staff member of the same county as successor."))
    if not _case_permissions(from_staff) <= _case_permissions(to_staff):
        raise wf.TransitionError(_l("The successor's role cannot hold these cases: choose a successor "
                                    "whose role may do what the departing role did."))
    held = Case.select().where((Case.county_code == from_staff.county_code)
                               & ((Case.owner == from_staff.id) | (Case.assignee == from_staff.id))).order_by(Case.id)
    outside = held.where(~scope.condition(User(to_staff), Case)).count() if held.exists() else 0
    if outside:
        raise wf.TransitionError(_l("%(n)d of these cases lie outside the successor's area.", n=outside))
    with transaction():
        moved = []
        for case in held:
            roles = []
            if case.owner_id == from_staff.id:
                case.owner = to_staff.id
                roles.append("owner")
            if case.assignee_id == from_staff.id:
                case.assignee = to_staff.id
                roles.append("assignee")
            case.updated_at = utcnow()
            case.save()
            _event(case, actor, "handover", case.state, note=note, data={"from": from_staff.id, "to": to_staff.id})
            moved.append({"id": case.id, "number": case.number, "state": case.state, "workflow": case.workflow,
                          "as": roles})
        parts = Subtask.update(helper=to_staff.id).where((Subtask.county_code == from_staff.county_code)
                                                         & (Subtask.helper == from_staff.id)
                                                         & (Subtask.state == "open")).execute()
        record = Handover.create(county_code=from_staff.county_code, from_staff=from_staff, to_staff=to_staff,
                                 actor=getattr(actor, "id", None), cases=moved,
                                 note=personal.protect_text(note, "handover.note"))
        if disable:
            Staff.update(active=False).where(Staff.id == from_staff.id).execute()
        audit.record("staff.handover", f"staff:{from_staff.username}", actor=getattr(actor, "username", "system"),
                     role=getattr(actor, "role", "system"), county_code=from_staff.county_code,
                     payload={"to": to_staff.username, "cases": [m["number"] for m in moved], "parts": parts,
                              "disabled": disable})
    return record
