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
    q = (request.args.get("q") or "").strip()
    level = request.args.get("level") or ""
    records = [r.content for r in current_metadata("items")]
    if level:
        records = [r for r in records if level in r.get("levels", [])]
    if q:
        records = [r for r in records if _matches(r, q)]
    departments = {r.key: r.content for r in current_metadata("departments")}
    return render_template("guides.html", items=records, q=q, level=level, departments=departments)


def _matches(item, q):
    name = item.get("name")
    texts = [item.get("code", "")] + ([name] if isinstance(name, str) else list(name.values()))
    return any(q.lower() in t.lower() for t in texts)


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
