"""The core's pages: home, the public catalog of guides, and ``/-/plugins``."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from . import catalog
from .models import MetadataRecord, current_metadata
from .plugins import describe

bp = Blueprint("web", __name__)


@bp.route("/")
def home():
    counts = {}
    for kind in ("items", "regions", "sites", "roles"):
        counts[kind] = current_metadata(kind).count()
    return render_template("home.html", counts=counts)


@bp.route("/guides")
def guides():
    """The public guides: searched by name (any language, Mongolian
    included), code, department or pinyin, filtered per site level, one page
    at a time (core.item_search)."""
    from .hardening import int_arg
    from .item_search import LEVELS, search

    q = (request.args.get("q") or "").strip()[:100]
    level = request.args.get("level") or ""
    level = level if level in LEVELS else ""
    every_department = {r.key: r.content for r in catalog.all_current("departments")}
    page = search(q, level=level or None, departments=every_department,
                  offset=int_arg("offset", 0, high=1_000_000), limit=PAGE_SIZE)
    departments = {}
    for record in page.records:
        dept = catalog.current("departments", record.content.get("department"), county=record.county_code)
        departments[(record.county_code, record.content.get("department"))] = dept.content if dept else {}
    return render_template("guides.html", records=page.records, page=page, q=q, level=level, departments=departments)


PAGE_SIZE = 30


@bp.route("/guides/<code>")
def guide(code):
    record = (MetadataRecord.select().where((MetadataRecord.kind == "items") & (MetadataRecord.key == code)
                                            & MetadataRecord.current).first())
    if record is None:
        abort(404)
    # the item's own county's guide elements and department, never another county's
    guide_fields = catalog.guide_fields_for(record.county_code)
    department = catalog.current("departments", record.content["department"], county=record.county_code)
    return render_template("guide.html", item=record.content, version=record.version,
                           elements=(guide_fields.content["elements"] if guide_fields else []),
                           department=department.content if department else None)


@bp.route("/-/plugins")
def plugins():
    rows = describe(current_app.extensions["bangban"].pm)
    if request.args.get("format") == "json" or request.accept_mimetypes.best == "application/json":
        return jsonify(rows)
    return render_template("plugins.html", plugins=rows, title=_("Plugins"))
