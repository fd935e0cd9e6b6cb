"""What was filled in for a case: its form answers, labelled with the item
version's form spec, and its uploaded scans — for every role that may read
the case. Personal numbers are shown through :func:`core.personal.shown`
(masked unless this request took the audited reveal action)."""
from __future__ import annotations

from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from .. import catalog, personal
from ..forms import prepare_form_spec
from ..forms.spec import spec_fields
from ..i18n import localized
from ..models import Region

FILE_TYPES = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}
CONTEXT = "cases.data"


def _fields(case, lang):
    """[(name, label, type, options)] of the case's item version (cached:
    item versions never change)."""
    from .views import guide_field_set

    def build():
        spec = prepare_form_spec(case.item_record.content, guide_field_set(case.county_code), case.county_code,
                                 locale=lang)
        return tuple((f["name"], f["label"], f["type"], tuple((str(o["value"]), o["label"]) for o in f["options"]))
                     for f in spec_fields(spec))

    return catalog.cached("answer_labels", (case.item_record_id, case.county_code, lang), build)


def _text(name, kind, options, value):
    context = f"{CONTEXT}.{name}"
    if kind == "yes_no" and isinstance(value, bool):
        return _("Yes") if value else _("No")
    labels = dict(options)
    if kind == "choice" and str(value) in labels:
        return labels[str(value)]
    if kind == "multi_choice" and isinstance(value, list):
        return "、".join(labels.get(str(v)) or str(personal.shown(v, context)) for v in value)
    if kind == "division" and isinstance(value, str):
        region = Region.get_or_none(Region.code == value)
        if region is not None:
            return localized(region.name)
    shown = personal.shown(value, context)
    return "、".join(str(v) for v in shown) if isinstance(shown, list) else str(shown)


def is_file(value) -> bool:
    return isinstance(value, dict) and isinstance(value.get("sha256"), str) and value.get("type") in FILE_TYPES


def answers(case, lang):
    """``(answers, files)``: answers as ``[{"name", "label", "text"}]`` in
    form order (then any key the spec no longer names); files as ``[{"name",
    "label", "file_name", "type", "size", "sha256"}]``."""
    data = dict(case.data or {})
    rows, files = [], []
    known = []
    for name, label, kind, options in _fields(case, lang):
        if kind == "material" or name not in data:
            continue
        known.append((name, label, kind, options))
    named = {name for name, *_rest in known}
    known += [(name, name, "text", ()) for name in data if name not in named and not name.startswith("material_")]
    for name, label, kind, options in known:
        value = data[name]
        if value in (None, "", []):
            continue
        if is_file(value):
            files.append({"name": name, "label": label, "type": value["type"], "size": value.get("size"),
                          "sha256": value["sha256"],
                          "file_name": personal.shown(value.get("name") or "", f"{CONTEXT}.{name}.name")})
        else:
            rows.append({"name": name, "label": label, "text": _text(name, kind, options, value)})
    return rows, files


def find_file(case, sha256):
    """``(path, entry, field name)`` of the case's upload with this content
    hash, or ``None``: only files the case itself holds are served."""
    for name, value in (case.data or {}).items():
        if is_file(value) and value["sha256"] == sha256:
            folder = Path(current_app.config["BANGBAN"]["DATA_DIR"]) / "uploads"
            path = folder / f"{sha256}.{value['type']}"
            return (path, value, name) if path.is_file() else None
    return None
