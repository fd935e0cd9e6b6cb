"""Catalog import and export: Excel workbooks and YAML packs.

Workbook layout (what county offices keep; export writes it, import reads it)
---------------------------------------------------------------------------
Sheet 事项, one row per item, in this order: 事项编码 code · 事项名称 / 英文名称 / 蒙古文名称 name (zh/en/mn) ·
事项类型 type (行政许可 …) · 设定依据 legal_basis · 办理层级 levels (旗县、苏木镇、嘎查村) · 实施部门 department
(code) · 联办部门 joint_departments · 受理条件 conditions · 承诺时限 promised_days · 法定时限 legal_days (working
days) · 收费 fee · 办件类型 kind (即办件/承诺件/重大事项) · 办理渠道 channels (窗口、网上 …) · 网上可办 online ·
高频事项 high_frequency · 下放事项 delegated (是/否) · 办理结果 result · 咨询电话 phone · 办理地点 location ·
办理时间 hours · 事项分类 category · 关键词 keywords · 适用流程 workflow · 岗位 roles · 表单字段 fields: the item's
own form fields as compact JSON text, exactly the YAML ``fields`` list (``[{"name":"mobile","type":"mobile",
"label":{"zh":"联系电话"},"required":true}]``) · 所属元数据包 pack. Then (grouped, hidden) the other languages of
every per-language text (``受理条件(英文)``, ``受理条件(蒙古文)`` …) and 其他(JSON).
Sheet 材料, one row per material: 事项编码 · 序号 (order in the item) · 材料名称 · 原件/复印件 (原件/复印件/
原件及复印件/电子版) · 份数 · 核心材料 (是/否) · 填写说明 · 示范文本 · 备注, then translations and 其他(JSON).
Lists are separated by 、 or commas; codes are accepted wherever a label is. Import finds columns by header
(order free, unknown columns and sheets ignored); every column of the fixed layout must be present.

Lossless: a text given once fills the Chinese column; a per-language map fills its zh/英文/蒙古文 columns.
Export reads every value back from its cells the way import does; where that does not give the very same
value (a map with only zh, an empty list, 1.0 for 1, text with surrounding blanks, a keyword holding 、 …)
the exact value also goes into the row's 其他(JSON) cell as ``{key: value}``. Import takes it from there for
as long as its cells still show what export wrote; once a person edits those cells, the cells win. So an
unchanged catalog exports and imports to canonically identical items, and storing it writes nothing.

Import validates everything first (the YAML ItemSchema per row, then duplicates, references and forms
against the database's current catalog, as ``metadata sync`` does), reporting every problem as
``sheet!cell: header: message``. Storing goes through ``store.sync`` (new versions for changed items only,
one MetadataSync and one audit entry). A workbook speaks for the packs named in its 所属元数据包 column:
their items become exactly its rows (an item left out is retired); their other kinds and other packs stay.
"""
from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import ValidationError
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .db import transaction
from .metadata import store
from .metadata.checks import check_forms
from .metadata.loader import (Catalog, Entry, MetadataError, Pack, _dotted, _flatten, canonical_json, merge,
                              read_pack)
from .metadata.schemas import FieldSchema, ItemSchema

ITEMS, MATERIALS, README, OTHER = "事项", "材料", "说明", "其他(JSON)"
CODE, SEQ, PACK = "事项编码", "序号", "所属元数据包"
LANGS = ("zh", "en", "mn")
YES, NO = "是", "否"
TRUE, FALSE = {YES, "y", "yes", "t", "true", "on", "1"}, {NO, "n", "no", "f", "false", "off", "0"}
SEPARATORS = re.compile(r"[,，、;；\n]+")
MISSING = object()
LABELS = {
    "type": {"licensing": "行政许可", "payment": "行政给付", "confirmation": "行政确认", "reward": "行政奖励",
             "adjudication": "行政裁决", "other_power": "其他行政权力", "public_service": "公共服务"},
    "levels": {"county": "旗县", "township": "苏木镇", "village": "嘎查村"},
    "kind": {"instant": "即办件", "promised": "承诺件", "major": "重大事项"},
    "channels": {"window": "窗口", "online": "网上", "mobile": "移动端", "bank": "银行网点",
                 "self_service": "自助终端", "door_to_door": "上门", "mail": "邮寄"},
    "form": {"original": "原件", "copy": "复印件", "original_and_copy": "原件及复印件", "electronic": "电子版"},
}
CODES = {key: {label: code for code, label in labels.items()} for key, labels in LABELS.items()}
HINTS = {"str": "文本或代码", "text": "文本；其他语言在“(英文)”“(蒙古文)”列", "enum": "之一：{}", "enums": "用、分隔：{}",
         "list": "用、分隔", "bool": "是/否", "number": "工作日，整数或 .5", "int": "正整数",
         "json": "紧凑 JSON，同 YAML 的 fields 列表"}


@dataclass(frozen=True)
class Col:
    key: str
    codec: str  # str text enum enums list bool number int json
    headers: tuple  # text: (zh, en, mn) headers
    inline: bool = False  # all headers in the main part (name), else translations go to the end


def _col(key, header, codec="str", langs=None):
    if codec != "text":
        return Col(key, codec, (header,))
    return Col(key, codec, tuple(langs or (header, f"{header}(英文)", f"{header}(蒙古文)")), bool(langs))


ITEM_COLS = [
    _col("code", CODE), _col("name", "事项名称", "text", ("事项名称", "英文名称", "蒙古文名称")),
    _col("type", "事项类型", "enum"), _col("legal_basis", "设定依据", "text"), _col("levels", "办理层级", "enums"),
    _col("department", "实施部门"), _col("joint_departments", "联办部门", "list"),
    _col("conditions", "受理条件", "text"), _col("promised_days", "承诺时限", "number"),
    _col("legal_days", "法定时限", "number"), _col("fee", "收费", "text"), _col("kind", "办件类型", "enum"),
    _col("channels", "办理渠道", "enums"), _col("online", "网上可办", "bool"), _col("high_frequency", "高频事项", "bool"),
    _col("delegated", "下放事项", "bool"), _col("result", "办理结果", "text"), _col("phone", "咨询电话"),
    _col("location", "办理地点", "text"), _col("hours", "办理时间", "text"), _col("category", "事项分类", "text"),
    _col("keywords", "关键词", "list"), _col("workflow", "适用流程"), _col("roles", "岗位", "list"),
    _col("fields", "表单字段", "json"),
]
MATERIAL_COLS = [
    _col("name", "材料名称", "text"), _col("form", "原件/复印件", "enum"), _col("count", "份数", "int"),
    _col("key", "核心材料", "bool"), _col("fill_instructions", "填写说明", "text"), _col("sample", "示范文本", "text"),
    _col("note", "备注", "text"),
]


def _layout(cols, before=(), after=()):
    main = list(before) + [h for c in cols for h in (c.headers if c.inline else c.headers[:1])] + list(after)
    return main, [h for c in cols if not c.inline for h in c.headers[1:]] + [OTHER]


ITEM_LAYOUT = _layout(ITEM_COLS, after=(PACK,))
MATERIAL_LAYOUT = _layout(MATERIAL_COLS, before=(CODE, SEQ))


@dataclass
class Problem:
    sheet: str
    row: int | None
    column: int | None  # 1-based; None: the whole row (or a missing column)
    header: str | None
    message: str

    def __str__(self):
        cell = (get_column_letter(self.column) if self.column else "") + (str(self.row) if self.row else "")
        where = f"{self.sheet}!{cell}" if cell else self.sheet
        return f"{where}: {self.header}: {self.message}" if self.header else f"{where}: {self.message}"


class CatalogImportError(Exception):
    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(map(str, self.problems)))


@dataclass
class ImportResult:
    source: str
    items: list = field(default_factory=list)  # [{"pack": name, "item": data}], in sheet order
    problems: list = field(default_factory=list)  # Problem (workbook) or MetadataError (YAML, database)
    packs: list | None = None  # YAML: the packs read (stored whole)

    @property
    def ok(self):
        return not self.problems

    @property
    def items_by_pack(self):
        out = {}
        for entry in self.items:
            out.setdefault(entry["pack"], []).append(entry["item"])
        return out


def _tick(progress, done, total, stage):
    if progress:
        progress(done, total, stage)


# --- cells <-> values -----------------------------------------------------

def _clean(value):
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n").strip() or None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, (datetime.date, datetime.time)) else value


def _text(value):
    return value if value is None or isinstance(value, str) else str(value)


def _writable(value):
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _number(value):
    if isinstance(value, str):
        for parse in (int, float):
            try:
                number = parse(value)
                return int(number) if isinstance(number, float) and number.is_integer() else number
            except ValueError:
                pass
    return value


def _to_cells(col, value):
    labels, c = LABELS.get(col.key, {}), col.codec
    if c == "text":
        return [value.get(lang) for lang in LANGS] if isinstance(value, dict) else [value, None, None]
    if c in ("enums", "list") and isinstance(value, list):
        return ["、".join(str(labels.get(v, v)) for v in value)]
    if c == "bool" and isinstance(value, bool):
        return [YES if value else NO]
    if c == "json":  # form fields keyed as a person writes them: name, type, label …
        value = [store._schema_order(v, FieldSchema) for v in value] if isinstance(value, list) else value
        return [json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)]
    return [labels.get(value, value) if isinstance(value, str) else value]


def _from_cells(col, cells):
    """The value import reads from a column's cells (MISSING: none); what it
    cannot read is passed on as text, for the schema to report."""
    c, codes = col.codec, CODES.get(col.key, {})
    cells = [_clean(v) if c == "number" else _text(_clean(v)) for v in cells]
    value = cells[0]
    if c == "text":
        if any(cells[1:]):
            return {lang: text for lang, text in zip(LANGS, cells) if text}
        return MISSING if value is None else value
    if value is None:
        return MISSING
    if c == "enum":
        return codes.get(value, value)
    if c in ("enums", "list"):
        return [codes.get(p.strip(), p.strip()) for p in SEPARATORS.split(value) if p.strip()]
    if c == "bool":
        lowered = value.lower()
        return True if lowered in TRUE else False if lowered in FALSE else value
    if c == "number":
        return _number(value)
    if c == "int":
        number = _number(value)
        return number if isinstance(number, int) else value
    if c == "json":
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    return value


def _row_cells(cols, data, skip=()):
    """``{header: cell}`` for one item or material; inexact values into 其他(JSON)."""
    known = {c.key for c in cols}
    out, other = {}, {k: v for k, v in data.items() if k not in known and k not in skip}
    for col in cols:
        if col.key not in data:
            continue
        cells = [_writable(v) for v in _to_cells(col, data[col.key])]
        out.update(zip(col.headers, cells))
        try:
            back = _from_cells(col, cells)
        except ValueError:
            back = MISSING
        if back is MISSING or canonical_json(back) != canonical_json(data[col.key]):
            other[col.key] = data[col.key]
    if other:
        out[OTHER] = json.dumps(other, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return out


def _row_data(cols, row):
    """(data, [(header, message)]) from one sheet row ``{header: cell}``."""
    data, problems, other = {}, [], {}
    if _clean(row.get(OTHER)) is not None:
        try:
            other = json.loads(_text(_clean(row[OTHER])))
            if not isinstance(other, dict):
                raise ValueError("must be a JSON object")
        except ValueError as exc:
            problems.append((OTHER, f"not valid JSON: {exc}"))
            other = {}
    for col in cols:
        cells = [row.get(h) for h in col.headers]
        exact = other.pop(col.key, MISSING)
        same = exact is not MISSING and [_clean(v) for v in cells] == [
            _clean(_writable(v)) for v in _to_cells(col, exact)]
        try:
            value = exact if same else _from_cells(col, cells)
        except ValueError as exc:
            problems.append((col.headers[0], str(exc)))
            continue
        if value is not MISSING:
            data[col.key] = value
    data.update(other)  # keys without a column: the schema judges them
    return data, problems


# --- export ---------------------------------------------------------------

def current_items(packs=None) -> list[dict]:
    """The database's current items as ``[{"pack", "item"}]`` (optionally of some packs)."""
    from .models import MetadataRecord

    query = MetadataRecord.select().where((MetadataRecord.kind == "items") & MetadataRecord.current)
    if packs:
        query = query.where(MetadataRecord.pack.in_(list(packs)))
    return [{"pack": r.pack, "item": r.content} for r in query.order_by(MetadataRecord.pack, MetadataRecord.key)]


def export_xlsx(path, items=None, progress=None) -> Path:
    """Write ``items`` (``[{"pack", "item"}]``; default: every current item) as a workbook."""
    items = current_items() if items is None else items
    book = Workbook()
    sheet, materials = book.active, book.create_sheet(MATERIALS)
    sheet.title = ITEMS
    (main, extra), (m_main, m_extra) = ITEM_LAYOUT, MATERIAL_LAYOUT
    sheet.append(main + extra)
    materials.append(m_main + m_extra)
    for done, entry in enumerate(items, 1):
        data = entry["item"]
        rows = data.get("materials") if isinstance(data.get("materials"), list) else []
        cells = _row_cells(ITEM_COLS, data, skip=("materials",) if rows else ())
        cells[PACK] = entry["pack"]
        _append(sheet, [cells.get(h) for h in main + extra])
        for seq, material in enumerate(rows, 1):
            cells = {CODE: data.get("code"), SEQ: seq, **_row_cells(MATERIAL_COLS, material)}
            _append(materials, [cells.get(h) for h in m_main + m_extra])
        _tick(progress, done, len(items), "export")
    for ws, (head, tail) in ((sheet, ITEM_LAYOUT), (materials, MATERIAL_LAYOUT)):
        _style(ws, head, tail)
    _readme(book.create_sheet(README))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return Path(path)


def _append(ws, values):
    ws.append(values)
    for cell in ws[ws.max_row]:
        if cell.data_type == "f":  # text such as "=…" stays text, never a formula
            cell.data_type = "s"


def _style(ws, main, extra):
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "C2"
    for i, header in enumerate(main + extra, 1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(header) * 2 + 4))
    ws.column_dimensions.group(get_column_letter(len(main) + 1), get_column_letter(len(main) + len(extra)),
                               outline_level=1, hidden=True)


def _readme(ws):
    ws.append(["列", "字段", "填写"])
    for sheet, cols in ((ITEMS, ITEM_COLS), (MATERIALS, MATERIAL_COLS)):
        for col in cols:
            ws.append([f"{sheet}.{col.headers[0]}", col.key,
                       HINTS[col.codec].format("、".join(LABELS.get(col.key, {}).values()))])
    ws.append([f"{ITEMS}.{PACK}", "pack", "所属元数据包：本表中出现的包，其事项以本表为准（未列出的事项将停用）"])
    ws.append([f"{MATERIALS}.{SEQ}", "", "材料在事项中的顺序（正整数，不重复）"])
    ws.append([OTHER, "", "导出时无法用单元格精确表示的原值；对应单元格被修改后以单元格为准"])
    ws.column_dimensions["A"].width, ws.column_dimensions["C"].width = 24, 80


# --- import ---------------------------------------------------------------

def import_xlsx(path, progress=None) -> ImportResult:
    """Read and validate a workbook against the database's current catalog
    (needs an app context). Changes nothing; ``apply_import`` stores."""
    result = ImportResult(str(path))
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one problem
        result.problems.append(Problem(str(path), None, None, None, f"not a readable .xlsx workbook: {exc}"))
        return result
    try:
        sheets = [_read_sheet(book, name, layout[0], result.problems, progress)
                  for name, layout in ((ITEMS, ITEM_LAYOUT), (MATERIALS, MATERIAL_LAYOUT))]
    finally:
        book.close()
    if None in sheets:
        return result
    columns = {ITEMS: sheets[0][0], MATERIALS: sheets[1][0]}
    parsed = _parse(sheets[0][1], sheets[1][1], columns, result.problems)
    schema = ItemSchema()
    valid = []
    for done, item in enumerate(parsed, 1):
        try:
            schema.load(item["data"])
            valid.append(item)
        except ValidationError as exc:
            result.problems.extend(_locate(item, keys, message, columns) for keys, message in _flatten(exc.messages))
        _tick(progress, done, len(parsed), "validate")
    # references, duplicates and forms of the rows that are valid so far, so
    # that every problem is reported in one go
    more = []
    _check_database(valid, f"{path}#{ITEMS}", columns, more)
    if result.problems:  # other rows are missing: keep only what concerns the sheet's own rows
        more = [p for p in more if isinstance(p, Problem)]
    result.problems.extend(more)
    result.items = [{"pack": p["pack"], "item": p["data"]} for p in parsed]
    return result


def _read_sheet(book, name, required, problems, progress):
    """``({header: 1-based column}, [(row number, {header: cell})])``, or None."""
    if name not in book.sheetnames:
        problems.append(Problem(name, None, None, None, "sheet is missing"))
        return None
    rows, columns = book[name].iter_rows(values_only=True), {}
    for i, header in enumerate(next(rows, ()) or (), 1):
        header = _text(_clean(header))
        if header in columns:
            problems.append(Problem(name, 1, i, header, "duplicate column"))
        elif header:
            columns[header] = i
    missing = [h for h in required if h not in columns]
    problems.extend(Problem(name, 1, None, h, "required column is missing") for h in missing)
    out, total = [], max((book[name].max_row or 1) - 1, 1)
    for number, values in enumerate(rows, 2):
        if any(_clean(v) is not None for v in values):
            out.append((number, {h: values[i - 1] if i <= len(values) else None for h, i in columns.items()}))
        _tick(progress, min(number - 1, total), total, f"read {name}")
    return None if missing else (columns, out)


def _parse(rows, material_rows, columns, problems):
    """Items (``{row, pack, data, material_rows}``) from the rows of both sheets."""
    def bad(sheet, number, header, message):
        problems.append(Problem(sheet, number, columns[sheet].get(header), header, message))

    parsed, by_code = [], {}
    for number, row in rows:
        data, errors = _row_data(ITEM_COLS, row)
        for header, message in errors:
            bad(ITEMS, number, header, message)
        pack, code = _text(_clean(row[PACK])), data.get("code")
        if not pack:
            bad(ITEMS, number, PACK, "required")
        if isinstance(code, str) and code in by_code:
            bad(ITEMS, number, CODE, f"duplicate code {code!r} (also in row {by_code[code]['row']})")
            continue
        parsed.append({"row": number, "pack": pack, "data": data, "materials": {}})
        if isinstance(code, str):
            by_code[code] = parsed[-1]
    for number, row in material_rows:
        data, errors = _row_data(MATERIAL_COLS, row)
        for header, message in errors:
            bad(MATERIALS, number, header, message)
        code, seq = _text(_clean(row[CODE])), _number(_clean(row[SEQ]))
        item = by_code.get(code)
        if item is None:
            bad(MATERIALS, number, CODE, f"no item {code!r} on sheet {ITEMS}")
        elif not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            bad(MATERIALS, number, SEQ, "must be a whole number from 1")
        elif seq in item["materials"]:
            bad(MATERIALS, number, SEQ, f"{seq} is used twice for {code}")
        else:
            item["materials"][seq] = (number, data)
    for item in parsed:
        materials = item.pop("materials")
        ordered = [materials[seq] for seq in sorted(materials)]
        item["material_rows"] = [number for number, _ in ordered]
        if ordered:
            item["data"]["materials"] = [data for _, data in ordered]
    return parsed


def _locate(item, keys, message, columns):
    """An error path (``("materials", 2, "form")``) of a parsed item -> Problem at its cell."""
    sheet, row, cols, keys = ITEMS, item["row"], ITEM_COLS, list(keys)
    if keys[:1] == ["materials"] and len(keys) > 1 and isinstance(keys[1], int) \
            and keys[1] < len(item["material_rows"]):
        sheet, row, cols, keys = MATERIALS, item["material_rows"][keys[1]], MATERIAL_COLS, keys[2:]
    col = next((c for c in cols if keys and c.key == keys[0]), None)
    header = col.headers[0] if col else (OTHER if keys else None)
    if col and col.key in LABELS and message.startswith("Must be one of"):
        message = "must be one of " + ", ".join(LABELS[col.key].values())
    elif col and col.codec == "json" and len(keys) > 1:
        message = f"{_dotted(keys[1:])}: {message}"
    return Problem(sheet, row, columns[sheet].get(header), header, message)


def _check_database(parsed, file, columns, problems):
    """Packs exist; duplicates, references and forms hold with the database's other entries."""
    known, incoming, rows = _db_packs(), {}, {item["row"]: item for item in parsed}
    for item in parsed:
        if item["pack"] not in known:
            problems.append(Problem(ITEMS, item["row"], columns[ITEMS][PACK], PACK,
                                    f"unknown pack {item['pack']!r}; known: {', '.join(sorted(known))}"))
            continue
        pack = incoming.setdefault(item["pack"], _empty(known[item["pack"]]))
        pack.entries.append(Entry("items", str(item["data"]["code"]), item["data"], pack.name, file, item["row"]))
    for error in [] if problems else _combine(list(incoming.values()), {"items"}, known)[1]:
        match = re.match(r"items\[(\d+)\]\.?(\w*)", error.path) if error.file == file else None
        problems.append(_locate(rows[int(match.group(1))], [match.group(2)] if match.group(2) else [],
                                error.message, columns) if match else error)


# --- the database's catalog, and storing ------------------------------------

def _db_packs():
    """The current records as packs (manifests from the syncs that stored them)."""
    from .models import MetadataRecord, MetadataSync

    manifests, packs = {}, {}
    for run in MetadataSync.select(MetadataSync.packs).order_by(MetadataSync.id):
        manifests.update(run.packs)
    for rec in MetadataRecord.select().where(MetadataRecord.current).order_by(MetadataRecord.id):
        if rec.pack not in packs:
            m = manifests.get(rec.pack) or {}
            packs[rec.pack] = Pack(rec.pack, Path(rec.pack), str(m.get("version", "1")), m.get("county"),
                                   list(m.get("overrides") or []), m.get("title"))
        entries = packs[rec.pack].entries
        entries.append(Entry(rec.kind, rec.key, rec.content, rec.pack, f"database:{rec.pack}", len(entries)))
    return packs


def _empty(pack):
    return Pack(pack.name, pack.path, pack.version, pack.county, pack.overrides, pack.title)


def _combine(incoming, kinds=None, packs=None):
    """Merge the database's packs with ``incoming`` ones, whose entries replace
    (per pack) the stored ones of ``kinds`` (None: all); -> (catalog, errors)."""
    packs = dict(packs or _db_packs())
    for new in incoming:
        keep = [e for e in packs[new.name].entries if e.kind not in kinds] if kinds and new.name in packs else []
        packs[new.name] = Pack(new.name, new.path, new.version, new.county, new.overrides, new.title,
                               keep + list(new.entries))
    errors = []
    catalog = merge(list(packs.values()), errors)
    if not errors:
        check_forms(catalog, errors)
    return catalog, errors


def _store(incoming, kinds, actor, role, progress):
    _tick(progress, 0, 1, "store")
    names = {p.name for p in incoming}
    with transaction():
        catalog, errors = _combine(incoming, kinds)
        if errors:
            raise CatalogImportError(errors)
        mine = Catalog([p for p in catalog.packs if p.name in names], {})
        for kind, entries in catalog.kinds.items():
            mine.kinds[kind] = {key: e for key, e in entries.items() if e.pack in names}
        counts = store.sync(mine, actor=actor, role=role)
    _tick(progress, 1, 1, "store")
    return counts


def apply_items(items_by_pack, actor="system", role="system", progress=None) -> dict:
    """Store ``{pack: [item]}``, each list the pack's whole set of items (its
    other kinds stay); only changed items get versions. Validates first and
    raises CatalogImportError, changing nothing, on any problem."""
    known, problems, incoming, schema = _db_packs(), [], [], ItemSchema()
    for name, items in items_by_pack.items():
        file = f"import:{name}"
        if name not in known:
            problems.append(MetadataError(file, None, "", f"unknown pack {name!r}"))
            continue
        incoming.append(_empty(known[name]))
        for i, data in enumerate(items):
            try:
                schema.load(data)
            except ValidationError as exc:
                problems.extend(MetadataError(file, None, _dotted(["items", i, *keys]), f"{data.get('code')}: {m}")
                                for keys, m in _flatten(exc.messages))
            incoming[-1].entries.append(Entry("items", str(data.get("code")), data, name, file, i))
    if problems:
        raise CatalogImportError(problems)
    return _store(incoming, {"items"}, actor, role, progress)


def apply_import(result: ImportResult, actor="system", role="system", progress=None) -> dict:
    """Store what ``import_xlsx``/``import_yaml`` read; -> sync counts."""
    if result.problems:
        raise CatalogImportError(result.problems)
    if result.packs is not None:
        return _store(result.packs, None, actor, role, progress)
    return apply_items(result.items_by_pack, actor, role, progress)


# --- YAML -----------------------------------------------------------------

def export_yaml(directory, kinds=None) -> list[Path]:
    """Every current record as YAML packs under ``directory`` (``store.export``);
    ``kinds`` (default: the registry's) gives each kind's field order."""
    return store.export(directory, kinds=store.registered_kinds(kinds))


def import_yaml(directory, kinds=None, progress=None) -> ImportResult:
    """Read and validate the packs in ``directory`` (a pack, or a folder of
    packs) as ``load`` does, packs it lacks taken from the database. Each pack
    read is stored whole (every kind) by ``apply_import``."""
    directory = Path(directory)
    paths = [directory] if (directory / "pack.yaml").is_file() else sorted(
        p for p in directory.iterdir() if (p / "pack.yaml").is_file())
    result = ImportResult(str(directory), packs=[])
    if not paths:
        result.problems.append(MetadataError(str(directory), None, "", "no metadata packs (pack.yaml) here"))
    for done, path in enumerate(paths, 1):
        result.packs.extend(p for p in [read_pack(path, store.registered_kinds(kinds), result.problems)] if p)
        _tick(progress, done, len(paths), "read")
    if not result.problems:
        result.problems.extend(_combine(result.packs)[1])
    result.items = [{"pack": p.name, "item": e.data} for p in result.packs for e in p.entries if e.kind == "items"]
    return result
