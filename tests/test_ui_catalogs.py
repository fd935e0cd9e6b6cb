"""The UI catalogs people read: every message has a Chinese and a Mongolian
text, the Mongolian one is written in Mongolian script (not a Chinese or
English placeholder, not tagged "(draft)" on screen), and every draft is
counted through its "needs native review" comment instead."""
import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
ZH = ROOT / "locales/zh_Hans_CN/LC_MESSAGES/messages.po"
MN = ROOT / "plugins/mongolian/translations/mn_Mong_CN/LC_MESSAGES/messages.po"
MONGOLIAN = re.compile(r"[\u1820-\u18AF]")
# a literal that a Mongolian sentence may quote: sheet names of the county's workbook
QUOTED_CHINESE = re.compile(r"\((事项|材料)\)")


def _messages(path, locale):
    with open(path, "rb") as fh:
        return [m for m in read_po(fh, locale=locale) if m.id]


def _texts(message):
    return [message.string] if isinstance(message.string, str) else list(message.string)


def test_every_message_has_chinese():
    missing = [m.id for m in _messages(ZH, "zh_Hans_CN") if not all(_texts(m))]
    assert missing == []


def test_every_mongolian_message_is_mongolian_script_and_shows_no_draft_tag():
    messages = _messages(MN, "mn_Mong_CN")
    assert len(messages) > 900
    wrong = []
    for m in messages:
        for text in _texts(m):
            bare = QUOTED_CHINESE.sub("", text)
            if (not text or "(draft)" in text or re.search(r"[\u4e00-\u9fff]", bare)
                    or not MONGOLIAN.search(text) and re.search(r"[A-Za-z]{3,}", re.sub(r"%\(\w+\)s|\{\w+\}", "", text))):
                wrong.append((m.id, text))
    assert wrong == []


def test_drafts_are_counted_by_their_review_comment():
    drafts = [m for m in _messages(MN, "mn_Mong_CN") if "needs native review" in m.user_comments]
    assert drafts, "the Mongolian UI strings are drafts until a native reader reviews them"
