"""``bangban translations coverage`` and ``bangban translations export``."""
from __future__ import annotations

from pathlib import Path

import click


def _pack_dirs(pm):
    from core.cli import pack_paths
    from core.plugins import collect

    return [*pack_paths(pm), *(Path(args[0]) for _p, args, _kw in collect(pm, "register_demo_packs"))]


@click.group()
def translations():
    """Translation coverage and the review page's corrections."""


def _ctx():
    from core.cli import pass_ctx

    return pass_ctx


@translations.command("coverage")
@_ctx()
def coverage_command(ctx):
    """How much of the metadata and the catalogs has Chinese and Mongolian
    text, and how much of the Mongolian is still an unreviewed draft."""
    from core.paths import LOCALES

    from . import review

    result = review.coverage(_pack_dirs(ctx.pm), LOCALES)
    s = result["summary"]
    click.echo(f"metadata texts: {s['metadata_texts']}  zh {review.percent(s['metadata_zh'], s['metadata_texts'])}%  "
               f"mn {review.percent(s['metadata_mn'], s['metadata_texts'])}%  mn unreviewed {s['metadata_mn_unreviewed']}")
    for kind, row in sorted(result["metadata"].items()):
        click.echo(f"  {kind}: {row['texts']} texts, mn {review.percent(row['mn'], row['texts'])}%, "
                   f"unreviewed {row['mn_unreviewed']}")
    click.echo(f"catalog strings: zh {s['catalog_zh']}/{s['catalog_zh_texts']}  mn {s['catalog_mn']}/{s['catalog_mn_texts']}"
               f"  mn unreviewed {s['catalog_mn_unreviewed']}")


@translations.command("draft")
@_ctx()
def draft_command(ctx):
    """Give every metadata text that has no Mongolian yet the draft of
    ``glossary.yaml``, or the Mongolian another text with the same Chinese
    already has (in place, in every registered pack); texts that already
    have Mongolian are left alone."""
    import yaml

    from . import review
    from .packs import set_texts

    glossary = yaml.safe_load((review.HERE / "glossary.yaml").read_text("utf-8")) or {}
    packs = _pack_dirs(ctx.pm)
    # a text some pack already translates keeps that translation elsewhere too
    known = {}
    for _k, t in review.pack_texts(packs):
        if isinstance(t, dict) and t.get("mn"):
            known.setdefault(t["zh"], t["mn"])
    wanted = {**glossary, **known}
    written = 0
    for pack in packs:
        for file in sorted(Path(pack).glob("*.yaml")):
            if file.name != "pack.yaml":
                written += set_texts(file, wanted, lang="mn", keep=True)
    click.echo(f"drafts written: {written}")


@translations.command("export")
@_ctx()
def export_command(ctx):
    """Write the review page's newest corrections back: interface strings
    into the Mongolian ``.po`` files (compiled to ``.mo``), metadata texts
    into the packs (in place), reviewed ones into ``review.yaml``."""
    with ctx.app.app_context():
        written = export(ctx.pm)
    click.echo(f"catalog strings written: {written['catalog']}; metadata texts written: {written['metadata']}; "
               f"newly reviewed: {written['reviewed']}")


def export(pm, pack_dirs=None, catalog_dir=None, review_file=None) -> dict:
    """Write the newest corrections into the catalogs (``catalog_dir``,
    default the plugin's), the packs (``pack_dirs``, default every
    registered one) and the review registry (``review_file``)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import write_po

    from . import review
    from .packs import set_texts
    from .views import latest_corrections

    latest = latest_corrections()
    done = {"catalog": 0, "metadata": 0, "reviewed": 0}
    fixes = {key: row for (source, key), row in latest.items() if source == "catalog"}
    if fixes:
        for domain in review.DOMAINS:
            po = Path(catalog_dir or review.CATALOG_DIR) / f"{domain}.po"
            catalog = review.read_catalog(po)
            changed = False
            for message in catalog:
                row = fixes.get(message.id) if message.id else None
                if row is None:
                    continue
                marked = not review.is_reviewed(message)
                if message.string != row.text or (row.reviewed and marked):
                    message.string = row.text
                    if row.reviewed:
                        message.user_comments = [c for c in message.user_comments if review.MARK not in c]
                        message.auto_comments = [c for c in message.auto_comments if review.MARK not in c]
                    changed = True
                    done["catalog"] += 1
            if changed:
                with open(po, "wb") as fh:
                    write_po(fh, catalog, width=76)
                with open(po.with_suffix(".mo"), "wb") as fh:
                    write_mo(fh, catalog)
    texts = {key: row.text for (source, key), row in latest.items() if source == "metadata"}
    if texts:
        for pack in (pack_dirs if pack_dirs is not None else _pack_dirs(pm)):
            for file in sorted(Path(pack).glob("*.yaml")):
                if file.name != "pack.yaml":
                    done["metadata"] += set_texts(file, texts, lang="mn")
        done["reviewed"] = review.mark_reviewed(
            [(key, row.text) for (source, key), row in latest.items() if source == "metadata" and row.reviewed],
            path=review_file or review.REVIEW_FILE)
    return done
