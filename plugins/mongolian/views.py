"""The translation review page: a native reader (``translation.review``)
sees every interface string and every metadata term side by side — Chinese
and the Mongolian draft — corrects it and marks it reviewed. A correction
is a new version (:class:`plugins.mongolian.models.TranslationCorrection`),
audited, shown by the interface at once (no deployment), and written back
to the ``.po`` file and the packs by ``bangban translations export``.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from core import audit
from core import db as dbmod
from core.models import MetadataRecord
from core.permissions import require

from . import review
from .models import SOURCES, TranslationCorrection

bp = Blueprint("translations", __name__, url_prefix="/translations")
PAGE = 50
MAX_TEXT = 4000


def latest_corrections(locale=review.LOCALE) -> dict:
    """``{(source, key): newest correction}``."""
    out = {}
    query = (TranslationCorrection.select().where(TranslationCorrection.locale == locale)
             .order_by(TranslationCorrection.version))
    for row in query:
        out[(row.source, row.key)] = row
    return out


def catalog_rows():
    """Every interface string of the Mongolian catalogs: msgid (the
    English source), the Chinese, the Mongolian draft, reviewed or not."""
    from core.paths import LOCALES

    zh = {m.id: m.string for m in review.read_catalog(LOCALES / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po") if m.id}
    rows = []
    for domain in review.DOMAINS:
        for m in review.read_catalog(review.CATALOG_DIR / f"{domain}.po"):
            if not m.id or not isinstance(m.id, str):
                continue
            rows.append({"source": "catalog", "key": m.id, "zh": zh.get(m.id) or m.id, "mn": m.string or "",
                         "reviewed": review.is_reviewed(m), "kind": domain})
    return rows


def metadata_rows(county_code):
    """Every distinct metadata text the reviewer's county uses (its own
    entries and the national ones), keyed by its Chinese."""
    reviewed = review.reviewed_hashes()
    seen = {}
    query = (MetadataRecord.select(MetadataRecord.kind, MetadataRecord.content)
             .where(MetadataRecord.current & MetadataRecord.county_code.in_(["", county_code or ""]))
             .order_by(MetadataRecord.kind, MetadataRecord.key))
    for record in query:
        if record.kind == "staff":
            continue
        for text in review.texts_of(record.content):
            t = {"zh": text} if isinstance(text, str) else text
            if t["zh"] in seen:
                continue
            mn = t.get("mn", "")
            seen[t["zh"]] = {"source": "metadata", "key": t["zh"], "zh": t["zh"], "mn": mn,
                             "reviewed": bool(mn) and review.text_hash(t["zh"], mn) in reviewed, "kind": record.kind}
    return list(seen.values())


@bp.route("/", methods=["GET"])
@login_required
def index():
    require("translation.review")
    source = request.args.get("source", "metadata")
    if source not in SOURCES:
        abort(400, _("Unknown source: choose catalog or metadata."))
    show = request.args.get("show", "unreviewed")
    q = (request.args.get("q") or "").strip()
    rows = catalog_rows() if source == "catalog" else metadata_rows(current_user.county_code)
    corrections = latest_corrections()
    for row in rows:
        fix = corrections.get((row["source"], row["key"]))
        if fix is not None:
            row.update(mn=fix.text, reviewed=fix.reviewed, version=fix.version, by=fix.actor, at=fix.created_at)
    total, unreviewed = len(rows), sum(not r["reviewed"] for r in rows)
    if show == "unreviewed":
        rows = [r for r in rows if not r["reviewed"]]
    if q:
        rows = [r for r in rows if q in r["zh"] or q in r["mn"] or q in r["key"]]
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    shown = rows[(page - 1) * PAGE: page * PAGE]
    return render_template("translations/review.html", rows=shown, source=source, show=show, q=q, page=page,
                           pages=max(1, -(-len(rows) // PAGE)), total=total, unreviewed=unreviewed,
                           title=_("Translation review"))


@bp.route("/", methods=["POST"])
@login_required
def correct():
    require("translation.review")
    source = request.form.get("source", "")
    key = request.form.get("key", "")
    text = (request.form.get("text") or "").strip()
    if source not in SOURCES or not key:
        abort(400, _("Unknown source: choose catalog or metadata."))
    if not text:
        abort(400, _("The translation must not be empty."))
    if len(text) > MAX_TEXT:
        abort(400, _("The translation is too long."))
    known = {r["key"] for r in (catalog_rows() if source == "catalog" else metadata_rows(current_user.county_code))}
    if key not in known:
        abort(404)
    reviewed = request.form.get("reviewed") == "1"
    with dbmod.proxy.obj.atomic():
        last = (TranslationCorrection.select().where((TranslationCorrection.locale == review.LOCALE)
                                                     & (TranslationCorrection.source == source)
                                                     & (TranslationCorrection.key == key))
                .order_by(TranslationCorrection.version.desc()).first())
        row = TranslationCorrection.create(
            county_code=current_user.county_code or "", locale=review.LOCALE, source=source, key=key, text=text,
            reviewed=reviewed, version=(last.version + 1) if last else 1, actor=current_user.username)
        audit.record("translation.correct", f"{source}:{key[:200]}", actor=current_user.username,
                     role=current_user.role, county_code=current_user.county_code or "",
                     payload={"locale": review.LOCALE, "version": row.version, "text": text, "reviewed": reviewed,
                              "previous": last.text if last else None})
    flash(_("Saved: version %(n)s.", n=row.version))
    return redirect(url_for("translations.index", source=source, show=request.form.get("show", "unreviewed"),
                            q=request.form.get("q", ""), page=request.form.get("page", 1)))
