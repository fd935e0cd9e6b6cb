"""metadata sync / export on SQLite and PostgreSQL."""
import pytest
import yaml

from core import audit as auditmod
from core.metadata import store
from core.metadata.loader import load
from core.models import AuditEntry, MetadataRecord, MetadataSync, Region, Site
from tests.conftest import pack_dirs


def counts():
    return (MetadataRecord.select().count(), MetadataSync.select().count(), AuditEntry.select().count(),
            Region.select().count(), Site.select().count())


def test_sync_stores_versions_and_skips_unchanged(app, packs):
    with app.app_context():
        first = store.sync(load(pack_dirs(packs)))
        assert first["added"] > 140 and first["changed"] == 0
        before = counts()
        again = store.sync(load(pack_dirs(packs)))
        assert again == {"added": 0, "changed": 0, "retired": 0, "unchanged": first["added"]}
        assert counts() == before, "an unchanged sync writes nothing"
        assert Region.select().where(Region.level == "township").count() == 6
        assert Region.get_by_id("150626100").county_code == "150626"


def test_changed_item_gets_new_version_old_stays_readable(app, packs):
    with app.app_context():
        store.sync(load(pack_dirs(packs)))
        path = packs / "wushen" / "items_village.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        code = doc["items"][0]["code"]
        old_name = doc["items"][0]["name"]
        doc["items"][0]["name"] = {"zh": "改过的名称", "en": "Renamed"}
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        result = store.sync(load(pack_dirs(packs)))
        assert result["changed"] == 1 and result["added"] == 0
        versions = list(MetadataRecord.select().where((MetadataRecord.kind == "items") & (MetadataRecord.key == code))
                        .order_by(MetadataRecord.version))
        assert [(v.version, v.current) for v in versions] == [(1, False), (2, True)]
        assert versions[0].content["name"] == old_name
        assert versions[1].content["name"]["zh"] == "改过的名称"


def test_removed_entry_is_retired_not_deleted(app, packs):
    with app.app_context():
        store.sync(load(pack_dirs(packs)))
        path = packs / "wushen" / "items_village.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        gone = doc["items"].pop()["code"]
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        result = store.sync(load(pack_dirs(packs)))
        assert result["retired"] == 1
        record = MetadataRecord.get((MetadataRecord.kind == "items") & (MetadataRecord.key == gone))
        assert record.current is False


def test_sync_of_some_packs_leaves_other_packs_alone(app, packs):
    with app.app_context():
        store.sync(load(pack_dirs(packs)))
        result = store.sync(load(pack_dirs(packs, ("core", "bank_partnership", "wushen"))))
        assert result["retired"] == 0
        assert Region.select().where(Region.level == "village").count() == 76  # the demo pack's 嘎查村（社区）, seed 001


def test_sync_export_sync_is_a_no_op(app, packs, tmp_path):
    with app.app_context():
        store.sync(load(pack_dirs(packs)))
        before = counts()
        out = tmp_path / "export"
        files = store.export(out)
        assert (out / "wushen" / "pack.yaml").exists() and len(files) >= 10
        manifest = yaml.safe_load((out / "wushen" / "pack.yaml").read_text(encoding="utf-8"))
        assert manifest["county"] == "150626"
        exported = sorted(p for p in out.iterdir())
        result = store.sync(load(exported))
        assert result["added"] == result["changed"] == result["retired"] == 0
        assert counts() == before
        # and the export is stable: exporting again gives the same bytes
        again = store.export(tmp_path / "export2")
        for a, b in zip(sorted(files), sorted(again)):
            assert a.read_bytes() == b.read_bytes()


def test_failed_sync_leaves_database_as_it_was(app, packs, monkeypatch):
    with app.app_context():
        store.sync(load(pack_dirs(packs, ("core", "bank_partnership", "wushen"))))
        before = counts()

        def boom(*args, **kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(auditmod, "record", boom)
        with pytest.raises(RuntimeError, match="disk full"):
            store.sync(load(pack_dirs(packs)))  # adds the demo pack, then fails at the audit entry
        assert counts() == before


def test_sync_writes_one_audit_entry(app, packs):
    with app.app_context():
        store.sync(load(pack_dirs(packs)), actor="tester", role="county_admin")
        entries = list(AuditEntry.select())
        assert [(e.action, e.actor, e.role) for e in entries] == [("metadata.sync", "tester", "county_admin")]
        assert app.extensions["bangban"].audit.verify().ok
