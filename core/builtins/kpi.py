"""The KPI dashboard (county → township → site → the cases behind a
number), its print view, and ``bangban report kpi|targets``: all read
:mod:`core.kpi`, so the page and the command print the same numbers."""
from __future__ import annotations

import io
import json

import click
from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from .. import kpi as kpimod
from ..hookspecs import hookimpl
from ..i18n import label, localized
from ..permissions import can, require

bp = Blueprint("kpi", __name__)


@bp.app_template_global("metric_label")
def metric_label(code):
    from .. import registry

    entry = registry.metrics().get(code)
    return str(entry["label"]) if entry else code


def _period():
    try:
        return kpimod.parse_period(request.args.get("from"), request.args.get("to"))
    except kpimod.ReportError:
        abort(400, description=_("Give the period as dates (YYYY-MM-DD), the start before the end."))


def _reports(period):
    report = kpimod.kpi(current_user.county_code, period, current_user)
    return report, kpimod.targets(current_user.county_code, period, current_user, report=report)


def _chart_data(report, level, township=None, targets=None):
    """Per metric: the units of ``level`` (of ``township``) and their values,
    for the bar charts, with the rule sets' minimums for the metric."""
    rows = [u for u in report["units"] if u["level"] == level and (township is None or u["township"] == township)]
    charts = []
    for metric in report["metrics"]:
        if level not in metric["levels"]:
            continue
        values = [u["values"][metric["code"]]["value"] for u in rows]
        if metric["unit"] == "rate":
            values = [round(v * 100, 1) if v is not None else None for v in values]
        scale = 100 if metric["unit"] == "rate" else 1
        minimums = sorted({t["min"] * scale for t in (targets or {}).get("targets", [])
                           if t["metric"] == metric["code"] and t["min"] is not None})
        charts.append({"code": metric["code"], "label": metric["label"], "unit": metric["unit"],
                       "names": [kpimod.name_of(u) for u in rows], "values": values, "minimums": minimums})
    return charts


def _page(level, unit, report, targets, period, township=None):
    period_args = {"from": period[0].isoformat(), "to": period[1].isoformat()}

    def drill_url(metric, part, row):
        where = {"township": row["code"]} if row["level"] == "township" else (
            {"site": row["code"]} if row["level"] == "site" else {})
        return url_for("cases.list_cases", metric=metric, part=part, **where, **period_args)

    return render_template("reports/kpi.html", level=level, unit=unit, report=report, targets=targets,
                           period=period, period_args=period_args, township=township, drill_url=drill_url,
                           charts=_chart_data(report, "township" if level == "county" else "site",
                                              None if level == "county" else unit["code"], targets),
                           fmt=kpimod.fmt, name_of=kpimod.name_of)


@bp.route("/reports/kpi")
@login_required
def county():
    require("report.read")
    period = _period()
    report, targets = _reports(period)
    return _page("county", report["units"][0], report, targets, period)


@bp.route("/reports/kpi/township/<code>")
@login_required
def township(code):
    require("report.read")
    period = _period()
    report, targets = _reports(period)
    unit = next((u for u in report["units"] if u["level"] == "township" and u["code"] == code), None)
    if unit is None:
        abort(404)
    return _page("township", unit, report, targets, period, township=code)


@bp.route("/reports/kpi/site/<code>")
@login_required
def site(code):
    require("report.read")
    period = _period()
    report, targets = _reports(period)
    unit = next((u for u in report["units"] if u["level"] == "site" and u["code"] == code), None)
    if unit is None:
        abort(404)
    return _page("site", unit, report, targets, period, township=unit["township"])


@bp.route("/reports/kpi/print")
@login_required
def print_view():
    require("report.read")
    period = _period()
    report, targets = _reports(period)
    return render_template("reports/kpi_print.html", report=report, targets=targets, period=period,
                           fmt=kpimod.fmt, name_of=kpimod.name_of)


@hookimpl
def register_blueprints(register):
    register(bp)


@hookimpl
def menu_links(request):
    from ..permissions import menu_links_for

    return menu_links_for([("report.read", "kpi.county", _l("Dashboard"))])


# --- the command line ---------------------------------------------------------------

def _text(value):
    return localized(value) if isinstance(value, dict) else ("" if value is None else str(value))


def _kpi_rows(report):
    """The table of ``report kpi``: one row per unit, a column per metric."""
    head = [_("Level"), _("Code"), _("Name")] + [m["label"] for m in report["metrics"]]
    rows = []
    for unit in report["units"]:
        cells = [_("Site") if unit["level"] == "site" else label("level", unit["level"]), unit["code"],
                 kpimod.name_of(unit)]
        for metric in report["metrics"]:
            cell = unit["values"][metric["code"]]
            text = kpimod.fmt(cell["value"], metric["unit"])
            if metric["unit"] == "rate":
                text += f" ({cell['num']}/{cell['den']})"
            cells.append(text)
        rows.append(cells)
    return head, rows


def _targets_rows(targets):
    head = [_("Rule set"), _("Metric"), _("Level"), _("Minimum"), _("Due"), _("Measured"), _("Gap"), _("Status"),
            _("Units")]
    rows = []
    for t in targets["targets"]:
        unit = t["unit"] or "count"
        counts = ", ".join(f"{label('target_status', s)} {n}" for s, n in t["counts"].items())
        rows.append([t["ruleset"], t["label"] or t["metric"], label("level", t["level"]),
                     kpimod.fmt(t["min"], unit) if t["min"] is not None else "",
                     t["due"] or "", kpimod.fmt(t["value"], unit), kpimod.fmt(t["gap"], unit) if t["gap"] is not None
                     else "—", label("target_status", t["status"]), counts])
    return head, rows


def _print_table(head, rows):
    from unicodedata import east_asian_width

    def width(text):
        return sum(2 if east_asian_width(c) in "WF" else 1 for c in str(text))

    widths = [max(width(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        click.echo("  ".join(str(c) + " " * (w - width(c)) for c, w in zip(row, widths)).rstrip())


def _json_ready(data):
    return json.loads(json.dumps(data, default=str, ensure_ascii=False))


def _xlsx(head, rows, title, path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(head)
    for row in rows:
        sheet.append(row)
    book.save(path)


def _run(ctx, kind, county, start, end, fmt_, output, lang):
    from flask_babel import force_locale

    from ..cli import _fail

    with ctx.app.app_context(), ctx.app.test_request_context(), force_locale(lang):
        try:
            period = kpimod.parse_period(start, end)
            report = kpimod.kpi(county, period)
            data = report if kind == "kpi" else kpimod.targets(county, period, report=report)
        except kpimod.ReportError as exc:
            _fail(f"report {kind}: {exc}", 2)
        if fmt_ == "json":
            click.echo(json.dumps(_json_ready(data), ensure_ascii=False, indent=2))
            return
        head, rows = _kpi_rows(data) if kind == "kpi" else _targets_rows(data)
        if fmt_ == "xlsx":
            path = output or f"{kind}-{county}-{data['period'][0]}-{data['period'][1]}.xlsx"
            _xlsx(head, rows, kind, path)
            click.echo(path)
            return
        click.echo(f"{county} {data['period'][0]} – {data['period'][1]}")
        _print_table(head, rows)


def _options(fn):
    fn = click.option("--lang", default="zh_Hans_CN", show_default=True, help="Language of the labels.")(fn)
    fn = click.option("--output", "-o", type=click.Path(dir_okay=False), help="File for --format xlsx.")(fn)
    fn = click.option("--format", "fmt_", type=click.Choice(["table", "json", "xlsx"]), default="table",
                      show_default=True)(fn)
    fn = click.option("--to", "end", metavar="DATE", help="Last filing day (default today).")(fn)
    fn = click.option("--from", "start", metavar="DATE", help="First filing day (default a year before --to).")(fn)
    fn = click.option("--county", required=True, metavar="CODE", help="The county's division code.")(fn)
    return fn


@hookimpl
def register_commands(cli):
    from ..cli import pass_ctx

    report = cli.commands["report"]

    @report.command("kpi")
    @_options
    @pass_ctx
    def report_kpi(ctx, county, start, end, fmt_, output, lang):
        """Every metric for the county, its townships and sites (the JSON
        gives each with its numerator and denominator)."""
        _run(ctx, "kpi", county, start, end, fmt_, output, lang)

    @report.command("targets")
    @_options
    @pass_ctx
    def report_targets(ctx, county, start, end, fmt_, output, lang):
        """Every target of the county's rule sets: met, on track, behind or
        missed, with the value and the gap, per unit and rolled up."""
        _run(ctx, "targets", county, start, end, fmt_, output, lang)

