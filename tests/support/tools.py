"""External command-line tools the tests need (promtool, amtool, systemd-analyze)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

#: The repository root.
REPO = Path(__file__).resolve().parents[2]


def require_tool(name: str, package: str, *, required_in_ci: bool = True) -> str:
    """Path of ``name``; skip without it on a laptop, fail when ``CI`` is set.

    ``required_in_ci=False`` for tools CI is not promised (they only add a check).
    """
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (apt-get install {package})"
        if required_in_ci and os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def run_tool(
    command: Sequence[str], *, stdin: bytes | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion (60 s at most); stdout and stderr as text."""
    return subprocess.run(
        list(command),
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )
