"""The one permission decision: ``can(actor, action, resource=None)``.

Every view, export, API call, workflow transition and back-office action
asks here. What a role may do is data: the ``permissions`` its metadata
grants (``metadata/core/roles.yaml`` or a region's pack). Plugins take part
through the ``permission_allowed`` hook (as Datasette's): any plugin that
answers ``False`` denies, else any ``True`` allows, else the role decides.
With a ``resource`` (a case), the actor must also have it in scope
(:mod:`core.scope`), so a permission never reaches past the actor's area.

The permissions the code knows are listed in :data:`CORE_PERMISSIONS`;
plugins add theirs with ``register_permissions``. ``metadata check``
reports a role granting a permission nobody knows, and a role granting none.
"""
from __future__ import annotations

from flask import abort, current_app, has_app_context
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from . import catalog

#: code -> label of every permission the core checks somewhere.
CORE_PERMISSIONS = {
    "case.create": _l("File a case for an applicant"),
    "case.read": _l("Read the cases in scope"),
    "case.accept": _l("Accept a commission, or notify missing materials"),
    "case.decline": _l("Decline a case with a reason"),
    "case.dispatch": _l("Dispatch a case to a department"),
    "case.dispatch_joint": _l("Dispatch a major case to several departments"),
    "case.finish": _l("Finish an instant case on the spot"),
    "case.handle": _l("Handle a dispatched case (joint parts, materials supplied)"),
    "case.report_up": _l("Report a case upward for approval"),
    "case.return": _l("Hand a case back to the agent"),
    "case.complete": _l("Complete a case"),
    "case.suspend": _l("Suspend and resume a case"),
    "case.stop": _l("Stop a case"),
    "case.archive": _l("Deliver the result and archive"),
    "case.remind": _l("Urge the staff in charge of a case"),
    "case.extend": _l("Extend a case's deadline"),
    "case.reassign": _l("Reassign a case to other staff"),
    "case.handover": _l("Hand over a departing staff member's cases"),
    "rating.record": _l("Record the applicant's rating"),
    # 好差评 (core.ratings, a built-in plugin: always there, so its permissions are the core's)
    "rating.read": _l("Read the ratings, their handling, the invitations and the rating ledger"),
    "rating.export": _l("Export the ratings (Excel, JSON) and the rating ledger"),
    "rectification.manage": _l("Verify, rectify and call back bad ratings"),
    "rectification.appeal_decide": _l("Decide appeals against bad ratings"),
    "appointment.manage": _l("See the appointments at the sites in scope; record a visit, a no-show or a cancellation"),
    "home_visit.handle": _l("Take the home-visit requests of the villages in scope and record their outcome"),
    "ledger.read": _l("Read and export the ledger and the case API"),
    "personal_data.reveal": _l("Reveal personal data in full (audited)"),
    "catalog.manage": _l("Manage items, guides, departments and workflows"),
    "site.manage": _l("Manage regions, sites and site standards"),
    "ruleset.manage": _l("Manage the region's rule set"),
    "staff.manage": _l("Manage staff accounts of case work"),
    "account.manage": _l("Create and disable accounts"),
    "permission.manage": _l("Grant roles, administrator roles included"),
    "security.manage": _l("Security policy: reset second factors"),
    "calendar.manage": _l("Maintain the holiday calendar"),
    "settings.manage": _l("Plugin settings"),
    "audit.read": _l("Read the audit log"),
    "api_token.manage": _l("Issue and revoke API tokens for devices"),
    "outbox.manage": _l("Inspect the outbox and send messages again"),
    "online_request.handle": _l("Call back online requests and file cases from them"),
    "report.read": _l("Read the KPI dashboard, the targets' status and the reports"),
    "compliance.read": _l("Read the site compliance reports of the area"),
    "compliance.assess": _l("Fill in a site's self-assessment"),
    "compliance.review": _l("Review the sites' self-assessments"),
    "staffing.read": _l("Read the staffing coverage"),
    "assessment.read": _l("Read the staff assessment"),
    "assessment.note": _l("Add a supervisor's note to a staff assessment"),
    "worklog.read": _l("Read the work log"),
    "worklog.write": _l("Write a station's work log"),
}


def known_permissions(pm=None) -> dict:
    """Every permission code the core and the loaded plugins check."""
    known = dict(CORE_PERMISSIONS)
    if pm is None and has_app_context():
        pm = current_app.extensions["bangban"].pm
    if pm is not None:
        from .plugins import collect

        for _plugin, args, kw in collect(pm, "register_permissions"):
            known[args[0]] = args[1] if len(args) > 1 else kw.get("label", args[0])
    return known


def role_record(role: str, county_code: str | None = None):
    return catalog.current("roles", role, county=county_code)


def permissions_of(role: str, county_code: str | None = None) -> frozenset:
    record = role_record(role, county_code)
    return frozenset(record.content.get("permissions", [])) if record else frozenset()


def administrator_kind(role: str, county_code: str | None = None):
    record = role_record(role, county_code)
    return record.content.get("administrator") if record else None


def is_administrator(actor) -> bool:
    """Whether the actor holds one of the administrator roles (back office,
    second factor): the role's metadata says ``administrator:``."""
    if actor is None or not getattr(actor, "is_authenticated", True):
        return False
    return bool(administrator_kind(actor.role, getattr(actor, "county_code", None)))


def can(actor, action: str, resource=None) -> bool:
    """May ``actor`` do ``action`` (to ``resource``, if given)?"""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    granted = action in permissions_of(actor.role, getattr(actor, "county_code", None))
    if has_app_context():
        answers = current_app.extensions["bangban"].pm.hook.permission_allowed(
            actor=actor, action=action, resource=resource)
        if any(a is False for a in answers):
            return False
        granted = granted or any(a is True for a in answers)
    if not granted:
        return False
    if resource is not None:
        from . import scope

        return scope.in_scope(actor, resource)
    return True


def require(action: str, resource=None):
    """Abort with 403 unless the current user may do ``action``."""
    if not can(current_user, action, resource):
        from .hardening import record_refusal

        record_refusal(403, f"permission:{action}")
        abort(403)


def menu_links_for(entries):
    """The menu links (``menu_links`` hook) among ``entries`` — ``(permission
    or a tuple of them, endpoint, label)`` — that the signed-in person may
    follow; None outside a request or when there is none."""
    from flask import has_request_context, url_for
    from flask_login import current_user

    if not has_request_context() or not getattr(current_user, "is_authenticated", False):
        return None
    links = []
    for permission, endpoint, label in entries:
        wanted = (permission,) if isinstance(permission, str) else permission
        if any(can(current_user, p) for p in wanted):
            links.append({"href": url_for(endpoint), "label": str(label)})
    return links or None
