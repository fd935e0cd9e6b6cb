"""Completeness of the translations (issue: the interface): over the
metadata packs and the catalogs, every text has Chinese; every interface
string and every term a person reads (item, department, region and site
names, workflow states and actions, guide-field and form-field labels and
options, roles, site-standard criteria) has Mongolian; and the report
counts what is still an unreviewed draft."""
from pathlib import Path

from click.testing import CliRunner

from plugins.mongolian import review

ROOT = Path(__file__).parent.parent
PACKS = sorted({p.parent for p in [*ROOT.glob("metadata/*/pack.yaml"), *ROOT.glob("plugins/*/metadata/pack.yaml"),
                                   *ROOT.glob("plugins/*/metadata_demo/pack.yaml")]})


#: packs whose long guide texts still wait for their Mongolian drafts; every
#: other pack must be complete, and a pack listed here that becomes complete
#: must leave the list (so the list never hides a regression)
PENDING_GUIDE_TEXTS: set = set()


def _missing_mn(pack):
    return [t if isinstance(t, str) else t["zh"] for _k, t in review.pack_texts([pack])
            if not (isinstance(t, dict) and (t.get("mn") or "").strip())]


def test_every_metadata_text_has_mongolian_in_every_finished_pack():
    """Not only names: conditions, materials' fill instructions and samples,
    fees, legal bases, results, places, hours, notes, duties, equipment,
    zones and criteria have a Mongolian text (a draft at least)."""
    missing = {pack.name if pack.parent.name == "metadata" else f"{pack.parent.name}/{pack.name}": _missing_mn(pack)
               for pack in PACKS}
    assert {name: texts[:3] for name, texts in missing.items() if texts and name not in PENDING_GUIDE_TEXTS} == {}
    assert {name for name in PENDING_GUIDE_TEXTS if not missing[name]} == set()
    # a code in a list of texts (a site's item codes) is not a text to translate
    assert not any(review._CODE.match(t) or t.replace("-", "").isalnum() and t.isascii()
                   for texts in missing.values() for t in texts)


def test_every_text_has_chinese_and_every_term_has_mongolian(capsys):
    result = review.coverage(PACKS, ROOT / "locales")
    s = result["summary"]
    assert s["metadata_texts"] > 5000 and s["metadata_zh"] == s["metadata_texts"]
    assert s["catalog_zh_texts"] > 500 and s["catalog_zh"] == s["catalog_zh_texts"]
    assert s["catalog_mn"] == s["catalog_mn_texts"]
    missing = {}
    terms = 0
    for kind, dotted, text in review.pack_terms(PACKS):
        terms += 1
        t = {"zh": text} if isinstance(text, str) else text
        if not (t.get("mn") or "").strip():
            missing.setdefault(f"{kind}.{dotted}", []).append(t["zh"])
        # a Mongolian draft is written in the traditional script (no Cyrillic, no Chinese)
        mn = t.get("mn") or ""
        assert not any("\u0400" <= c <= "\u04ff" or "\u4e00" <= c <= "\u9fff" for c in mn), (kind, t["zh"], mn)
    assert terms > 1500
    assert missing == {}
    reviewed = review.reviewed_hashes()
    with capsys.disabled():
        print(f"\nmetadata: {s['metadata_texts']} texts, zh {review.percent(s['metadata_zh'], s['metadata_texts'])}%, "
              f"mn {review.percent(s['metadata_mn'], s['metadata_texts'])}% ({terms} terms: 100%), "
              f"mn unreviewed {s['metadata_mn_unreviewed']}; catalogs: zh {s['catalog_zh']}/{s['catalog_zh_texts']}, "
              f"mn {s['catalog_mn']}/{s['catalog_mn_texts']}, mn unreviewed {s['catalog_mn_unreviewed']}")
    # unreviewed = every Mongolian text whose (zh, mn) is not in the review registry
    drafts = sum(1 for _k, t in review.pack_texts(PACKS)
                 if isinstance(t, dict) and t.get("mn") and review.text_hash(t["zh"], t["mn"]) not in reviewed)
    assert s["metadata_mn_unreviewed"] == drafts


def test_a_reviewed_text_leaves_the_draft_count_and_a_changed_one_returns(tmp_path):
    pack = tmp_path / "p"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: p\n", "utf-8")
    (pack / "d.yaml").write_text("departments:\n  - code: a\n    name: {zh: 民政局, mn: ᠢᠷᠭᠡᠨ ᠬᠡᠷᠡᠭ}\n"
                                 "  - code: b\n    name: 司法局\n", "utf-8")
    registry = tmp_path / "review.yaml"
    before = review.metadata_coverage([pack], review.reviewed_hashes(registry))["departments"]
    assert (before["texts"], before["mn"], before["mn_unreviewed"], before["missing"]) == (2, 1, 1, ["司法局"])
    assert review.mark_reviewed([("民政局", "ᠢᠷᠭᠡᠨ ᠬᠡᠷᠡᠭ")], registry) == 1
    after = review.metadata_coverage([pack], review.reviewed_hashes(registry))["departments"]
    assert after["mn_unreviewed"] == 0
    (pack / "d.yaml").write_text("departments:\n  - code: a\n    name: {zh: 民政局, mn: ᠢᠷᠭᠡᠨ ᠬᠡᠷᠡᠭ ᠦᠨ}\n", "utf-8")
    changed = review.metadata_coverage([pack], review.reviewed_hashes(registry))["departments"]
    assert changed["mn_unreviewed"] == 1


def test_the_coverage_command_reports_drafts(tmp_path, monkeypatch):
    from core.cli import build

    monkeypatch.setenv("BANGBAN_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BANGBAN_PLUGINS", "wushen,bank_partnership,mongolian")
    group, ctx = build()
    out = CliRunner().invoke(group, ["translations", "coverage"], obj=ctx)
    assert out.exit_code == 0, out.output
    assert "metadata texts:" in out.output and "mn unreviewed" in out.output
    assert "workflows: " in out.output and "catalog strings: zh " in out.output


def test_the_glossary_restores_the_drafts_of_a_pack(tmp_path):
    """After a merge that loses a pack's Mongolian, ``bangban translations
    draft`` (the glossary) writes the same drafts back."""
    import yaml

    from plugins.mongolian.packs import set_texts

    source = ROOT / "metadata/wushen/departments.yaml"
    original = yaml.safe_load(source.read_text("utf-8"))
    stripped = {"departments": [{**d, "name": {k: v for k, v in d["name"].items() if k != "mn"}}
                                for d in original["departments"]]}
    copy = tmp_path / "departments.yaml"
    copy.write_text(yaml.safe_dump(stripped, allow_unicode=True), "utf-8")
    glossary = yaml.safe_load((ROOT / "plugins/mongolian/glossary.yaml").read_text("utf-8"))
    assert set_texts(copy, glossary) == len(original["departments"])
    assert yaml.safe_load(copy.read_text("utf-8")) == original


def test_list_texts_take_mongolian_and_anchors_survive(tmp_path):
    """A list of texts (a site's zones) gets ``{zh, mn}`` entries, a site's
    item codes are left alone, and a text that carries a YAML anchor keeps
    it (its aliases elsewhere in the file still resolve)."""
    import yaml

    from plugins.mongolian.packs import set_texts

    f = tmp_path / "sites.yaml"
    f.write_text("sites:\n  - code: a\n    name: 甲站\n    zones: [等候区, 咨询引导区]\n    items: [150626-rsj-013]\n"
                 "    hours: &h 工作日\n  - code: b\n    name: 乙站\n    hours: *h\n", "utf-8")
    glossary = {"等候区": "ᠬᠦᠯᠢᠶᠡᠬᠦ ᠬᠡᠰᠡᠭ", "工作日": "ᠠᠵᠢᠯ ᠤᠨ ᠡᠳᠦᠷ", "150626-rsj-013": "x"}
    assert set_texts(f, glossary) == 2
    data = yaml.safe_load(f.read_text("utf-8"))["sites"]
    assert data[0]["zones"] == [{"zh": "等候区", "mn": "ᠬᠦᠯᠢᠶᠡᠬᠦ ᠬᠡᠰᠡᠭ"}, "咨询引导区"]
    assert data[0]["items"] == ["150626-rsj-013"]
    assert data[1]["hours"] == data[0]["hours"] == {"zh": "工作日", "mn": "ᠠᠵᠢᠯ ᠤᠨ ᠡᠳᠦᠷ"}
    texts = [t for _k, t in review.pack_texts([tmp_path])]
    assert "150626-rsj-013" not in texts and "咨询引导区" in texts


def test_site_lists_in_two_languages_still_meet_their_standard():
    """Equipment, zones and name endings written as ``{zh, mn}`` are read
    in any language: a rating device, a zone and a 便民服务站 ending count."""
    from types import SimpleNamespace

    from core.builtins import compliance

    site = SimpleNamespace(kind="service_station", name={"zh": "甲村便民服务站", "mn": "ᠠ"},
                           profile={"equipment": [{"zh": "评价器", "mn": "ᠦᠨᠡᠯᠡᠬᠦ ᠮᠠᠰᠢᠨ"}],
                                    "zones": [{"zh": "等候区", "mn": "ᠬᠦᠯᠢᠶᠡᠬᠦ ᠬᠡᠰᠡᠭ"}]})
    assert compliance._has_rating_channel(site) is True
    assert compliance.rating_device(site, {}, {})[0] == compliance.MET
    assert compliance.zones(site, {}, {"items": ["等候区"]})[0] == compliance.MET
    assert compliance.zones(site, {}, {"items": [{"zh": "等候区", "mn": "ᠬᠦᠯᠢᠶᠡᠬᠦ ᠬᠡᠰᠡᠭ"}]})[0] == compliance.MET
    assert compliance.naming(site, {}, {"items": [{"zh": "便民服务站", "mn": "ᠥᠷᠲᠡᠭᠡ"}]})[0] == compliance.MET
    assert compliance.naming(site, {}, {"items": [{"zh": "党群服务中心", "mn": "ᠲᠥᠪ"}]})[0] == compliance.NOT_MET
