"""Configuration from ``BANGBAN_*`` environment variables.

Every setting has a default that works on a laptop; production sets the
database URL, the secret key and the data directory.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

PREFIX = "BANGBAN_"

#: setting name -> (default, parser)
SETTINGS = {
    "DATA_DIR": ("var", str),
    "DATABASE_URL": ("", str),  # empty: SQLite file under DATA_DIR
    "SECRET_KEY": ("", str),  # empty: generated once and kept in DATA_DIR
    "PLUGINS": (None, str),  # None (unset): every installed plugin; "": none
    "TRACE_HOOKS": (False, lambda v: v.lower() in ("1", "true", "yes", "on")),
    "THEME_DIR": ("", str),  # a deployer's template/static overrides
    "DEFAULT_LOCALE": ("zh_Hans_CN", str),
    "AUDIT_KEY_FILE": ("", str),  # empty: DATA_DIR/audit.key
    "AUDIT_ANCHOR_DIR": ("", str),  # empty: DATA_DIR/anchors
    "AUDIT_ANCHOR_SECONDS": (30, float),  # the app anchors the chain's head at least this often
    "SESSION_COOKIE_SECURE": (False, lambda v: v.lower() in ("1", "true", "yes", "on")),
    "DB_POOL_SIZE": (8, int),
    "DATA_KEY_FILE": ("", str),  # empty: DATA_DIR/data.key (field encryption and lookup keys)
    "CRYPTO_PROFILE": ("aes-gcm", str),  # "aes-gcm" or "sm4" (密评)
    "KEY_RELOAD_SECONDS": (2, float),  # how often a running app looks whether the data key file changed
    "BACKUP_DIR": ("", str),  # empty: DATA_DIR/backups (the backup job's target)
    "BACKUP_KEEP": (7, int),  # how many backups the backup job keeps
    "ANCHOR_MAX_AGE_MINUTES": (60, float),  # /-/health alarms when the newest anchor is older (and entries followed)
    "REQUEST_LOG": ("", str),  # JSON request log: "" off, "-" stderr, or a file path
    "AUDIT_RETENTION_DAYS": (184, int),  # at least six months (Cybersecurity Law art. 21)
    "PASSWORD_PROFILE": ("dengbao", str),  # "dengbao" (等保) or "asvs"
    "SESSION_IDLE_MINUTES": (30, int),
    "SESSION_ABSOLUTE_HOURS": (12, int),
    "SIGN_IN_RATE_LIMIT": ("10/minute", str),  # POSTs per IP on each sign-in/account form
    "TRACK_RATE_LIMIT": ("30/minute", str),  # per IP on the public /track/<number>
    "TRACK_FAILURE_LIMIT": ("10/hour", str),  # failed receipt+phone lookups per IP
    "TRACK_RECEIPT_LIMIT": ("5/hour", str),  # failed lookups of one receipt number, from anywhere: then locked
    "HALL_RATE_LIMIT": ("120/minute", str),  # per IP on the public hall pages (directory, sites, booking)
    "HALL_POST_RATE_LIMIT": ("10/minute", str),  # per IP on the public hall's forms (book, cancel, home visit)
    "TOTP_ISSUER": ("Bangban", str),
}


def from_env(environ=None, **overrides) -> dict:
    """Read every setting from the environment, then apply ``overrides``."""
    environ = os.environ if environ is None else environ
    conf = {}
    for key, (default, parse) in SETTINGS.items():
        raw = environ.get(PREFIX + key)
        conf[key] = default if raw is None else parse(raw)
    for key, value in overrides.items():
        key = key.upper()
        if key not in SETTINGS:
            raise KeyError(f"unknown setting {PREFIX}{key}")
        conf[key] = value
    data_dir = Path(conf["DATA_DIR"]).resolve()
    conf["DATA_DIR"] = str(data_dir)
    if not conf["DATABASE_URL"]:
        conf["DATABASE_URL"] = f"sqlite:///{data_dir / 'bangban.sqlite3'}"
    if not conf["AUDIT_KEY_FILE"]:
        conf["AUDIT_KEY_FILE"] = str(data_dir / "audit.key")
    if not conf["DATA_KEY_FILE"]:
        conf["DATA_KEY_FILE"] = str(data_dir / "data.key")
    if not conf["AUDIT_ANCHOR_DIR"]:
        conf["AUDIT_ANCHOR_DIR"] = str(data_dir / "anchors")
    if not conf["BACKUP_DIR"]:
        conf["BACKUP_DIR"] = str(data_dir / "backups")
    return conf


def read_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """Return the secret stored at ``path``, creating it (mode 0600) if absent."""
    path = Path(path)
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value.hex())
    return value
