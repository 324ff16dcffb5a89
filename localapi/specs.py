"""Finding the platforms' machine-readable specs, which live beside the project, never inside it.

The project root is not fixed (worktrees, CI checkouts), so every ancestor of the working directory
and of this package is tried for ``<ancestor>/../shared/specs/<file>``.
"""

from __future__ import annotations

import os
from pathlib import Path


def find_spec(file_name: str, env_var: str, explicit: Path | str | bool | None = None) -> Path | None:
    """Explicit path, else ``$env_var``, else ``<ancestor>/../shared/specs/<file_name>``; False disables."""
    if explicit is False:
        return None
    if isinstance(explicit, str | Path):
        path = Path(explicit)
        return path if path.is_file() else None
    if env := os.environ.get(env_var):
        path = Path(env)
        return path if path.is_file() else None
    relative = Path("shared") / "specs" / file_name
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for directory in (start, *start.parents):
            candidate = directory.parent / relative
            if candidate.is_file():
                return candidate
    return None
