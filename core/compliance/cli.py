"""``bangban report compliance|staffing|assessment``: what the pages show,
for a whole county (the command line reads every site and staff member of
it), as a table, JSON or an Excel file."""
from __future__ import annotations

import json
import sys

import click


def _fail(message):
    click.echo(message, err=True)
    sys.exit(2)


def _emit(title, headers, rows, fmt, output):
    """``rows``: lists of cell values in the order of ``headers``."""
    if fmt == "json":
        click.echo(json.dumps([dict(zip(headers, r)) for r in rows], ensure_ascii=False, indent=1, default=str))
    elif fmt == "xlsx":
        from openpyxl import Workbook

        if not output:
            _fail("--format xlsx needs --output FILE")
        book = Workbook()
        sheet = book.active
        sheet.title = title[:31]
        sheet.append(headers)
        for r in rows:
            sheet.append(r)
        book.save(output)
        click.echo(f"{len(rows)} rows written to {output}")
    else:
        widths = [max([len(str(h))] + [len(str(r[i])) for r in rows]) for i, h in enumerate(headers)]
        click.echo("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)))
        for r in rows:
            click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def _options(func):
    func = click.option("--output", "-o", type=click.Path(dir_okay=False), help="the file for --format xlsx")(func)
    func = click.option("--format", "fmt", type=click.Choice(["table", "json", "xlsx"]), default="table",
                        show_default=True)(func)
    func = click.option("--to", "end", metavar="DATE", help="last day of the period (default today)")(func)
    func = click.option("--from", "start", metavar="DATE", help="first day (default the 1st of this month)")(func)
    func = click.option("--county", required=True, metavar="CODE", help="the county's 6-digit division code")(func)
    return func


def _context(county):
    from ..cli import Context

    if not (len(county) == 6 and county.isdigit()):
        _fail(f"bangban report: not a county code: {county!r}")
    return click.get_current_context().ensure_object(Context)


@click.command("compliance")
@_options
def compliance_cmd(county, start, end, fmt, output):
    """Site compliance: per site and standard, the requirements met, awaiting
    review, not met, rejected and unanswered (the county summary page);
    with --format json also every gap."""
    from ..i18n import label
    from . import site
    from .views import SUMMARY_COLUMNS

    ctx = _context(county)
    with ctx.app.test_request_context():
        rows = site.county_summary(county)
        headers = ["site", "standard"] + [k for k, _h in SUMMARY_COLUMNS]
        body = [[label("assessment_state", r[k]) if k == "state" else r[k] for k in headers] for r in rows]
    _emit("compliance", headers, body, fmt, output)


@click.command("staffing")
@_options
def staffing_cmd(county, start, end, fmt, output):
    """Staffing gaps: what each requirement of the county's rule set misses
    and who should fill it (the staffing page)."""
    from . import staffing

    ctx = _context(county)
    with ctx.app.test_request_context():
        rows = staffing.report(county)
        headers = ["check"] + [k for k, _h in staffing.COLUMNS]
        body = [[r[k] for k in headers] for r in rows]
    _emit("staffing", headers, body, fmt, output)


@click.command("assessment")
@_options
def assessment_cmd(county, start, end, fmt, output):
    """Staff assessment: each assessed person's indicators, score, rank and
    bottom flag for the period (the assessment page)."""
    from . import assessment, common

    ctx = _context(county)
    with ctx.app.test_request_context():
        try:
            period = common.period(start, end)
        except common.ReportError as exc:
            _fail(f"bangban report assessment: {exc}")
        result = assessment.assess(county, period)
        headers = ["rank", "username", "name", "role", *result["indicators"], "score", "bottom", "note"]
        body = [[r[k] for k in headers] for r in result["rows"]]
    _emit("assessment", headers, body, fmt, output)


COMMANDS = (compliance_cmd, staffing_cmd, assessment_cmd)
