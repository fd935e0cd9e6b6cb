"""Checks across kinds that a schema alone cannot make: every item's form
must build (no field name clashes with the guide's applicant fields, every
``show_if``/``required_if`` a safe expression over known fields)."""
from __future__ import annotations

from pathlib import Path


def check_forms(catalog, errors):
    from ..forms import FormSpecError, build_form_spec
    from .loader import MetadataError, _line_of

    national = [e for e in catalog.entries("guide_fields") if catalog.tenant(e) == ""]
    guides = {}
    for ruleset in catalog.entries("rulesets"):
        county = catalog.tenant(ruleset)
        chosen = catalog.lookup("guide_fields", str(ruleset.data.get("guide_fields", "")), county)
        if county and chosen is not None:
            guides[county] = chosen.data
    default = national[0].data if national else next(iter(catalog.entries("guide_fields")), None)
    if default is None:
        return
    default = getattr(default, "data", default)
    items = catalog.kinds.get("items", {})
    # a reused item is unchanged, and so are the guides (a change to them reads everything)
    for entry in [items[key] for key in sorted(k for k, e in items.items() if not e.reused)]:
        guide = guides.get(catalog.tenant(entry), default)
        try:
            build_form_spec(entry.data, guide)
        except FormSpecError as exc:
            errors.append(MetadataError(entry.file, _line_of(Path(entry.file), ["items", entry.index, "fields"]),
                                        f"items[{entry.index}].fields", f"{entry.key}: {exc}"))


def check_roles(catalog, errors, known):
    """Every permission a role grants is one that code checks, and every
    role grants at least one; every transition needs a known permission."""
    from .loader import MetadataError, _line_of

    for entry in catalog.entries("roles"):
        if entry.reused:
            continue
        granted = entry.data.get("permissions") or []
        line = _line_of(Path(entry.file), ["roles", entry.index, "permissions"])
        if not granted:
            errors.append(MetadataError(entry.file, line, f"roles[{entry.index}].permissions",
                                        f"{entry.key}: the role grants no permission"))
        for i, permission in enumerate(granted):
            if permission not in known:
                errors.append(MetadataError(entry.file, _line_of(Path(entry.file), ["roles", entry.index, "permissions", i]),
                                            f"roles[{entry.index}].permissions[{i}]",
                                            f"{entry.key}: no code checks the permission {permission!r}"))
    for entry in catalog.entries("workflows"):
        if entry.reused:
            continue
        for i, transition in enumerate(entry.data.get("transitions", [])):
            if transition.get("permission") not in known:
                errors.append(MetadataError(entry.file, _line_of(Path(entry.file), ["workflows", entry.index, "transitions", i]),
                                            f"workflows[{entry.index}].transitions[{i}].permission",
                                            f"{entry.key}: no code checks the permission {transition.get('permission')!r}"))
