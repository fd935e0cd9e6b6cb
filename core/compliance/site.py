"""A site's self-assessment (达标自评) against every standard that applies
to it, the county's review, the gap report per site and the county summary.

Which standards apply: the one the site names (``standard:``) and each of
the county's rule sets' ``site_standards`` whose ``applies_to`` is the
site's kind. A requirement with a registered ``measure`` is computed from
the site's data (live; frozen into the assessment when it is submitted);
the others are answered by the site (met or not, a note, an evidence
file) and reviewed by the county.

Status of a requirement in the gap report (``compliance_status`` labels):
``met`` (measured met, or answered met and accepted by the county),
``pending`` (answered met, not reviewed yet), ``not_met`` (measured or
answered not met), ``rejected`` (the county did not accept the answer),
``unanswered`` (no answer, or measured but the data does not say). Every
status but ``met`` and ``pending`` is a gap.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from flask_babel import gettext as _

from .. import audit, catalog, personal, registry, sharding
from ..db import transaction
from ..i18n import localized
from ..models import Site, utcnow
from . import common
from .models import AssessmentAnswer, SiteAssessment

GAPS = ("not_met", "rejected", "unanswered")
STATUSES = ("met", "pending", "not_met", "rejected", "unanswered")


class ComplianceError(ValueError):
    """A refused action (shown to the person)."""


def standards_for(site) -> list[dict]:
    codes = [site.standard] if site.standard else []
    for ruleset in common.rulesets(site.county_code):
        for code in ruleset.get("site_standards") or ():
            record = catalog.current("site_standards", code, county=site.county_code)
            if record and record.content.get("applies_to") == site.kind and code not in codes:
                codes.append(code)
    out = []
    for code in codes:
        record = catalog.current("site_standards", code, county=site.county_code)
        if record:
            out.append(record.content)
    return out


def _measured(site, standard, requirement):
    entry = registry.compliance_criteria().get(requirement.get("measure") or "")
    return entry is not None and entry["check"] is not None


def latest(site, standard):
    return (SiteAssessment.select().where((SiteAssessment.county_code == site.county_code)
                                          & (SiteAssessment.site_code == site.code)
                                          & (SiteAssessment.standard == standard))
            .order_by(SiteAssessment.period.desc(), SiteAssessment.id.desc()).first())


def _answer_status(answer):
    if answer is None:
        return "unanswered"
    if answer.review == "rejected":
        return "rejected"
    if answer.status == "not_met":
        return "not_met"
    return "met" if answer.review == "accepted" else "pending"


def requirement_rows(site, standard, assessment=None, answers=None) -> list[dict]:
    """One row per requirement: ``standard``, ``category``, ``code``,
    ``name``, ``measured``, ``status``, ``evidence`` (text), ``file`` (the
    evidence file entry), ``review_note``. ``answers``: the assessment's
    answers by requirement, when already loaded."""
    if answers is None:
        answers = {a.requirement: a for a in assessment.answers} if assessment else {}
    rows = []
    for requirement in standard.get("requirements") or ():
        row = {"standard": standard["code"], "standard_name": localized(standard["name"]),
               "category": localized(requirement.get("category")) if requirement.get("category") else "",
               "code": requirement["code"], "name": localized(requirement["name"]), "file": None,
               "review_note": "", "answer": None}
        measured = _measured(site, standard, requirement)
        status = None
        if measured:
            status, evidence = registry.check_site(site, standard, requirement)
            row["evidence"] = str(evidence)
            if status == "not_measurable":
                status = None  # the site answers it
        answer = answers.get(requirement["code"])
        row["measured"] = status is not None
        if status is None:
            status = _answer_status(answer)
            if answer is not None:
                row["evidence"] = personal.masked_text(answer.note, "assessment_answer.note")
                row["file"] = answer.evidence
                row["review_note"] = personal.masked_text(answer.review_note, "assessment_answer.review_note")
                row["answer"] = answer
            else:
                row.setdefault("evidence", "")
        row["status"] = status
        rows.append(row)
    return rows


def gap_report(site, loaded=None) -> list[dict]:
    """Per standard: ``{"standard", "assessment", "rows", "counts"}``.
    ``loaded``: ``{(site, standard): (latest assessment, answers)}`` read
    beforehand for many sites."""
    out = []
    for standard in standards_for(site):
        if loaded is not None:
            assessment, answers = loaded.get((site.code, standard["code"]), (None, {}))
        else:
            assessment, answers = latest(site, standard["code"]), None
        rows = requirement_rows(site, standard, assessment, answers)
        counts = {s: sum(1 for r in rows if r["status"] == s) for s in STATUSES}
        out.append({"standard": standard, "assessment": assessment, "rows": rows, "counts": counts,
                    "gaps": sum(counts[s] for s in GAPS)})
    return out


def county_report(county: str, area: str = "") -> tuple[list[dict], list[dict]]:
    """``(summary, gaps)`` of the sites of the area, in one pass.

    A summary row per site and standard: ``site``, ``site_name``, ``kind``,
    ``standard``, each status count, ``gaps``, ``period`` and ``state`` of
    the latest assessment. A gap row per requirement not met, rejected or
    unanswered (the export and the command line)."""
    summary, gaps = [], []
    loaded = {}
    for a in SiteAssessment.select().where(SiteAssessment.county_code == county) \
            .order_by(SiteAssessment.period, SiteAssessment.id):
        loaded[(a.site_code, a.standard)] = (a, {})  # the last one wins: the latest period
    by_id = {a.id: answers for a, answers in loaded.values()}
    for answer in AssessmentAnswer.select().where((AssessmentAnswer.county_code == county)
                                                  & AssessmentAnswer.assessment.in_(list(by_id))):
        by_id[answer.assessment_id][answer.requirement] = answer
    for site in Site.select().where((Site.county_code == county) & Site.region.startswith(area)) \
            .order_by(Site.region, Site.code):
        name = localized(site.name)
        for part in gap_report(site, loaded):
            a = part["assessment"]
            summary.append({"site": site.code, "site_name": name, "kind": site.kind, "region": site.region,
                            "standard": part["standard"]["code"],
                            "standard_name": localized(part["standard"]["name"]), **part["counts"],
                            "gaps": part["gaps"], "period": a.period if a else "", "state": a.state if a else ""})
            for r in part["rows"]:
                if r["status"] in GAPS:
                    gaps.append({"site": site.code, "site_name": name, "standard_name": r["standard_name"],
                                 "category": r["category"], "requirement": r["name"], "status": r["status"],
                                 "evidence": r.get("evidence", "")})
    return summary, gaps


def county_summary(county: str, area: str = "") -> list[dict]:
    return county_report(county, area)[0]


def gap_rows(county: str, area: str = "") -> list[dict]:
    return county_report(county, area)[1]


# --- the assessment's life: start, answer, submit, review ---------------------

def _audit(action, assessment, actor, **payload):
    audit.record(action, f"site_assessment:{assessment.id}", actor=actor.username, role=actor.role,
                 county_code=assessment.county_code, payload={"site": assessment.site_code,
                                                              "standard": assessment.standard, **payload})


def start(site, standard_code, period_text, actor):
    period_text = (period_text or "").strip()
    import re

    if not re.fullmatch(r"20\d\d(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?", period_text):
        raise ComplianceError(_("A period is a year (2026), a month (2026-03), a quarter (2026-Q1) or a half "
                                "year (2026-H1)."))
    if standard_code not in {s["code"] for s in standards_for(site)}:
        raise ComplianceError(_("This standard does not apply to this site."))
    with transaction():
        existing = SiteAssessment.get_or_none((SiteAssessment.county_code == site.county_code)
                                              & (SiteAssessment.site_code == site.code)
                                              & (SiteAssessment.standard == standard_code)
                                              & (SiteAssessment.period == period_text))
        if existing:
            return existing
        assessment = SiteAssessment.create(county_code=site.county_code, site_code=site.code,
                                           standard=standard_code, period=period_text, state="draft",
                                           created_by=actor.id)
        _audit("compliance.start", assessment, actor, period=period_text)
    return assessment


def _requirement(site, assessment, code):
    for standard in standards_for(site):
        if standard["code"] == assessment.standard:
            for requirement in standard.get("requirements") or ():
                if requirement["code"] == code:
                    return standard, requirement
    raise ComplianceError(_("No such requirement in this standard."))


def store_evidence(upload, folder):
    """Save an evidence file (JPEG, PNG or PDF, at most 10 MB) by content
    hash, as the case uploads are; ``None`` without a file."""
    from ..forms.validators import sniff_file_type

    if upload is None or not getattr(upload, "filename", ""):
        return None
    content = upload.read(10 * 2**20 + 1)
    if not content:
        raise ComplianceError(_("The file is empty."))
    if len(content) > 10 * 2**20:
        raise ComplianceError(_("The file is larger than %(mb)s MB.", mb=10))
    kind = sniff_file_type(content[:16])
    if kind not in ("jpeg", "png", "pdf"):
        raise ComplianceError(_("Only PDF, JPEG or PNG files are accepted."))
    digest = hashlib.sha256(content).hexdigest()
    target = Path(folder) / f"{digest}.{kind}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.write_bytes(content)
    return {"name": personal.protect_text(upload.filename[:200], "assessment_answer.file_name"), "type": kind,
            "size": len(content), "sha256": digest}


def answer(site, assessment, code, status, note, evidence, actor):
    if assessment.state != "draft":
        raise ComplianceError(_("A submitted assessment cannot be changed."))
    if status not in ("met", "not_met"):
        raise ComplianceError(_("Say whether the requirement is met."))
    standard, requirement = _requirement(site, assessment, code)
    if _measured(site, standard, requirement) and \
            registry.check_site(site, standard, requirement)[0] != "not_measurable":
        raise ComplianceError(_("This requirement is computed from the site's data."))
    note = personal.protect_text((note or "").strip()[:2000], "assessment_answer.note")
    with transaction():
        row = AssessmentAnswer.get_or_none(sharding.of(AssessmentAnswer.assessment, assessment)
                                           & (AssessmentAnswer.requirement == code))
        fields = dict(status=status, note=note, answered_by=actor.id, updated_at=utcnow(), review=None,
                      review_note="")
        if evidence is not None:
            fields["evidence"] = evidence
        if row is None:
            AssessmentAnswer.create(county_code=assessment.county_code, assessment=assessment, requirement=code,
                                    **fields)
        else:
            AssessmentAnswer.update(**fields).where((AssessmentAnswer.id == row.id)
                                                    & (AssessmentAnswer.county_code == row.county_code)).execute()
        _audit("compliance.answer", assessment, actor, requirement=code, status=status,
               evidence=(evidence or {}).get("sha256"))


def submit(site, assessment, actor):
    if assessment.state != "draft":
        raise ComplianceError(_("This assessment is already submitted."))
    measured = {}
    for standard in standards_for(site):
        if standard["code"] == assessment.standard:
            for r in requirement_rows(site, standard, assessment):
                if r["measured"]:
                    measured[r["code"]] = [r["status"], r.get("evidence", "")]
    with transaction():
        SiteAssessment.update(state="submitted", submitted_at=utcnow(), measured=measured).where(
            (SiteAssessment.id == assessment.id) & (SiteAssessment.county_code == assessment.county_code)
            & (SiteAssessment.state == "draft")).execute()
        _audit("compliance.submit", assessment, actor, measured=len(measured))


def review(assessment, decisions: dict, note, actor):
    """``decisions``: ``{requirement: ("accepted"|"rejected", note)}`` for
    the answers; an answer left out stays unreviewed."""
    if assessment.state != "submitted":
        raise ComplianceError(_("Only a submitted assessment can be reviewed."))
    answers = {a.requirement: a for a in assessment.answers}
    for code, (verdict, _note) in decisions.items():
        if code not in answers or verdict not in ("accepted", "rejected"):
            raise ComplianceError(_("Accept or reject each answer of this assessment."))
    with transaction():
        for code, (verdict, text) in decisions.items():
            AssessmentAnswer.update(review=verdict, review_note=personal.protect_text(
                (text or "").strip()[:2000], "assessment_answer.review_note")).where(
                (AssessmentAnswer.id == answers[code].id)
                & (AssessmentAnswer.county_code == assessment.county_code)).execute()
        SiteAssessment.update(state="reviewed", reviewed_by=actor.id, reviewed_at=utcnow(),
                              review_note=personal.protect_text((note or "").strip()[:2000],
                                                                "site_assessment.review_note")).where(
            (SiteAssessment.id == assessment.id) & (SiteAssessment.county_code == assessment.county_code)
            & (SiteAssessment.state == "submitted")).execute()
        _audit("compliance.review", assessment, actor,
               decisions={code: verdict for code, (verdict, _n) in decisions.items()})
