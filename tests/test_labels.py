"""No raw code and no untranslated interface text on any page.

Every staff, public and back-office page of the demo county is rendered
(each relevant role signed in; pages found by following the links of the
pages, plus the case pages of every demo case) in each language. The
visible text (tags and attributes stripped; button texts and placeholders
kept; YAML editors and <code> left out) must contain

* no code of a vocabulary (workflow states and steps, roles, item types and
  kinds, levels, material kinds, field types, channels, step inputs, …) —
  in English pages only the codes that no English text contains (with "_");
* in Chinese and Mongolian pages, no English text of the interface's own
  catalogs (ours, Flask-Admin's, WTForms').

This test renders some thousand pages, so it runs on SQLite only (the
rendering does not depend on the database; the other tests cover both).
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from babel.messages.pofile import read_po

from core.metadata.schemas import CHANNELS, FIELD_TYPES, ITEM_KINDS, ITEM_TYPES, LEVELS, MATERIAL_FORMS, SITE_KINDS
from core.models import MetadataRecord
from tests.helpers import sign_in

LANGS = ("zh_Hans_CN", "mn_Mong_CN", "en")
ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("reason", "note", "missing_materials", "missing_material", "promise_due", "joint", "delivery", "rating")
EVENTS = ("complete_part", "urge", "extend", "reassign_owner", "reassign_assignee", "escalate", "supply_material",
          "handover")
DELIVERY = ("pickup", "door")
HOLIDAYS = ("holiday", "workday", "package")


class Visible(HTMLParser):
    """The text a reader sees."""

    HIDDEN = {"script", "style", "textarea", "code", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in self.HIDDEN:
            self.hidden += 1
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.parts.append(a["value"])
        if a.get("placeholder"):
            self.parts.append(a["placeholder"])

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible(html):
    parser = Visible()
    parser.feed(html)
    return " | ".join(p.strip() for p in parser.parts if p.strip())


def _msgids(path, domain_ids=None):
    with open(path, "rb") as f:
        catalog = read_po(f)
    out = set()
    for message in catalog:
        for text in (message.id if isinstance(message.id, tuple) else (message.id,)):
            # the literal parts of a message, each long enough to be English
            for part in re.split(r"%\(\w+\)[sd]|%[sd]", text):
                part = part.strip(" :.,()")
                if re.search(r"[A-Za-z]{3,}", part) and len(part) >= 4:
                    out.add(part)
    return out


def ui_msgids():
    import flask_admin
    import wtforms

    ours = _msgids(ROOT / "locales" / "messages.pot")
    admin = _msgids(Path(flask_admin.__file__).parent / "translations" / "en" / "LC_MESSAGES" / "admin.po")
    forms = _msgids(Path(wtforms.__file__).parent / "locale" / "wtforms.pot")
    # product and standard names that stay in Latin letters in every language
    return (ours | admin | forms) - {"Bangban", "TOTP", "Excel", "CSV", "YAML", "English"}


def vocabulary(app):
    codes = set(ITEM_TYPES) | set(ITEM_KINDS) | set(LEVELS) | set(MATERIAL_FORMS) | set(FIELD_TYPES) \
        | set(CHANNELS) | set(SITE_KINDS) | set(INPUTS) | set(EVENTS) | set(DELIVERY) | set(HOLIDAYS)
    with app.app_context():
        for record in MetadataRecord.select().where(MetadataRecord.kind.in_(["workflows", "roles"])
                                                     & MetadataRecord.current):
            if record.kind == "roles":
                codes.add(record.key)
            else:
                codes |= {s["code"] for s in record.content["states"]}
                codes |= {t["code"] for t in record.content["transitions"]}
                codes |= {s.get("step") for s in record.content["states"] if s.get("step")}
    return codes


def _word(code):
    # a code inside an identifier (county.admin, 150626-rsj-013) is not the code
    return re.compile(rf"(?<![A-Za-z0-9_.\-]){re.escape(code)}(?![A-Za-z0-9_.\-])")


SKIP = ("/sign-out", "/sign-in", "/account/language", "/-/static", "/static", "/admin/static", "export",
        "/-/theme")


def crawl(client, starts, limit=1500, per_kind=8):
    """GET every same-site page reachable from ``starts``: of the pages of
    one kind (/guides/<code>, /admin/items/edit/<code> …, Flask-Admin's
    edit/details pages, whose links carry a query) the first ``per_kind``."""
    seen, queue, pages, per_view = set(), list(starts), {}, {}
    while queue and len(pages) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        html = response.get_data(as_text=True)
        pages[url] = html
        for href in re.findall(r'href="([^"#]+)"', html):
            href = href.replace("&amp;", "&")
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/") or any(s in parts.path for s in SKIP):
                continue
            kind = parts.path.rsplit("/", 1)[0]
            if parts.query:
                view = re.match(r"^/admin/\w+/(edit|details)/$", parts.path)
                if not view or "id" not in parse_qs(parts.query):
                    continue
                kind = parts.path
                href = f"{parts.path}?{urlencode({'id': parse_qs(parts.query)['id'][0]})}"
            if href in seen or href in queue:
                continue
            per_view[kind] = per_view.get(kind, 0) + 1
            if per_view[kind] > per_kind and kind not in ("", "/admin"):
                continue
            if href not in seen:
                queue.append(href)
    return pages


ROLES = {
    None: ["/", "/guides"],
    "galutu.agent": ["/cases", "/cases?due=overdue", "/cases?due=soon", "/cases?due=escalated", "/cases/new",
                     "/handover", "/account"],
    "taoli.grid": ["/cases", "/cases/new"],
    "galutu.specialist": ["/cases"],
    "rsj.helper": ["/cases", "/cases?mine=1"],
    "county.supervisor": ["/cases", "/cases?due=overdue", "/cases?due=escalated"],
    "county.admin": ["/admin/", "/admin/items/new", "/admin/holiday_admin/new/", "/admin/staff_admin/new/"],
    "audit.admin": ["/admin/"],
}


def guide_pages(app):
    """One guide (and one back-office item page) per item type and per kind."""
    with app.app_context():
        chosen = {}
        for record in MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current) \
                .order_by(MetadataRecord.key):
            chosen.setdefault(("type", record.content["type"]), record.key)
            chosen.setdefault(("kind", record.content["kind"]), record.key)
    return sorted(set(chosen.values()))


def case_pages(app):
    from core.cases.models import Case, CaseEvent

    with app.app_context():
        urls = []
        for case in Case.select():
            urls += [f"/cases/{case.id}", f"/cases/{case.id}/receipt", f"/cases/{case.id}/commission",
                     f"/track/{case.number}"]
            for kind, action in (("decline", "decline"), ("one_time", "one_time_notice")):
                if CaseEvent.select().where((CaseEvent.case == case) & (CaseEvent.action == action)).exists():
                    urls.append(f"/cases/{case.id}/notice/{kind}")
        return urls


def test_no_raw_code_and_no_untranslated_text_on_any_page(demo_app):
    app = demo_app
    codes = vocabulary(app)
    assert {"handling", "apply", "public_service", "promised", "original_and_copy", "yes_no", "window",
            "reason", "grassroots_agent"} <= codes
    english = ui_msgids()
    english_res = [(m, _word(m)) for m in sorted(english)]
    code_res = [(c, _word(c)) for c in sorted(codes)]
    cases = case_pages(app)
    guides = guide_pages(app)
    assert len(guides) >= 5
    problems, rendered = [], 0
    for user, starts in ROLES.items():
        client = app.test_client()  # one sign-in per account (sign-in is rate limited)
        if user:
            assert sign_in(client, user).status_code == 302, user
        for lang in LANGS:
            client.get(f"/?lang={lang}")
            extra = cases if user in (None, "galutu.agent", "county.supervisor", "rsj.helper") else []
            if user is None:
                extra = [u for u in cases if u.startswith("/track/")] + [f"/guides/{g}" for g in guides]
            if user == "county.admin":
                extra = [f"/admin/items/edit/{g}" for g in guides] + [f"/admin/items/preview/{g}" for g in guides]
            pages = crawl(client, starts + extra)
            assert len(pages) > 2, (user, list(pages))
            for url, html in pages.items():
                rendered += 1
                text = visible(html)
                for code, pattern in code_res:
                    if (lang != "en" or "_" in code) and pattern.search(text):
                        problems.append((lang, user, url, "code", code, _around(text, pattern)))
                if lang != "en":
                    for msgid, pattern in english_res:
                        if pattern.search(text):
                            problems.append((lang, user, url, "English", msgid, _around(text, pattern)))
    unique = {}
    for lang, user, url, what, word, where in problems:
        unique.setdefault((lang, what, word), (user, url, where))
    report = "\n".join(f"{k[0]} {k[1]} {k[2]!r}: {v[0]} {v[1]} …{v[2]}…" for k, v in sorted(unique.items()))
    assert rendered > 400
    assert not unique, f"{len(unique)} problems:\n{report}"


def _around(text, pattern):
    match = pattern.search(text)
    return text[max(match.start() - 40, 0):match.end() + 40]


def test_no_template_translates_a_variable():
    """``_(h)`` in a template looks up a string no extractor saw (it is not
    in the catalogs, so the Chinese page showed the work log's headers in
    English): texts are marked where they are written (``_l`` in Python)."""
    found = [f"{p.relative_to(ROOT)}: {m.group(0)}" for base in (ROOT / "themes", ROOT / "plugins")
             for p in base.rglob("*.html")
             for m in re.finditer(r"(?<![\w.])_\(\s*[A-Za-z_][\w.]*(?:\[[^\]]*\])?\s*\)", p.read_text("utf-8"))]
    assert found == []


def test_table_headers_are_marked_for_translation():
    """The headers of the sheets (work log, staffing, compliance, rating
    ledger) are extracted into the catalog template."""
    from babel.messages.extract import extract_from_file

    from core.compliance import staffing, worklog
    from core.compliance import views as compliance
    from core.ratings import views as ratings

    keywords = {"_": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
    for module, lists in ((worklog, ["COLUMNS"]), (staffing, ["COLUMNS"]),
                          (compliance, ["SUMMARY_COLUMNS", "GAP_COLUMNS"]), (ratings, ["LEDGER"])):
        marked = {m[1] for m in extract_from_file("python", module.__file__, keywords=keywords)}
        for name in lists:
            headers = [str(h._args[0]) if hasattr(h, "_args") else h for _k, h in getattr(module, name)]
            assert set(headers) <= marked, (module.__name__, name, set(headers) - marked)
