"""乌审旗 (Uxin Banner, 150626): the region's catalog, townships, site
standard 八有 and its 2023 rule set 五优八有三联动, all as metadata. Its
demo has partner bank points (政银合作), so the demo needs the
bank_partnership plugin loaded too."""
from core.hookspecs import hookimpl
from core.paths import METADATA


@hookimpl
def register_metadata_packs(register):
    register(METADATA / "wushen")


@hookimpl
def register_demo_packs(register):
    register(METADATA / "demo", county="150626")
