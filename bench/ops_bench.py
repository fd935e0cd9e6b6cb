"""Operations benchmarks, as ratios to a baseline measured in the same run.

    python bench/ops_bench.py [--cases 2000]

On SQLite, the demo plus ``--cases`` synthetic cases (copies of a demo case
with their own encrypted ID number and phone):

1. ``bangban backup`` (snapshot, JSON lines, checksums, files) vs. a bare
   ``sqlite3`` online backup of the same file (the least a consistent copy
   costs);
2. ``bangban restore`` of that backup into a fresh SQLite database (schema,
   load, counts, chain verification, sample decryption) vs. the backup;
3. ``keys rotate-data`` (re-encrypt every personal field, rebuild the lookup
   hashes, verifying pass) vs. decrypting and encrypting the same number of
   values in a loop (the cryptography alone).
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["BANGBAN_KEY_RELOAD_SECONDS"] = "0"

PLUGINS = "wushen,bank_partnership,mongolian"


def inflate(app, count):
    import peewee

    from core import db as dbmod
    from core import personal
    from core.cases.demo import id_number

    with app.app_context():
        db = dbmod.proxy.obj
        names = [c.name for c in db.get_columns("cases")]
        t = peewee.Table("cases", names).bind(db)
        template = t.select(*[getattr(t, n) for n in names]).order_by(t.id).dicts().first()
        with dbmod.transaction():
            for n in range(count):
                number = id_number("150626", "19800101", n % 1000)
                row = dict(template, id=None, number=f"BENCH{n:08d}", track_token=f"bench{n:020d}",
                           applicant_id_number=personal.encrypt(number, "cases.applicant_id_number"),
                           applicant_phone=personal.encrypt(f"138{n:08d}", "cases.applicant_phone"),
                           applicant_id_hash=personal.id_hash(number),
                           applicant_phone_hash=personal.phone_hash(f"138{n:08d}"))
                row.pop("id")
                t.insert(row).execute()


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    args = parser.parse_args()
    from core import create_app, db as dbmod
    from core.demo import load_demo
    from core.ops.backup import backup
    from core.ops.keys import rotate_data_key
    from core.ops.restore import restore

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        app = create_app(data_dir=str(tmp / "var"), plugins=PLUGINS, secret_key="bench")
        with app.app_context():
            dbmod.migrate()
            load_demo(app.extensions["bangban"].pm, "Bangban@2026")
        inflate(app, args.cases)
        path = app.config["BANGBAN"]["DATABASE_URL"][len("sqlite:///"):]

        def raw_copy():
            src, dst = sqlite3.connect(path), sqlite3.connect(str(tmp / "raw.sqlite3"))
            src.backup(dst)
            dst.close()
            src.close()

        base, _ = timed(raw_copy)
        ours, manifest = timed(lambda: backup(app, tmp / "backup"))
        rows = sum(t["rows"] for t in manifest["tables"].values())
        print(f"backup: {rows} rows, {ours:.2f} s; bare sqlite3 online backup {base:.3f} s; ratio {ours / base:.1f}")

        (tmp / "fresh").mkdir()
        for name in ("data.key", "audit.key"):
            (tmp / "fresh" / name).write_text((tmp / "var" / name).read_text())
        fresh = create_app(data_dir=str(tmp / "fresh"), plugins=PLUGINS, secret_key="bench")
        back, _ = timed(lambda: restore(fresh, tmp / "backup"))
        print(f"restore: {back:.2f} s; ratio to the backup {back / ours:.1f}")

        dbmod.bind(app.extensions["bangban"].db)
        rot, result = timed(lambda: rotate_data_key(app, batch_size=200, echo=lambda *_: None))
        cipher = app.extensions["bangban"].current_cipher()
        values = max(result["changed"], 1)
        token = cipher.encrypt("150626198001010010", context="x")

        def crypto_only():
            for _ in range(values):
                cipher.encrypt(cipher.decrypt(token, context="x"), context="x")

        crypto, _ = timed(crypto_only)
        print(f"rotate-data: {result['changed']} values in {rot:.2f} s ({result['passes']} passes); "
              f"decrypt+encrypt alone {crypto:.3f} s; ratio {rot / crypto:.1f}")


if __name__ == "__main__":
    main()
