"""Bangban's core: load, validate, store, render, route and account.

Everything else is a plugin."""
from .app import create_app
from .hookspecs import hookimpl, hookspec

__all__ = ["create_app", "hookimpl", "hookspec"]
