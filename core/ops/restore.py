"""``bangban restore SRC``: a backup into an empty database (SQLite or
PostgreSQL), checked before and after.

Refuses a backup whose checksums fail, a backup made by a newer release, and
a database that holds data (unless ``replace``: then its tables are dropped
first). The schema is built by our own migrations up to the backup's, the
rows are loaded in one transaction, PostgreSQL's sequences are reset, the
remaining migrations run (a backup of an older release is upgraded), open
sessions are ended, the files are copied back; then the counts are compared,
the audit chain verified and a sample of personal fields decrypted with the
keys this server has (a wrong key fails here, not on the first case page).
"""
from __future__ import annotations

import datetime
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import peewee
from playhouse.migrations import Migration, Runner

from .. import db as dbmod
from . import backup as backupmod
from . import dump

SAMPLE = 10  # personal fields decrypted from each end of the cases and staff tables


class RestoreError(RuntimeError):
    pass


@dataclass
class Report:
    tables: int = 0
    rows: int = 0
    migrated: list = field(default_factory=list)
    chain: str = ""
    decrypted: int = 0
    sessions_ended: int = 0
    files: int = 0
    anchors_set_aside: str | None = None

    def lines(self):
        return [f"{self.tables} tables, {self.rows} rows loaded; counts match",
                f"migrations applied after the load: {', '.join(self.migrated) or 'none'}",
                f"audit chain ok: {self.chain}",
                f"{self.decrypted} personal fields decrypted with this server's keys",
                f"{self.sessions_ended} open sessions ended; {self.files} files restored"] + \
            ([f"anchors newer than the backup were set aside in {self.anchors_set_aside}"]
             if self.anchors_set_aside else [])


def code_migrations() -> list[str]:
    return [m.name for m in Migration.load_directory(str(dbmod.MIGRATIONS))]


def plan(manifest_migrations) -> str | None:
    """The last migration of the backup, after checking that this code has
    exactly the backup's migrations up to it (None: an empty backup)."""
    code = code_migrations()
    newer = sorted(set(manifest_migrations) - set(code))
    if newer:
        raise RestoreError(f"the backup was made by a newer release (migrations {', '.join(newer)} are unknown "
                           "here): install that release or a later one first")
    if not manifest_migrations:
        return None
    target = max(manifest_migrations)
    expected = [m for m in code if m <= target]
    if sorted(manifest_migrations) != expected:
        missing = sorted(set(expected) - set(manifest_migrations))
        raise RestoreError(f"the backup's schema lacks migrations {', '.join(missing)} that come before its "
                           f"last one ({target}): it cannot be rebuilt by this release")
    return target


def wipe(db):
    """Drop every table (the operator said ``--replace``)."""
    if dbmod.is_postgres(db):
        db.execute_sql("DROP SCHEMA public CASCADE")
        db.execute_sql("CREATE SCHEMA public")
        return
    db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        for name in db.get_tables():
            meta = type("Meta", (), {"database": db, "table_name": name})
            model = type(f"Drop_{name}", (peewee.Model,), {"Meta": meta})
            db.drop_tables([model], safe=True)
    finally:
        db.execute_sql("PRAGMA foreign_keys = ON")


def schema_at(db, target):
    """Bring ``db`` (no data) to exactly the migrations up to ``target``."""
    runner = Runner(db, str(dbmod.MIGRATIONS))
    applied = sorted(m.name for m in runner.status() if m.applied)
    after = [m for m in applied if target is None or m > target]
    if after:
        runner.down(after[0])
    if target is not None:
        runner.up(target)


def set_aside_anchors(app, manifest) -> str | None:
    """On ``--replace``: anchors naming entries past the backup's head would
    make the restored chain look truncated (it is: the operator chose an
    older state). They are kept, renamed, never deleted."""
    from ..audit import ANCHOR_NAME

    folder = Path(app.config["BANGBAN"]["AUDIT_ANCHOR_DIR"])
    head = (manifest.get("audit_head") or {}).get("seq", 0)
    newer = [p for p in folder.rglob("anchor-*.json") if (m := ANCHOR_NAME.fullmatch(p.name)) and int(m.group(2)) > head] \
        if folder.is_dir() else []
    if not newer:
        return None
    aside = folder.with_name(f"{folder.name}.replaced-{datetime.datetime.now():%Y%m%dT%H%M%S}")
    folder.rename(aside)
    return str(aside)


def end_sessions(db, why="restored") -> int:
    from ..models import UserSession

    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return UserSession.update(ended_at=now, ended_why=why).where(UserSession.ended_at.is_null()).execute()


def _copy_back(src: Path, target: Path, sums: dict) -> int:
    copied = 0
    for rel, digest in sums.items():
        dest = target / rel
        if dest.exists():
            if dump.file_sha256(dest) != digest:
                raise RestoreError(f"{dest} exists with other content; move it away first")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dest)
        copied += 1
    return copied


def sample_decrypt(app) -> int:
    """Decrypt personal fields at both ends of the cases and staff tables
    with this server's keys, checking the lookup hashes too; the count."""
    from ..cases.models import Case
    from ..models import Staff
    from ..security import CryptoError

    state = app.extensions["bangban"]
    cipher = state.current_cipher()
    done = 0
    try:
        from .. import sharding

        rows = []
        for county in sharding.counties():  # the first and the last cases of each county
            of_county = Case.select().where(Case.county_code == county)
            rows += list(of_county.order_by(Case.id).limit(SAMPLE)) + \
                list(of_county.order_by(Case.id.desc()).limit(SAMPLE))
        for case in rows:
            number = cipher.decrypt(case.applicant_id_number, context="cases.applicant_id_number")
            phone = cipher.decrypt(case.applicant_phone, context="cases.applicant_phone")
            done += 2
            if case.applicant_id_hash and cipher.keyed_hash(number, kind="id_number") != case.applicant_id_hash:
                raise RestoreError(f"case {case.number}: the lookup key does not match this server's data key")
            if case.applicant_phone_hash and cipher.keyed_hash(phone, kind="mobile") != case.applicant_phone_hash:
                raise RestoreError(f"case {case.number}: the lookup key does not match this server's data key")
        staff = list(Staff.select().where(Staff.phone_enc.is_null(False)).order_by(Staff.id).limit(SAMPLE))
        for row in staff:
            cipher.decrypt(row.phone_enc, context="staff.phone")
            done += 1
    except CryptoError as exc:
        raise RestoreError(f"the data key of this server does not open the restored data ({exc}): "
                           "restore with the keys exported from the original server (--keys)") from None
    return done


def verify_chain(app) -> str:
    result = app.extensions["bangban"].audit.verify()
    if not result.ok:
        raise RestoreError(f"the audit chain does not verify after the restore: {result.message}")
    return f"{result.count} entries"


def restore(app, src, *, replace=False) -> Report:
    src = Path(src)
    problems = backupmod.check(src)
    if problems:
        raise RestoreError("the backup is damaged, nothing was restored:\n  " + "\n  ".join(problems))
    manifest = backupmod.read_manifest(src)
    target = plan(manifest["migrations"])
    db = app.extensions["bangban"].db
    conf = app.config["BANGBAN"]
    report = Report()
    with app.app_context():
        db.connect(reuse_if_open=True)
        full = dump.has_data(db)
        if full and not replace:
            raise RestoreError(f"the database holds data (tables {', '.join(sorted(full)[:5])}…): a restore never "
                               "merges; give --replace to drop it first (make a backup of it before)")
        if replace:
            wipe(db)
            report.anchors_set_aside = set_aside_anchors(app, manifest)
        schema_at(db, target)
        dump.truncate_for_load(db, manifest["order"])
        dump.load(db, src / "tables", manifest)
        counts = dump.count_rows(db, manifest["order"])
        wrong = {n: (counts[n], manifest["tables"][n]["rows"]) for n in manifest["order"]
                 if counts[n] != manifest["tables"][n]["rows"]}
        if wrong:
            raise RestoreError(f"row counts differ after the load (table: found, expected): {wrong}")
        report.tables, report.rows = len(counts), sum(counts.values())
        report.migrated = dbmod.migrate(db)
        report.sessions_ended = end_sessions(db)
        report.files = _copy_back(src / "uploads", Path(conf["DATA_DIR"]) / "uploads", manifest.get("uploads", {}))
        report.files += _copy_back(src / "anchors", Path(conf["AUDIT_ANCHOR_DIR"]), manifest.get("anchors", {}))
        report.chain = verify_chain(app)
        report.decrypted = sample_decrypt(app)
        from .. import audit

        with dbmod.transaction():
            audit.record("ops.restore", "database", actor="cli", role="cli",
                         payload={"backup_created_at": manifest["created_at"], "rows": report.rows,
                                  "from": manifest["database"], "migrated": report.migrated})
    return report
