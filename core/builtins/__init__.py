"""The core's own features, as small plugins (as Datasette registers its
own through ``DEFAULT_PLUGINS``). They implement the same hooks as any
plugin and are always registered, under the names ``core.<module>``; the
plugins ``BANGBAN_PLUGINS`` selects come on top of them."""
from __future__ import annotations

import importlib

DEFAULT_PLUGINS = (
    "core.builtins.site",        # the core metadata pack, home and guides
    "core.builtins.catalog",     # the core metadata kinds and the back-office catalog
    "core.builtins.catalog_io",  # catalog import and export
    "core.builtins.accounts",    # sign-in and staff accounts
    "core.builtins.cases",       # case work: forms, case pages, tracking, the holiday calendar
    "core.builtins.ledger",      # the ledgers
    "core.builtins.backoffice",  # plugin settings, the audit log
    "core.builtins.registries",  # intake channels, site kinds, languages
    "core.builtins.metrics",     # on_time_rate, rating_coverage, satisfaction, online_rate
    "core.builtins.kpi",         # the KPI dashboard, the targets' status, `bangban report kpi|targets`
    "core.builtins.operations",  # backup, restore, transfer, keys, periodic jobs, /-/health, request logs
    "core.builtins.ratings",     # 好差评: ratings, the handling of 差评, the rating ledger
    "core.builtins.compliance",  # compliance criteria; the accounts: self-assessment, staffing, 考核, work log
    "core.builtins.hall",        # the public hall: site directory, appointments, home visits; green channel
    "core.builtins.channels",    # the token API, OpenAPI, the outbox and its targets
)


def register_builtins(pm):
    """Register every built-in plugin, so that without ``tryfirst`` they are
    called in the order listed (pluggy calls the last registered first)."""
    for dotted in reversed(DEFAULT_PLUGINS):
        pm.register(importlib.import_module(dotted), name="core." + dotted.rsplit(".", 1)[1])
