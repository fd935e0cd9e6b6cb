"""`metadata sync` parses only the pack files changed since their last sync
(SQLite and PostgreSQL): one changed item in a large catalog, a duplicate
against an unchanged file, a removed file."""
from pathlib import Path

import pytest
import yaml

from bench.synth import write_catalog
from core.cli import sync_packs
from core.metadata.loader import PARSED, MetadataInvalid
from core.models import AuditEntry, MetadataFile, MetadataRecord, MetadataSync
from tests.conftest import pack_dirs

SYNTH = 600  # items, 100 a file: items_000.yaml … items_005.yaml


@pytest.fixture
def big(packs, tmp_path):
    synth = write_catalog(tmp_path / "synth", SYNTH, name="synth", departments=False)
    return pack_dirs(packs) + [synth]


def run(app, paths, **kw):
    with app.app_context():
        return sync_packs(app.extensions["bangban"].pm, paths, actor="test", role="system", **kw)


def edit(file: Path, change):
    doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    change(doc["items"])
    file.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def parsed_items_files():
    return sorted(Path(p).name for p in PARSED if "synth" in p and Path(p).name != "pack.yaml")


def test_one_changed_item_parses_its_file_only_and_writes_one_record(app, big):
    first = run(app, big)
    assert first["added"] > SYNTH and first["changed"] == 0
    with app.app_context():
        records, syncs = MetadataRecord.select().count(), MetadataSync.select().count()
        assert MetadataFile.select().where(MetadataFile.pack_dir == str(big[-1])).count() == 1 + SYNTH // 100
    edit(big[-1] / "items_003.yaml", lambda items: items[5].update(promised_days=1))
    PARSED.clear()
    result = run(app, big)
    assert result == {"added": 0, "changed": 1, "retired": 0, "unchanged": first["added"] - 1}
    assert parsed_items_files() == ["items_003.yaml"]
    assert not [p for p in PARSED if Path(p).name.startswith("items_") and "synth" not in p], \
        "no shipped item file was parsed"
    with app.app_context():
        assert MetadataRecord.select().count() == records + 1
        assert MetadataSync.select().count() == syncs + 1
        new = MetadataRecord.get(MetadataRecord.current & (MetadataRecord.key == "synth-00305"))
        assert (new.version, new.content["promised_days"]) == (2, 1)
    # nothing changed since: nothing parsed among the items, nothing written
    PARSED.clear()
    assert run(app, big)["changed"] == 0
    assert parsed_items_files() == []
    with app.app_context():
        assert MetadataRecord.select().count() == records + 1
    # --full reads every file and finds the same
    PARSED.clear()
    assert run(app, big, full=True) == {"added": 0, "changed": 0, "retired": 0, "unchanged": first["added"]}
    assert parsed_items_files() == [f"items_{i:03d}.yaml" for i in range(SYNTH // 100)]


def test_duplicate_against_an_unchanged_file_is_reported_and_nothing_stored(app, big):
    run(app, big)
    with app.app_context():
        before = (MetadataRecord.select().count(), AuditEntry.select().count())
    copy = yaml.safe_load((big[-1] / "items_000.yaml").read_text(encoding="utf-8"))["items"][1]  # synth-00001
    edit(big[-1] / "items_004.yaml", lambda items: items.append(copy))
    with pytest.raises(MetadataInvalid) as raised:
        run(app, big)
    messages = [str(e) for e in raised.value.errors]
    assert len(messages) == 1 and "duplicate items code 'synth-00001'" in messages[0]
    assert "items_000.yaml" in messages[0] and "items_004.yaml" in messages[0]
    with app.app_context():
        assert (MetadataRecord.select().count(), AuditEntry.select().count()) == before


def test_removed_file_retires_its_entries(app, big):
    first = run(app, big)
    (big[-1] / "items_002.yaml").unlink()
    result = run(app, big)
    assert result == {"added": 0, "changed": 0, "retired": 100, "unchanged": first["added"] - 100}
    with app.app_context():
        gone = MetadataRecord.get(MetadataRecord.key == "synth-00250")
        assert gone.current is False
        assert not MetadataFile.select().where(MetadataFile.path == str(big[-1] / "items_002.yaml")).exists()
    # and the next sync of one change is partial again
    edit(big[-1] / "items_001.yaml", lambda items: items[0].update(promised_days=1))
    PARSED.clear()
    assert run(app, big)["changed"] == 1
    assert parsed_items_files() == ["items_001.yaml"]


def test_an_edit_from_the_back_office_makes_the_next_sync_read_everything(app, big):
    from core.metadata import store

    run(app, big)
    with app.app_context():
        data = dict(MetadataRecord.get(MetadataRecord.current & (MetadataRecord.key == "synth-00305")).content)
        old_days = data["promised_days"]
        data["promised_days"] = 1 if old_days != 1 else 2
        assert store.save_entries([("items", data, "synth")], actor="test", role="system")["changed"] == 1
    PARSED.clear()
    result = run(app, big)  # the file says otherwise: its version comes back
    assert result["changed"] == 1
    assert parsed_items_files() == [f"items_{i:03d}.yaml" for i in range(SYNTH // 100)]
    with app.app_context():
        record = MetadataRecord.get(MetadataRecord.current & (MetadataRecord.key == "synth-00305"))
        assert (record.version, record.content["promised_days"]) == (3, old_days)


def test_unchanged_files_are_known_by_size_and_time_and_a_recent_edit_by_its_bytes(app, big, monkeypatch):
    import os
    import time

    synth = big[-1]
    old = time.time() - 3600
    for file in synth.glob("*.yaml"):
        os.utime(file, (old, old))
    run(app, big)
    with app.app_context():
        stats = {Path(r.path).name: r.stat for r in MetadataFile.select().where(MetadataFile.pack_dir == str(synth))}
    target = synth / "items_002.yaml"
    assert stats["items_002.yaml"] == f"{target.stat().st_size}:{target.stat().st_mtime_ns}"

    read = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or real(self))

    def keyword(word):
        edit(target, lambda items: items[7].update(keywords=[word]))

    keyword("keyword-a")
    size = target.stat().st_size
    PARSED.clear()
    assert run(app, big)["changed"] == 1
    assert parsed_items_files() == ["items_002.yaml"]
    assert sorted({p.name for p in read if p.parent == synth}) == ["items_002.yaml", "pack.yaml"], \
        "the unchanged files were known by their size and time, not read"
    with app.app_context():
        assert MetadataFile.get(MetadataFile.path == str(target)).stat == "", \
            "a file written just now is not trusted by its time at the next sync"
    # edited again at once, to the same size: its time can't tell, its bytes do
    keyword("keyword-b")
    assert target.stat().st_size == size
    assert run(app, big)["changed"] == 1
    with app.app_context():
        record = MetadataRecord.get(MetadataRecord.current & (MetadataRecord.key == "synth-00207"))
        assert record.content["keywords"] == ["keyword-b"]
