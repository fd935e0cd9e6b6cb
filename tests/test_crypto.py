"""Field encryption, lookup hashes, key files and masking (core.security)."""
from __future__ import annotations

import base64
import json
import os
import re
import stat

import pytest
from hypothesis import given, settings, strategies as st
from cryptography.hazmat.primitives.ciphers import algorithms

from core.security import (
    CryptoError, FieldCipher, Keys, load_keys, mask_id_number, mask_phone, mask_text, mask_value,
)

PROFILES = ["aes-gcm", "sm4"]
ID = "110105194912310028"
ID_X = "11010519491231002X"
CTX = "cases.applicant_id_number"


@pytest.fixture(scope="module")
def keys():
    return Keys.generate()


@pytest.fixture(params=PROFILES)
def cipher(request, keys):
    return FieldCipher(keys, request.param)


def _raw(token):
    raw = token.split(":", 2)[2]
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def _token(prefix, blob):
    return prefix + base64.urlsafe_b64encode(blob).rstrip(b"=").decode()


# -- encryption ---------------------------------------------------------------

@pytest.mark.parametrize("text", [ID, "13812345678", "张三 内蒙古自治区乌审旗", "x", "a" * 500])
def test_round_trip(cipher, text):
    token = cipher.encrypt(text, context=CTX)
    assert token.startswith("enc1:") and (len(text) < 4 or text not in token)
    assert cipher.decrypt(token, context=CTX) == text


def test_token_format(keys):
    aes = FieldCipher(keys).encrypt(ID)
    sm4 = FieldCipher(keys, "sm4").encrypt(ID)
    assert re.fullmatch(r"enc1:aes:[A-Za-z0-9_-]+", aes)
    assert re.fullmatch(r"enc1:sm4:[A-Za-z0-9_-]+", sm4)
    # 96-bit nonce + ciphertext + 128-bit tag
    assert len(_raw(aes)) == len(_raw(sm4)) == 12 + len(ID) + 16


def test_none_and_empty_pass_through(cipher):
    assert cipher.encrypt(None) is None and cipher.decrypt(None) is None
    assert cipher.encrypt("") == "" and cipher.decrypt("") == ""


def test_nonce_is_random(cipher):
    tokens = {cipher.encrypt(ID) for _ in range(50)}
    assert len(tokens) == 50
    assert len({_raw(t)[:12] for t in tokens}) == 50


def test_profile_switch_reads_old_values(keys):
    aes, sm4 = FieldCipher(keys, "aes-gcm"), FieldCipher(keys, "sm4")
    assert sm4.decrypt(aes.encrypt("旧值", context=CTX), context=CTX) == "旧值"
    assert aes.decrypt(sm4.encrypt("新值", context=CTX), context=CTX) == "新值"


def test_legacy_plain_value_passes_through(cipher):
    for plain in (ID, "13812345678", "张三", "enc2:aes:abc"):
        assert cipher.decrypt(plain) == plain


def test_tampered_byte_raises(cipher):
    token = cipher.encrypt(ID, context=CTX)
    prefix = token[: token.index(":", 5) + 1]
    blob = _raw(token)
    for i in (0, 11, 12, len(blob) - 1):  # nonce, ciphertext, tag
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(CryptoError):
            cipher.decrypt(_token(prefix, bytes(bad)), context=CTX)


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2],                      # truncated
    lambda t: t + "AA",                    # extended
    lambda t: t[:20] + "!" + t[21:],       # not base64url
    lambda t: t[:9],                       # empty body
    lambda t: "enc1:des:" + t[9:],         # unknown algorithm
    lambda t: t.replace(t[5:8], "sm4" if t[5:8] == "aes" else "aes", 1),  # relabelled
])
def test_malformed_token_raises(cipher, mangle):
    with pytest.raises(CryptoError):
        cipher.decrypt(mangle(cipher.encrypt(ID)))


def test_wrong_context_raises(cipher):
    token = cipher.encrypt(ID, context=CTX)
    with pytest.raises(CryptoError):
        cipher.decrypt(token, context="cases.contact_phone")
    with pytest.raises(CryptoError):
        cipher.decrypt(token)


def test_wrong_key_raises(cipher):
    other = FieldCipher(Keys.generate(), cipher.profile)
    with pytest.raises(CryptoError):
        other.decrypt(cipher.encrypt(ID))


def test_unknown_profile():
    with pytest.raises(ValueError):
        FieldCipher(Keys.generate(), "des")


def test_sm4_profile_is_standard_sm4_gcm(keys):
    """The sm4 path reproduces the SM4-GCM test vector of RFC 8998, A.1."""
    c = FieldCipher(keys, "sm4")
    c._sm4 = algorithms.SM4(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"))
    pt = bytes.fromhex("".join(ch * 16 for ch in "ABCDEFEA"))
    out = c._sm4_gcm(True, bytes.fromhex("00001234567800000000ABCD"), pt,
                     bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2"))
    assert out.hex().upper() == (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
        "83DE3541E4C2B58177E065A9BF7B62EC")


@settings(max_examples=50, deadline=None)
@given(text=st.text(min_size=1, max_size=100), profile=st.sampled_from(PROFILES),
       context=st.text(max_size=30))
def test_round_trip_property(keys, text, profile, context):
    c = FieldCipher(keys, profile)
    assert c.decrypt(c.encrypt(text, context=context), context=context) == text


# -- lookup hashes ------------------------------------------------------------

def test_keyed_hash_normalises(cipher):
    h = cipher.keyed_hash(ID_X, kind="id_number")
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    for variant in ("11010519491231002x", " 110105 19491231 002x ", "１１０１０５１９４９１２３１００２ｘ"):
        assert cipher.keyed_hash(variant, kind="id_number") == h
    m = cipher.keyed_hash("13812345678", kind="mobile")
    for variant in ("138 1234 5678", "138-1234-5678", "(138)12345678"):
        assert cipher.keyed_hash(variant, kind="mobile") == m
        assert cipher.keyed_hash(variant, kind="phone") == m
    assert cipher.keyed_hash(ID, kind="id_number") != h


def test_keyed_hash_depends_on_key_not_profile(keys):
    aes, sm4 = FieldCipher(keys, "aes-gcm"), FieldCipher(keys, "sm4")
    assert aes.keyed_hash(ID, kind="id_number") == sm4.keyed_hash(ID, kind="id_number")
    other = FieldCipher(Keys.generate())
    assert other.keyed_hash(ID, kind="id_number") != aes.keyed_hash(ID, kind="id_number")


def test_keyed_hash_edge_cases(cipher):
    assert cipher.keyed_hash(None, kind="mobile") is None
    assert cipher.keyed_hash(" - ", kind="mobile") is None
    with pytest.raises(ValueError):
        cipher.keyed_hash(ID, kind="name")


# -- key files ----------------------------------------------------------------

def test_key_file_created_0600_and_reused(tmp_path):
    path = tmp_path / "secrets" / "bangban.keys"
    keys = load_keys(path, create=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(path.read_text())
    assert len(bytes.fromhex(data["enc"])) == len(bytes.fromhex(data["mac"])) == 32
    again = load_keys(path, create=True)
    assert again == keys == load_keys(path)
    token = FieldCipher(keys).encrypt(ID)
    assert FieldCipher(load_keys(path)).decrypt(token) == ID


def test_keys_not_in_repr(tmp_path):
    keys = load_keys(tmp_path / "k.json", create=True)
    assert keys.enc.hex() not in repr(keys) and keys.mac.hex() not in repr(keys)


def test_missing_key_file_without_create(tmp_path):
    with pytest.raises(CryptoError):
        load_keys(tmp_path / "missing.json")
    assert not (tmp_path / "missing.json").exists()


@pytest.mark.parametrize("content", [
    "not json",
    "{}",
    json.dumps({"enc": "zz" * 32, "mac": "00" * 32}),
    json.dumps({"enc": "00" * 16, "mac": "11" * 32}),
    json.dumps({"enc": "11" * 32, "mac": "11" * 32}),
])
def test_malformed_key_file(tmp_path, content):
    path = tmp_path / "k.json"
    path.write_text(content)
    with pytest.raises(CryptoError):
        load_keys(path)


# -- masking --------------------------------------------------------------------

def test_mask_examples():
    assert mask_id_number(ID) == "110***********0028"
    assert mask_id_number(ID_X) == "110***********002X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("04778123456") == "047****3456"
    assert mask_phone("0477-8123456") == "047*******56"
    assert mask_phone("123456") == "123*56"
    assert mask_phone("12345") == "*****"
    for f in (mask_id_number, mask_phone, mask_text):
        assert f(None) is None and f("") == ""
    assert mask_value("id_number", ID) == "110***********0028"
    assert mask_value("mobile", "13812345678") == mask_value("phone", "13812345678") == "138****5678"
    with pytest.raises(ValueError):
        mask_value("name", "张三")


def test_mask_text_examples():
    text = f"申请人身份证{ID}，电话13812345678；代办人{ID_X.lower()}/15900001111。"
    assert mask_text(text) == (
        "申请人身份证110***********0028，电话138****5678；"
        "代办人110***********002x/159****1111。")
    # inside longer digit runs nothing is masked
    for s in ("0" + ID, ID + "0", "2" + "13812345678", "13812345678" + "9", "订单号1234567890123"):
        assert mask_text(s) == s
    # a trailing X ends the ID's digit run
    assert mask_text(ID_X + "13812345678") == "110***********002X138****5678"
    # mobiles need 1[3-9]
    assert mask_text("12012345678") == "12012345678"


ids = st.from_regex(r"\A[0-9]{17}[0-9Xx]\Z")
mobiles = st.from_regex(r"\A1[3-9][0-9]{9}\Z")


@given(ids)
def test_mask_id_property(s):
    m = mask_id_number(s)
    assert len(m) == len(s)
    assert m[:3] == s[:3] and m[-4:] == s[-4:]
    assert m[3:-4] == "*" * 11
    assert s[3:-4] not in m


@given(st.text(min_size=8))
def test_mask_id_any_text_keeps_ends(s):
    m = mask_id_number(s)
    assert len(m) == len(s) and m[:3] == s[:3] and m[-4:] == s[-4:]
    assert set(m[3:-4]) <= {"*"}


@given(st.text())
def test_mask_phone_keeps_length(s):
    assert len(mask_phone(s)) == len(s)


def _leaks(out):
    """Unmasked IDs or mobiles in ``out``, found from its maximal digit runs."""
    found = []
    for run in re.finditer(r"[0-9]+", out):
        r, nxt = run.group(), out[run.end():run.end() + 1]
        if len(r) == 18 or (len(r) == 17 and nxt in ("X", "x")):
            found.append(r)
        elif len(r) == 11 and r[0] == "1" and r[1] in "3456789":
            found.append(r)
    return found


separators = st.text(min_size=1).map(lambda s: re.sub(r"[0-9]", "", s) or "，")


@given(st.lists(st.one_of(ids, mobiles, st.text()), min_size=1), st.data())
def test_mask_text_property(parts, data):
    seps = [data.draw(separators) for _ in parts]
    text = "".join(p + sep for p, sep in zip(parts, seps))
    out = mask_text(text)
    assert len(out) == len(text)
    assert _leaks(out) == []
    for p in parts:
        if re.fullmatch(r"[0-9]{17}[0-9Xx]", p):
            assert mask_id_number(p) in out
        elif re.fullmatch(r"1[3-9][0-9]{9}", p):
            assert mask_phone(p) in out


def test_no_hypothesis_test_has_a_deadline():
    """A deadline fails a test when the machine is merely busy: every
    property test in the suite runs without one (conftest's profile)."""
    import importlib
    import pkgutil

    import tests

    checked = []
    for info in pkgutil.iter_modules(tests.__path__, "tests."):
        module = importlib.import_module(info.name)
        for name, test in vars(module).items():
            if name.startswith("test_") and getattr(test, "is_hypothesis_test", False):
                assert test._hypothesis_internal_use_settings.deadline is None, f"{info.name}.{name}"
                checked.append(name)
    assert "test_mask_text_property" in checked and len(checked) >= 9
