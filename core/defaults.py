"""The core's own hook implementations. Always registered, and ``trylast``
where a plugin may want to come first."""
from __future__ import annotations

from .hookspecs import hookimpl
from .paths import METADATA


@hookimpl(trylast=True)
def register_metadata_packs(register):
    register(METADATA / "core")


@hookimpl
def register_blueprints(register):
    from .web import bp as web_bp
    from .auth import bp as auth_bp

    register(web_bp)
    register(auth_bp)
