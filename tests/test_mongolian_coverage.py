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
PACKS = sorted({p.parent for p in [*ROOT.glob("metadata/*/pack.yaml"), *ROOT.glob("plugins/*/metadata/pack.yaml")]})


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
