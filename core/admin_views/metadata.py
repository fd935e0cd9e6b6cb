"""Back-office views over versioned metadata (items, departments, roles …).

Every save goes through ``store.save_entries``: the same marshmallow schemas
as the YAML packs, the same reference checks, a new version only when
something changed, one audit entry. Earlier versions stay readable.
"""
from __future__ import annotations

import re

import yaml
from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import catalog
from ..i18n import localized
# The metadata store, loader and schemas (a marshmallow schema for every kind) are imported when
# the back office first uses them, not at start-up.
from ..models import MetadataRecord
from ..permissions import can


def _store():
    from ..metadata import store

    return store


def _schemas():
    from ..metadata import schemas

    return schemas


def _invalid():
    from ..metadata.loader import MetadataInvalid

    return MetadataInvalid


def _yaml(data) -> str:
    return yaml.dump(data, Dumper=_store()._Dumper, allow_unicode=True, sort_keys=False, width=100)


class PermissionView(BaseView):
    permission = ""

    def is_accessible(self):
        return can(current_user, self.permission)


def writable_packs(user):
    """Packs holding the administrator's county's entries (national packs,
    such as the core's roles, are not theirs to change)."""
    query = (MetadataRecord.select(MetadataRecord.pack).distinct()
             .where(MetadataRecord.county_code == user.county_code))
    return sorted(r.pack for r in query)


def editable(record, user):
    return record.county_code == user.county_code


class MetadataKindView(PermissionView):
    """List, view (all versions), edit and create entries of one kind, as
    YAML validated by the kind's schema."""

    kind = ""
    list_template = "admin/bangban/metadata_list.html"
    edit_template = "admin/bangban/metadata_edit.html"

    def __init__(self, kind, permission, name, category=None, endpoint=None):
        self.kind, self.permission = kind, permission
        super().__init__(name=name, category=category, endpoint=endpoint or f"meta_{kind}", url=f"/admin/{kind}")

    def records(self):
        return list(catalog.all_current(self.kind, county=current_user.county_code))

    def find(self, q):
        """(rows shown, page or None): every entry of the kind matching ``q``."""
        q = q.lower()
        rows = self.records()
        if q:
            rows = [r for r in rows if q in r.key.lower() or q in _yaml(r.content.get("name", "")).lower()]
        return rows, None

    @expose("/")
    def index_view(self):
        q = (request.args.get("q") or "").strip()[:100]
        rows, page = self.find(q)
        sites = [(r.key, localized(r.content["name"])) for r in catalog.all_current("sites", county=current_user.county_code)
                 if editable(r, current_user)] if self.kind == "items" else []
        return self.render(self.list_template, rows=rows, page=page, kind=self.kind, q=q, title=self.name, sites=sites,
                           label=lambda r: localized(r.content.get("name") or r.content.get("code") or r.key),
                           editable=lambda r: editable(r, current_user))

    def _versions(self, key):
        return list(MetadataRecord.select().where((MetadataRecord.kind == self.kind) & (MetadataRecord.key == key)
                                                  & MetadataRecord.county_code.in_(["", current_user.county_code]))
                    .order_by(MetadataRecord.version.desc()))

    @expose("/edit/<key>", methods=["GET", "POST"])
    def edit_view(self, key):
        versions = self._versions(key)
        if not versions:
            return self.render("admin/bangban/not_found.html"), 404
        current = next((v for v in versions if v.current), versions[0])
        shown = current
        if request.args.get("version"):
            shown = next((v for v in versions if str(v.version) == request.args["version"]), current)
        text, errors = _yaml(shown.content), []
        if request.method == "POST":
            if not editable(current, current_user):
                return self.render("admin/bangban/not_found.html"), 404
            text = request.form.get("content", "")
            errors = self.save(text, current.pack, expected_key=key)
            if not errors:
                flash(_("Saved. Earlier versions stay readable."), "success")
                return redirect(url_for(".edit_view", key=key))
        return self.render(self.edit_template, kind=self.kind, key=key, text=text, errors=errors, versions=versions,
                           shown=shown, current=current, can_edit=editable(current, current_user),
                           packs=[current.pack], title=self.name), 400 if errors else 200

    @expose("/new", methods=["GET", "POST"])
    def create_view(self):
        packs = writable_packs(current_user)
        text, errors = "", []
        if request.method == "POST":
            text = request.form.get("content", "")
            pack = request.form.get("pack")
            if pack not in packs:
                errors = [("pack", _("Choose one of your county's packs."))]
            else:
                errors = self.save(text, pack, new=True)
            if not errors:
                data = yaml.safe_load(text)
                flash(_("Created."), "success")
                return redirect(url_for(".edit_view", key=str(data[_store().registered_kinds()[self.kind][1]])))
        return self.render(self.edit_template, kind=self.kind, key=None, text=text, errors=errors, versions=[],
                           shown=None, current=None, can_edit=True, packs=packs, title=self.name), \
            400 if errors else 200

    def save(self, text, pack, expected_key=None, new=False):
        """Validate and store; return ``[(key path, message)]`` errors."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            return [(f"line {mark.line + 1}" if mark else "", _("Malformed YAML: %(problem)s",
                                                                 problem=getattr(exc, "problem", exc)))]
        if not isinstance(data, dict):
            return [("", _("An entry is a mapping of keys to values."))]
        key_field = _store().registered_kinds()[self.kind][1]
        key = str(data.get(key_field, ""))
        if expected_key is not None and key != expected_key:
            return [(key_field, _("The code cannot be changed; create a new entry instead."))]
        if new and catalog.current(self.kind, key, county=current_user.county_code) is not None:
            return [(key_field, _("This code is already used."))]
        try:
            _store().save_entries([(self.kind, data, pack)], actor=current_user.username, role=current_user.role)
        except _invalid() as exc:
            return [(e.path, e.message) for e in exc.errors]
        return []


class ItemView(MetadataKindView):
    """Items get a structured form (materials inline) and a preview."""

    edit_template = "admin/bangban/item_edit.html"
    page_size = 50

    def find(self, q):
        """One page of the county's items, searched on the server (name in
        any language, code, department, pinyin): core.item_search."""
        from .. import item_search
        from ..hardening import int_arg

        depts = {r.key: r.content for r in catalog.all_current("departments", county=current_user.county_code)}
        page = item_search.search(q, county=current_user.county_code, departments=depts,
                                  offset=int_arg("offset", 0, high=1_000_000), limit=self.page_size)
        return page.records, page

    @expose("/bulk", methods=["POST"])
    def bulk_view(self):
        """Publish or withdraw many items at a level, or offer them at many
        sites, in one versioned change."""
        codes = request.form.getlist("code")
        action = request.form.get("action")
        records = [r for r in (catalog.current("items", c, county=current_user.county_code) for c in codes) if r and editable(r, current_user)]
        changes = []
        if action in ("publish", "withdraw"):
            level = request.form.get("level")
            if level not in ("county", "township", "village"):
                flash(_("Choose a level."), "error")
                return redirect(url_for(".index_view"))
            for r in records:
                levels = [lv for lv in r.content["levels"] if lv != level]
                if action == "publish":
                    levels = [lv for lv in ("county", "township", "village") if lv in levels or lv == level]
                changes.append(("items", {**r.content, "levels": levels}, r.pack))
        elif action == "assign_sites":
            sites = [catalog.current("sites", c, county=current_user.county_code) for c in request.form.getlist("site")]
            for site in [s for s in sites if s is not None and editable(s, current_user)]:
                items = list(dict.fromkeys([*site.content.get("items", []), *(r.key for r in records)]))
                changes.append(("sites", {**site.content, "items": items}, site.pack))
        if not changes:
            flash(_("Choose items and what to do with them."), "error")
            return redirect(url_for(".index_view"))
        try:
            counts = _store().save_entries(changes, actor=current_user.username, role=current_user.role)
        except _invalid() as exc:
            for error in exc.errors[:20]:
                flash(f"{error.path}: {error.message}", "error")
            return redirect(url_for(".index_view"))
        flash(_("%(n)d entries changed.", n=counts["changed"]), "success")
        return redirect(url_for(".index_view"))

    @expose("/preview/<key>")
    def preview_view(self, key):
        from ..cases.views import guide_field_set
        from ..forms import prepare_form_spec

        record = next((v for v in self._versions(key) if v.current), None)
        if record is None:
            return self.render("admin/bangban/not_found.html"), 404
        spec = prepare_form_spec(record.content, guide_field_set(current_user.county_code), current_user.county_code,
                                 locale=str(request.args.get("lang", "zh"))[:2])
        return self.render("admin/bangban/item_preview.html", spec=spec, item=record.content, title=self.name)

    @expose("/edit/<key>", methods=["GET", "POST"])
    def edit_view(self, key):
        if request.method == "POST" and request.form.get("structured"):
            current = catalog.current("items", key, county=current_user.county_code)
            if current is None or not editable(current, current_user):
                return self.render("admin/bangban/not_found.html"), 404
            return self._save_structured(dict(current.content), current.pack, key, current)
        return super().edit_view(key)

    @expose("/new", methods=["GET", "POST"])
    def create_view(self):
        packs = writable_packs(current_user)
        if request.method == "POST" and request.form.get("structured"):
            pack = request.form.get("pack")
            if pack not in packs:
                return self._render_structured({}, [("pack", _("Choose one of your county's packs."))], None,
                                               None, packs), 400
            return self._save_structured({}, pack, None, None)
        if request.method == "POST":
            return super().create_view()
        return self._render_structured({}, [], None, None, packs)

    def _render_structured(self, data, errors, key, current, packs):
        return self.render(self.edit_template, kind=self.kind, key=key, text=_yaml(data) if data else "",
                           errors=errors, versions=self._versions(key) if key else [], shown=current,
                           current=current, can_edit=True, packs=packs, title=self.name, draft=data,
                           departments=[(r.key, localized(r.content["name"])) for r in catalog.all_current("departments", county=current_user.county_code)],
                           field_types=_schemas().FIELD_TYPES, item_types=_schemas().ITEM_TYPES)

    def render(self, template, **kwargs):
        kwargs.setdefault("departments", [(r.key, localized(r.content["name"]))
                                          for r in catalog.all_current("departments", county=current_user.county_code)])
        kwargs.setdefault("field_types", _schemas().FIELD_TYPES)
        kwargs.setdefault("item_types", _schemas().ITEM_TYPES)
        kwargs.setdefault("item_kinds", _schemas().ITEM_KINDS)
        kwargs.setdefault("item_levels", _schemas().ITEM_LEVELS)
        kwargs.setdefault("material_forms", _schemas().MATERIAL_FORMS)
        return super().render(template, **kwargs)

    def _save_structured(self, data, pack, key, current):
        form = request.form
        if key is None:
            data["code"] = form.get("code", "").strip()
            if catalog.current("items", data["code"], county=current_user.county_code) is not None:
                return self._render_structured(data, [("code", _("This code is already used."))], None, None,
                                               writable_packs(current_user)), 400
        for name in ("department", "type"):
            if form.get(name):
                data[name] = form[name]
        for name in ("legal_basis", "conditions", "fee", "result", "location", "hours"):
            _set_text(data, name, form, name)
        phone = form.get("phone", "").strip()
        if phone:
            data["phone"] = phone
        else:
            data.pop("phone", None)
        data["name"] = text_from_form(form, "name", data.get("name")) or ""
        for name in ("promised_days", "legal_days"):
            raw = form.get(name, "").strip()
            if raw:
                try:
                    data[name] = float(raw) if "." in raw else int(raw)
                except ValueError:
                    data[name] = raw  # the schema reports it
            elif name == "legal_days":
                data.pop(name, None)
        levels = form.getlist("levels")
        data["levels"] = data["levels"] if set(levels) == set(data.get("levels") or ()) else levels
        data["kind"] = form.get("kind", data.get("kind"))
        for flag in ("online", "high_frequency", "delegated"):
            if form.get(flag) or flag in data:  # an absent flag stays absent
                data[flag] = bool(form.get(flag))
        data["materials"] = self._materials(form, data.get("materials") or [])
        fields = self._fields(form, data.get("fields") or [])
        if fields:
            data["fields"] = fields
        else:
            data.pop("fields", None)
        errors = self.save(_yaml(data), pack, expected_key=key, new=key is None)
        if errors:
            return self._render_structured(data, errors, key, current, [pack]), 400
        flash(_("Saved. Earlier versions stay readable."), "success")
        return redirect(url_for(".edit_view", key=key or data["code"]))

    @staticmethod
    def _materials(form, old_list):
        materials = []
        for i in range(int(form.get("material_rows", 0))):
            name = form.get(f"m{i}_name", "").strip()
            if not name or form.get(f"m{i}_delete"):
                continue
            old = old_list[i] if i < len(old_list) else {}
            m = dict(old)  # keeps what the form does not show (note …)
            m.update(name=text_from_form(form, f"m{i}_name", old.get("name")), form=form.get(f"m{i}_form", "original"))
            count = form.get(f"m{i}_count", "").strip()
            if count:
                m["count"] = int(count) if count.isdigit() else count
            else:
                m.pop("count", None)
            if form.get(f"m{i}_key") or "key" in old:
                m["key"] = bool(form.get(f"m{i}_key"))
            for extra in ("fill_instructions", "sample"):
                _set_text(m, extra, form, f"m{i}_{extra}")
            materials.append(m)
        return materials

    @staticmethod
    def _fields(form, old_list):
        """The item's own form fields: name, type, label, required,
        options (one per line or separated by 、/,), show_if."""
        fields = []
        for i in range(int(form.get("field_rows", 0))):
            name = form.get(f"f{i}_name", "").strip()
            if not name or form.get(f"f{i}_delete"):
                continue
            old = old_list[i] if i < len(old_list) else {}
            f = {k: v for k, v in old.items() if k not in ("required", "options", "show_if")}  # keeps help, required_if
            f.update(name=name, type=form.get(f"f{i}_type", "text"),
                     label=text_from_form(form, f"f{i}_label", old.get("label")) or name)
            if form.get(f"f{i}_required"):
                f["required"] = True
            options = [o.strip() for o in re.split(r"[\n、,，]", form.get(f"f{i}_options", "")) if o.strip()]
            if any(isinstance(o, dict) for o in old.get("options") or []):
                options = old["options"]  # labelled options are edited in the YAML view
            if options:
                f["options"] = options
            value = form.get(f"f{i}_show_if", "").strip()
            if value:
                f["show_if"] = value
            fields.append(f)
        return fields


def text_from_form(form, name, old):
    """Metadata text from the form's boxes: ``name`` holds the Chinese,
    ``name.mn`` and ``name.en`` the other languages. Each language is read
    from its own box only; a language whose box is not in the form keeps
    its old text. Chinese alone stays a plain string. ``None`` when empty."""
    previous = old if isinstance(old, dict) else ({"zh": old} if old else {})
    texts = dict(previous)
    for lang in _schemas().LANGS:
        box = name if lang == "zh" else f"{name}.{lang}"
        if box in form:
            texts[lang] = form.get(box, "").strip()
    texts = {lang: text for lang, text in texts.items() if text}
    if not texts:
        return None
    if set(texts) == {"zh"} and not isinstance(old, dict):
        return texts["zh"]
    return texts


def _set_text(data, key, form, name):
    value = text_from_form(form, name, data.get(key))
    if value:
        data[key] = value
    else:
        data.pop(key, None)


#: (kind, permission, menu name, category)
KIND_VIEWS = [
    ("departments", "catalog.manage", _l("Departments"), _l("Catalog")),
    ("guide_fields", "catalog.manage", _l("Guide fields"), _l("Catalog")),
    ("workflows", "catalog.manage", _l("Workflows"), _l("Catalog")),
    ("regions", "site.manage", _l("Regions"), _l("Sites")),
    ("sites", "site.manage", _l("Sites"), _l("Sites")),
    ("site_standards", "site.manage", _l("Site standards"), _l("Sites")),
    ("rulesets", "ruleset.manage", _l("Rule sets"), _l("Sites")),
    ("special_groups", "ruleset.manage", _l("Special groups (green channel)"), _l("Sites")),
    ("roles", "permission.manage", _l("Roles and duties"), _l("Staff")),
]


def views():
    out = [ItemView("items", "catalog.manage", _l("Items and guides"), _l("Catalog"))]
    out += [MetadataKindView(kind, perm, name, category) for kind, perm, name, category in KIND_VIEWS]
    return out
