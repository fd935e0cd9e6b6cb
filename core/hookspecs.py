"""Every hook a Bangban plugin can implement, declared once.

Rules (see README "Plugins"):

* hooks are called with keyword arguments; an implementation takes only the
  arguments it needs, and hooks only ever grow by new arguments;
* ``register_*`` hooks contribute things through a ``register`` callback, so
  the core validates each entry as it arrives and can name the plugin that
  sent a bad one;
* nothing here depends on the order plugins were registered in: collections
  are merged by explicit rules (metadata packs by their ``overrides``), and
  the few first-result hooks say so.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("bangban")
hookimpl = pluggy.HookimplMarker("bangban")


# --- metadata -------------------------------------------------------------

@hookspec
def register_metadata_packs(register):
    """Fires when packs are collected (``metadata check|sync``, ``demo``).

    Call ``register(path)`` with the directory of each metadata pack the
    plugin ships. All results are used; merging follows the packs' own
    ``overrides`` declarations, never plugin order.
    """


@hookspec
def register_demo_packs(register):
    """Fires when ``bangban demo`` loads demo data. Call ``register(path,
    county="CODE")`` with the directory of a pack holding a county's demo
    regions, sites and staff (never synced outside the demo). All results
    are used; ``bangban demo --county CODE`` loads only that county's."""


@hookspec
def register_metadata_kinds(register):
    """Fires when the metadata schema registry is built.

    Call ``register(kind, schema_class, key="code")`` to add a new kind of
    metadata (a top-level YAML key). All results are used; a kind registered
    twice is an error naming both plugins.
    """


@hookspec
def register_plugin_settings(register):
    """Fires when the settings registry is built (admin, ``plugin_setting``).
    Call ``register(key, default=…, label=…, type="text"|"integer"|"boolean"|
    "choice", choices=[…])`` for each setting; county admins set values per
    scope and :func:`core.settings.get` resolves site → township → county →
    root → default. All results are used; keys are namespaced by plugin."""


# --- web ------------------------------------------------------------------

@hookspec
def register_blueprints(register):
    """Fires once in ``create_app``. Call ``register(blueprint)`` for each
    Flask blueprint the plugin serves. All results are used."""


@hookspec
def register_admin_views(admin, register):
    """Fires once in ``create_app`` after the admin is built. Call
    ``register(view)`` with Flask-Admin views. All results are used."""


@hookspec
def template_dirs():
    """Fires once in ``create_app``. Return a directory (or list of them)
    whose templates override the core's. The deployer's theme directory still
    comes first; use ``{% extends "default:NAME" %}`` to extend the core's
    original. All results are used."""


@hookspec
def static_dirs():
    """Fires once in ``create_app``. Return a directory of static files; it
    is served under ``/-/static-plugins/<plugin name>/``. All results are
    used."""


@hookspec
def translation_dirs():
    """Fires once in ``create_app``. Return a directory holding gettext
    catalogs (``<locale>/LC_MESSAGES/messages.mo``). Catalogs are merged; the
    core's own strings win over a plugin's for the same msgid. All results
    are used."""


@hookspec
def extra_template_vars(request):
    """Fires for every rendered template. Return a dict of extra variables;
    keys must be prefixed with the plugin's name plus ``_`` so that no plugin
    can shadow a page's own names. All results are used."""


@hookspec
def menu_links(request):
    """Fires when a page renders its top menu. Return a list of
    ``{"href": ..., "label": ...}`` links (label already translated). All
    results are used, in plugin-name order."""


@hookspec
def startup(app):
    """Fires at the end of ``create_app``, inside an app context. Return
    value ignored."""


# --- command line ---------------------------------------------------------

@hookspec
def register_commands(cli):
    """Fires when the ``bangban`` command is built. Add click commands to the
    ``cli`` group (``@cli.command()``). All results are used."""


# --- audit ----------------------------------------------------------------

@hookspec
def audit_recorded(entry):
    """Fires after an audit entry is written, inside the same transaction.
    Raising aborts the change. Return value ignored."""


# --- permissions ----------------------------------------------------------

@hookspec
def register_permissions(register):
    """Fires when the known permissions are listed (``metadata check``, the
    back office). Call ``register(code, label)`` for each permission the
    plugin checks with :func:`core.permissions.can`, so that roles may grant
    it. All results are used."""


@hookspec
def permission_allowed(actor, action, resource):
    """Fires on every :func:`core.permissions.can` decision. Return ``False``
    to deny, ``True`` to allow what the role does not grant, ``None`` for no
    opinion. Any ``False`` wins over every ``True``; a resource must still
    be in the actor's scope. All results are used."""


# --- cases (the domain) ---------------------------------------------------

@hookspec
def case_created(case, item, actor, data):
    """Fires inside the transaction that writes a new case (after its
    commission, first event and audit entry), so a plugin's own writes are
    atomic with it; raising aborts the whole submission. ``item`` is the
    item's metadata, ``data`` the validated form answers (personal numbers
    already protected). Return value ignored. All implementations run."""


@hookspec
def case_moved(case, transition, from_state, actor, inputs):
    """Fires inside the transaction of a workflow transition, after the
    case row, its event and audit entry are written; raising aborts the
    transition. ``transition`` is the :class:`core.cases.workflow.Transition`,
    ``inputs`` what it required. Return value ignored. All implementations
    run."""


@hookspec
def case_committed(case, action, from_state, actor):
    """Fires after the transaction of a case's creation (``action`` is
    ``"apply"``, ``from_state`` None) or transition has committed: for
    notifications and outbound messages (write them to the outbox in your
    own transaction; never let a failure here undo the case). Each
    plugin's implementation is called on its own: an exception is logged
    with the plugin's name, not raised, and the others still run. Return
    value ignored."""


@hookspec
def rating_recorded(case, rating, comment, channel, actor):
    """Fires inside the transaction that stores a rating (1–5; 1 and 2 are
    差评) of a case, after the case row is saved and before its event and
    audit entry; raising aborts the rating. ``channel`` says how it came:
    ``staff`` from the workflow's ``evaluate`` step, else one of
    :mod:`core.ratings`' channels (``qr`` from the receipt's QR code,
    ``track`` from the tracking page, ``paper`` a form staff entered on the
    applicant's behalf); ``actor`` is None for a citizen. Return value
    ignored."""


@hookspec
def sla_scan(day):
    """Fires in every SLA round (``bangban sla scan``,
    :func:`core.cases.service.sla_scan`) after the cases were scanned, so a
    plugin escalates what is overdue of its own (a 差评's rectification …).
    Do one idempotent round for ``day`` in your own transactions and return
    a dict of counts (keys prefixed by what they count) that is added to the
    scan's summary. All results are used."""


@hookspec
def demo_cases_loaded(county):
    """Fires in ``bangban demo`` after a county's demo cases were created
    (only when they were, so once), for a plugin to add its own demo data
    to them. Return value ignored."""


@hookspec(firstresult=True)
def case_deadline(case, item, start, days):
    """Fires when a case's deadline is computed (acceptance, resumption,
    extension, the due day of joint parts), in
    :func:`core.cases.service.deadline_days`. Return a different number of working days than ``days`` (the
    item's promised days plus extensions) to adjust it for a region, or None
    to keep it. The first non-None result wins."""


# --- forms ----------------------------------------------------------------

@hookspec
def prepare_form_spec(spec, item, county_code, locale):
    """Fires when an item's commission form spec is built for a county
    (once per item version, county and language: the result is cached).
    Change ``spec`` in place: add a field to a section, adjust a label, a
    ``pattern`` or a required flag (a field name must stay unique and a
    ``show_if`` must name fields of the form). Return value ignored. All
    implementations run; ``tryfirst``/``trylast`` order them."""


# --- registries -----------------------------------------------------------

@hookspec
def register_metrics(register):
    """Fires when the metric registry is built (reports, dashboards,
    ``bangban report``). Call ``register(code, label=…, unit="rate"|
    "count", levels=("site", "township", "county"), source="cases"|
    "catalog"|"sites")`` with one of:

    * ``numerator=fn()``, ``denominator=fn()``: peewee conditions on
      :class:`core.cases.models.Case` (the numerator counts the
      denominator's cases that also pass it; a count has no denominator).
      Preferred: the KPI report counts all such metrics for every township
      and site in one grouped scan, and a number's drill-down lists the
      cases behind it;
    * ``compute_by=fn(cases, period, scope, by)`` returning ``{key: (num,
      den)}`` grouped in SQL by the case fields ``by`` (``key`` the tuple
      of their values); with ``additive=True`` (counts of cases that add
      up, not distinct things) the report asks once, ``by`` township and
      site, and sums up the levels, else once per level;
    * ``compute=fn(cases, period, scope)`` returning ``(numerator,
      denominator)`` of one unit (the report calls it once per site,
      township and county: its statements grow with the units, so give a
      ``compute_by`` too; ``compute`` alone is for a handful of units).

    ``cases`` is a peewee query of the scoped cases filed in the period,
    ``period`` a ``(start, end)`` date pair or None, ``scope`` a dict
    naming the unit (``county_code``, ``level``, ``code``, and for a site
    its ``site_kind`` and ``site_level``). A ``source="catalog"`` metric
    measures the catalog, not the cases (item counts), a ``source="sites"``
    one the sites and their staff (agents posted, features); both are
    computed per unit from what they read once per report into
    ``scope["memo"]`` (a dict shared by all units and metrics of one
    report): a statement per unit there makes the report grow with the
    sites. A code registered twice is an error naming both plugins. All
    results are used."""


@hookspec
def register_compliance_criteria(register):
    """Fires when the compliance registry is built. Call ``register(code,
    label=…, check=fn)`` for each criterion a site standard may name as
    ``measure:``; ``fn(site, standard, requirement)`` returns
    ``("met"|"not_met"|"not_measurable", evidence_text)``. Criteria without
    a check are answered by the site with evidence and reviewed by the
    county. All results are used."""


@hookspec
def register_intake_channels(register):
    """Fires when the intake channels are listed (case form, KPIs, public
    directory). Call ``register(code, label=…, site_kinds=(…), roles=(…))``
    for each channel a case can come in through (window,
    comprehensive_window, bank, post, mobile, online, phone, home_visit).
    All results are used; a code registered twice is an error."""


@hookspec
def register_site_kinds(register):
    """Fires when the site kinds are listed (metadata schemas, the public
    directory). Call ``register(code, label=…, level="township"|"village"|
    "partner")`` for each kind of site (service_center, service_station,
    service_point, bank_branch, post_office …). All results are used."""


@hookspec
def register_languages(register):
    """Fires when the UI languages are listed. Call ``register(locale,
    name=…, direction="ltr"|"vertical-lr", script=…, font_css=url_or_None,
    month_names=[12], weekday_names=[7], date_format=…, font_preload=[urls],
    normalize_input=fn_or_None)``; a locale's own name is shown in its own
    language. ``font_css`` is linked on the language's own pages (its font
    and layout); ``script_css=url_or_None`` on every page, to draw the
    script wherever it appears (the language switcher, a name in the back
    office): a web font limited by ``unicode-range`` to the script.
    ``font_preload`` lists web fonts loaded before text renders;
    ``normalize_input(text) -> text`` rewrites every submitted form value
    (e.g. an input method's private-use code points to Unicode), whatever
    the page's language. All results are used; a locale registered twice is
    an error."""


@hookspec
def register_assessment_indicators(register):
    """Fires when the staff assessment (考核) registry is built. Call
    ``register(code, label=…, compute=fn, better="higher"|"lower")`` for
    each per-staff indicator; ``fn(staff_query, period)`` gets a peewee
    query of the scoped staff and a ``(start, end)`` date pair and returns
    ``{staff_id: number}`` (absent: 0). A region's weights (ruleset
    ``assessment.weights``) combine them into a score. All results are
    used; a code registered twice is an error."""


@hookspec
def register_jobs(register):
    """Fires when the periodic jobs are listed (``bangban jobs run``,
    ``/-/health``). Call ``register(code, label=…, run=fn, every=seconds)``;
    ``fn(app)`` does one idempotent round (safe to run twice at once) and
    returns a short summary dict. All results are used; a code registered
    twice is an error."""


@hookspec
def register_staffing_checks(register):
    """Fires when the staffing registry is built (the staffing coverage
    page, ``bangban report staffing``). Call ``register(code, label=…,
    check=fn)``; a region's ruleset names the check in its ``staffing:``
    list (``- {check: CODE, roles: […], min: N, …}``) and ``fn(county,
    requirement)`` returns the gaps, a list of ``{"region": division code,
    "place": text, "need": text, "have": number, "fill": text}`` (``fill``
    says who should fill the gap). All results are used; a code
    registered twice is an error."""


@hookspec
def register_outbox_targets(register):
    """Fires when the outbox's targets are listed (:mod:`core.outbox`:
    ``enqueue``, the worker, the back office). Call ``register(code,
    label=…, topics=("case.accepted", …), send=fn, enabled=fn)`` for each
    system messages go to. ``send(message)`` delivers one
    :class:`core.outbox.OutboxMessage` and raises on failure; without it
    the message is POSTed as JSON to the URL of the registering plugin's
    setting ``<code>_url`` with the bearer key of ``<code>_key`` (declare
    both with ``register_plugin_settings``) and its ``Idempotency-Key``.
    ``enabled(county_code)`` says whether a county sends to the target
    (default: the URL is set). All results are used; a code registered
    twice is an error naming both plugins."""
