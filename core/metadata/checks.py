"""Checks across kinds that a schema alone cannot make: every item's form
must build (no field name clashes with the guide's applicant fields, every
``show_if``/``required_if`` a safe expression over known fields)."""
from __future__ import annotations

from pathlib import Path


def check_forms(catalog, errors):
    from ..forms import FormSpecError, build_form_spec
    from .loader import MetadataError, _line_of

    guide_sets = catalog.entries("guide_fields")
    if not guide_sets:
        return
    guide = guide_sets[0].data
    for entry in catalog.entries("items"):
        try:
            build_form_spec(entry.data, guide)
        except FormSpecError as exc:
            errors.append(MetadataError(entry.file, _line_of(Path(entry.file), ["items", entry.index, "fields"]),
                                        f"items[{entry.index}].fields", f"{entry.key}: {exc}"))
