"""The ledger's CSV and Excel exports, streamed: the scoped cases are read
in keyset-paginated chunks (``id > last ORDER BY id LIMIT n``, on both
databases), turned into rows a chunk at a time (the masks stored with each
case; a case stored before them decrypted and masked) and written out
before the next chunk is read, so memory stays bounded whatever
the row count.

The rows are the ledger's (:func:`core.cases.ledger.row`: same columns,
same masking); the scope is :func:`core.scope.cases_for`. The export covers
the cases in scope up to the highest id at the moment it starts (counted
then, for the audit entry written before the first byte leaves).
"""
from __future__ import annotations

import csv
import io
import os
import tempfile

from flask_babel import gettext as _
from peewee import fn

from .. import catalog, personal
from ..i18n import localized
from ..security import mask_id_number, mask_phone
from . import service
from . import workflow as wf
from .models import Case

#: rows read, decrypted and written per round trip
CHUNK = 2000
#: bytes of the finished Excel file sent per piece
FILE_PIECE = 256 * 1024

_FIELDS = (Case.id, Case.number, Case.created_at, Case.applicant_name, Case.applicant_id_masked,
           Case.applicant_phone_masked, Case.applicant_id_number, Case.applicant_phone, Case.village_code,
           Case.township_code, Case.item_code, Case.county_code, Case.item_version, Case.workflow, Case.state,
           Case.due_day, Case.finished_on, Case.owner, Case.rating, Case.rating_comment)


def bounds(query):
    """``(count, highest id)`` of the cases ``query`` selects (one statement)."""
    count, top = query.select(fn.COUNT(Case.id), fn.MAX(Case.id)).order_by().tuples().get()
    return int(count or 0), top


def chunks(query, top, size=None):
    """The selected cases with ``id <= top`` as lists of raw column tuples
    (:data:`_FIELDS`, as the driver gives them: no per-value conversion),
    ``size`` (default :data:`CHUNK`) at a time, by id."""
    if top is None:
        return
    size = size or CHUNK
    database = Case._meta.database
    last = 0
    while True:
        page = query.select(*_FIELDS).where((Case.id > last) & (Case.id <= top)).order_by(Case.id).limit(size)
        batch = database.execute_sql(*page.sql()).fetchall()
        if not batch:
            return
        yield batch
        if len(batch) < size:
            return
        last = batch[-1][0]


def _iso(value):
    """A date column's value as ISO text ("" for none): SQLite gives the
    text already (ISO dates compare as text compares)."""
    if not value:
        return ""
    return value[:10] if isinstance(value, str) else value.isoformat()


#: the keys of a row as :meth:`Cells.rows` builds it
KEYS = ("number", "date", "applicant", "id_number", "phone", "village", "item", "item_version", "state", "due",
        "overdue", "finished", "agent", "rating", "rating_comment")


class Cells:
    """Turns column tuples into export rows (the ledger's columns, in the
    order ``keys`` gives), with what repeats across rows (item names, state
    names) looked up once."""

    def __init__(self, names, keys):
        self.names = names
        self.order = None if tuple(keys) == KEYS else [KEYS.index(k) for k in keys]
        self.today = service.today()
        self.yes = _("Yes")
        self._items = {}
        self._states = {}
        self._flows = {}

    def item(self, code, county):
        key = (code, county)
        if key not in self._items:
            record = catalog.current("items", code, county=county)
            self._items[key] = localized(record.content["name"]) if record else code
        return self._items[key]

    def state(self, workflow, state):
        key = (workflow, state)
        if key not in self._states:
            if workflow not in self._flows:
                self._flows[workflow] = wf.load(workflow)
            self._states[key] = localized(self._flows[workflow].state_name(state))
        return self._states[key]

    def rows(self, batch):
        names, today, yes, order = self.names, self.today.isoformat(), self.yes, self.order
        items, states = self._items, self._states
        cipher, reveal = personal.cipher(), personal.masked_text  # one key lookup per chunk
        missing = {}
        for row in batch:  # the chunk's new item names in one statement per county
            if (row[10], row[11]) not in items:
                missing.setdefault(row[11], set()).add(row[10])
        for county, codes in missing.items():
            for code, record in catalog.current_many("items", sorted(codes), county).items():
                items[(code, county)] = localized(record.content["name"]) if record else code
        out = []
        for (_id, number, created, applicant, id_masked, phone_masked, id_number, phone, village, township,
             item_code, county, version, workflow, state, due, finished, owner, rating, comment) in batch:
            due, finished = _iso(due), _iso(finished)
            item = items.get((item_code, county)) or self.item(item_code, county)
            state_name = states.get((workflow, state)) or self.state(workflow, state)
            # the masks stored with the case (migration 0024); a case stored before them: decrypted
            if not id_masked:
                id_masked = mask_id_number(cipher.decrypt(id_number, context="cases.applicant_id_number")
                                           if id_number else id_number)
            if not phone_masked:
                phone_masked = mask_phone(cipher.decrypt(phone, context="cases.applicant_phone") if phone else phone)
            values = (number, created[:10] if isinstance(created, str) else created.date().isoformat(), applicant,
                      id_masked, phone_masked, names.get(village or township, ""), item, version, state_name,
                      due, yes if (due and not finished and due < today) else "", finished,
                      names.get(("staff", owner), ""), rating,
                      reveal(comment, "cases.rating_comment") if comment else "")
            out.append(values if order is None else [values[i] for i in order])
        return out


def csv_pieces(query, top, names, columns):
    """The CSV file (UTF-8 with a byte-order mark, for Excel) in pieces of
    one chunk each."""
    cells = Cells(names, [key for key, _label in columns])
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow([_(label) for _key, label in columns])
    for batch in chunks(query, top):
        writer.writerows(cells.rows(batch))
        yield out.getvalue().encode("utf-8")
        out.seek(0)
        out.truncate()
    rest = out.getvalue()
    if rest:
        yield rest.encode("utf-8")


def xlsx_pieces(query, top, names, columns, title):
    """The Excel file: written row by row through openpyxl's write-only
    mode (rows go to a temporary file, never all in memory), saved to a
    temporary file, then sent in pieces; the files are removed at the end
    (also when the download is abandoned)."""
    from openpyxl import Workbook

    cells = Cells(names, [key for key, _label in columns])
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.append([_(label) for _key, label in columns])
    for batch in chunks(query, top):
        for r in cells.rows(batch):
            sheet.append(r)
    handle, path = tempfile.mkstemp(prefix="bangban-export-", suffix=".xlsx")
    os.close(handle)
    try:
        book.save(path)
        with open(path, "rb") as f:
            while True:
                piece = f.read(FILE_PIECE)
                if not piece:
                    break
                yield piece
    finally:
        os.unlink(path)
