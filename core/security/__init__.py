"""Protection of personal data: field encryption, lookup hashes, masking."""
from .crypto import CryptoError, FieldCipher, Keys, keyring_json, load_keyring, load_keys, normalise
from .masking import PERSONAL_PATTERN, mask_id_number, mask_phone, mask_text, mask_value

__all__ = [
    "CryptoError",
    "FieldCipher",
    "Keys",
    "load_keys",
    "load_keyring",
    "keyring_json",
    "normalise",
    "PERSONAL_PATTERN",
    "mask_id_number",
    "mask_phone",
    "mask_text",
    "mask_value",
]
