"""The ledgers (台账) of cases."""
from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_blueprints(register):
    from ..cases.ledger import bp

    register(bp)
