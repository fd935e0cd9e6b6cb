"""政银合作 (bank partnership): which items a citizen can start at a partner
bank branch, and where those branches are.

Items opt in with ``channels: [bank]`` in their metadata; branches are sites
of kind ``bank_branch``. This plugin only adds the public page and a link.
"""
from pathlib import Path

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _

from core.hookspecs import hookimpl
from core.models import Site, current_metadata

HERE = Path(__file__).parent
bp = Blueprint("bank_partnership", __name__, url_prefix="/bank")


@bp.route("/")
def index():
    from core import settings

    items = [r.content for r in current_metadata("items") if "bank" in r.content.get("channels", [])]
    branches = list(Site.select().where(Site.kind == "bank_branch").order_by(Site.code))
    notice = settings.get("bank_partnership", "notice", region=request.args.get("region") or "")
    return render_template("bank_partnership/index.html", items=items, branches=branches, notice=notice)


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
def menu_links():
    return [{"href": url_for("bank_partnership.index"), "label": _("Bank partnership")}]
