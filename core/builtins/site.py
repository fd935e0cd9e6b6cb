"""The core metadata pack and the public pages (home, guides, plugins)."""
from __future__ import annotations

from ..hookspecs import hookimpl
from ..paths import METADATA


@hookimpl(trylast=True)
def register_metadata_packs(register):
    register(METADATA / "core")


@hookimpl
def register_blueprints(register):
    from ..web import bp

    register(bp)
