"""A synthetic catalog: the shipped items copied under new codes until the
wanted count is reached, 100 items a file, with the departments they need."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def write_catalog(folder: Path, count: int, per_file: int = 100) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = ROOT / "metadata" / "wushen"
    items = []
    for path in sorted(source.glob("items_*.yaml")):
        items.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["items"])
    departments = yaml.safe_load((source / "departments.yaml").read_text(encoding="utf-8"))
    (folder / "pack.yaml").write_text("name: synth\nversion: '1'\ncounty: '150626'\n", encoding="utf-8")
    (folder / "departments.yaml").write_text(yaml.safe_dump(departments, allow_unicode=True), encoding="utf-8")
    batch, n = [], 0
    for i in range(count):
        item = copy.deepcopy(items[i % len(items)])
        item["code"] = f"synth-{i:05d}"
        item.pop("roles", None)
        batch.append(item)
        if len(batch) == per_file or i == count - 1:
            text = yaml.safe_dump({"items": batch}, allow_unicode=True, sort_keys=False)
            (folder / f"items_{n:03d}.yaml").write_text(text, encoding="utf-8")
            batch, n = [], n + 1
    return folder
