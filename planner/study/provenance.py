"""Which evplan source made a study: the git commit of the checkout evplan runs from, for
the manifest and the report's header (a run's numbers can then be tied to the code that
made them; the package version alone does not change between commits).

Read with ``git`` itself (read-only: ``rev-parse`` and ``status`` without optional locks,
with the checkout's fsmonitor off and the caller's ``GIT_*`` variables dropped), once when
a run starts (:class:`planner.study.skeleton.StepTimer`: a branch switched during a long
run does not change it), only when evplan runs from a git checkout (an editable install);
an installed package, a machine without git or any git failure gives None, and the
manifest simply has no ``evplan_source``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: The checkout evplan runs from when installed editable (planner/ sits at its top level)
CHECKOUT = Path(__file__).resolve().parents[2]


def source_revision(root: Path = CHECKOUT, *, timeout_s: float = 5.0) -> dict[str, Any] | None:
    """The commit of the git checkout at ``root`` and whether its tracked files differ
    from it, or None when ``root`` is not a git checkout or git cannot tell.

    Returns
    -------
    dict or None
        ``{"commit": <40 hex digits>, "modified": bool}``; ``modified`` is true when
        tracked files have uncommitted changes (the run's code is then not the commit's).
    """
    git = shutil.which("git")
    if git is None or not (root / ".git").exists():
        return None
    # read-only and about this checkout only: no index refresh or lock (a user's concurrent
    # commit must not fail), no fsmonitor program from the checkout's config, and no GIT_*
    # variable of the caller's (GIT_DIR in a hook would name another repository)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    base = [git, "--no-optional-locks", "-c", "core.fsmonitor=false", "-C", str(root)]
    try:
        commit = subprocess.run(
            [*base, "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=timeout_s, check=True, env=env,
        ).stdout.strip()  # fmt: skip
        status = subprocess.run(
            [*base, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=timeout_s, check=True, env=env,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("no source revision for %s: %r", root, exc)
        return None
    if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit):
        return None
    return {"commit": commit, "modified": bool(status.strip())}


__all__ = ["source_revision"]
