"""政银合作 (bank partnership): items a county delegates to partner bank
branches, the branches themselves and the bank staff who file those items.

Everything of the channel lives here: the intake channel ``bank``, the site
kind ``bank_branch``, the national site standard ``bank_point`` and the role
``partner_staff`` (metadata pack ``metadata/``), the public page (``/bank``)
and its strings (``translations/``). Items opt in with ``channels: [bank]``;
a partner bank's staff may file only those, and see only their own cases
(the role's scope ``own``).
"""
from pathlib import Path

from flask import Blueprint, has_request_context, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.hookspecs import hookimpl
from core.models import Site, current_metadata

HERE = Path(__file__).parent
CHANNEL, SITE_KIND, ROLE = "bank", "bank_branch", "partner_staff"
bp = Blueprint("bank_partnership", __name__, url_prefix="/bank")


def delegated(item) -> bool:
    """Whether an item (its metadata) may be applied for at a bank branch."""
    return CHANNEL in (item or {}).get("channels", [])


@bp.route("/")
def index():
    from core import settings

    items = [r.content for r in current_metadata("items") if delegated(r.content)]
    branches = list(Site.select().where(Site.kind == SITE_KIND).order_by(Site.code))
    notice = settings.get("bank_partnership", "notice", region=request.args.get("region") or "")
    return render_template("bank_partnership/index.html", items=items, branches=branches, notice=notice)


@hookimpl
def register_metadata_packs(register):
    register(HERE / "metadata")


@hookimpl
def register_intake_channels(register):
    register(CHANNEL, label=_l("Partner bank"), site_kinds=(SITE_KIND,), roles=(ROLE,))


@hookimpl
def register_site_kinds(register):
    register(SITE_KIND, label=_l("Bank branch"), level="partner")


def _item_of(resource, actor):
    """The item a ``case.create`` decision is about: the resource (an item's
    record or metadata) or, while the core asks without one, the item of the
    form being requested (``/cases/new/<code>``, ``/api/items/<code>/form``)."""
    content = getattr(resource, "content", resource)
    if isinstance(content, dict) and "code" in content:
        return content
    if resource is None and has_request_context() and (request.view_args or {}).get("code"):
        from core import catalog

        record = catalog.current("items", request.view_args["code"], county=actor.county_code)
        return record.content if record else None
    return None


@hookimpl
def permission_allowed(actor, action, resource):
    """A partner bank's staff may file an item only if it is delegated to banks."""
    if action != "case.create" or getattr(actor, "role", None) != ROLE:
        return None
    item = _item_of(resource, actor)
    if item is None or delegated(item):
        return None
    return False


@hookimpl
def register_plugin_settings(register):
    register("notice", default="", label={"zh": "政银合作页面公告", "en": "Notice on the bank partnership page"})
    register("counter_hours", default="工作日 9:00-17:00", label={"zh": "银行网点代办时间", "en": "Bank counter hours"})


@hookimpl
def register_blueprints(register):
    register(bp)


@hookimpl
def template_dirs():
    return HERE / "templates"


@hookimpl
def static_dirs():
    return HERE / "static"


@hookimpl
def translation_dirs():
    return HERE / "translations"


@hookimpl
def menu_links():
    return [{"href": url_for("bank_partnership.index"), "label": _("Bank partnership")}]
