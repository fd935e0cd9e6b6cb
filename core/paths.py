"""Where the shipped resources live (next to ``core/`` in a checkout and in
site-packages alike)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "metadata"
THEMES = ROOT / "themes"
LOCALES = ROOT / "locales"
DEFAULT_THEME = THEMES / "default"
