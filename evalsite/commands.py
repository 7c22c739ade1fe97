"""Argument checks shared by the management commands that write files."""

import os
from pathlib import Path

from django.core.management.base import CommandError


def check_out_folder(out: Path, *, option: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be made or written: it, or the nearest path above it
    that exists, is not a folder, or is not writable."""
    existing = next(path for path in (out, *out.absolute().parents) if path.exists())
    if not existing.is_dir():
        where = "exists" if existing == out else f"is below {existing}, which exists"
        raise CommandError(f"{option} {out} {where} and is not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CommandError(f"{option} {out}: {existing} is not writable.")
