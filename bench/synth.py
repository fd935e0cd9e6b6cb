"""A synthetic catalog: the shipped items copied under new codes until the
wanted count is reached, 100 items a file, with the departments they need."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def write_catalog(folder: Path, count: int, per_file: int = 100, *, name: str = "synth", county: str = "150626",
                  departments: bool = True, overrides: dict | None = None, distinct_names: bool = False) -> Path:
    """Write pack ``name`` of ``count`` items under ``folder``.
    ``departments=False`` leaves the departments to another pack of the same
    county (the 乌审旗 one); ``overrides`` maps an item code
    (``synth-00042``) to keys replaced in that item (a name of its own …)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = ROOT / "metadata" / "wushen"
    items = []
    for path in sorted(source.glob("items_*.yaml")):
        items.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["items"])
    (folder / "pack.yaml").write_text(f"name: {name}\nversion: '1'\ncounty: '{county}'\n", encoding="utf-8")
    if departments:
        data = yaml.safe_load((source / "departments.yaml").read_text(encoding="utf-8"))
        (folder / "departments.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    batch, n = [], 0
    for i in range(count):
        item = copy.deepcopy(items[i % len(items)])
        item["code"] = f"synth-{i:05d}"
        item.pop("roles", None)
        if distinct_names:
            name = item["name"] if isinstance(item["name"], dict) else {"zh": item["name"]}
            zh = name.get("zh", "")
            if len(zh) > 1:
                k = 1 + (i // len(items)) % (len(zh) - 1)
                item["name"] = {**name, "zh": zh[k:] + zh[:k]}
        item.update((overrides or {}).get(item["code"], {}))
        batch.append(item)
        if len(batch) == per_file or i == count - 1:
            text = yaml.safe_dump({"items": batch}, allow_unicode=True, sort_keys=False)
            (folder / f"items_{n:03d}.yaml").write_text(text, encoding="utf-8")
            batch, n = [], n + 1
    return folder
