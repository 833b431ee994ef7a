"""Running the pieces of a benchmark as separate processes: start, watch output, stop, peak memory.

Peak memory is the kernel's own account: ``ru_maxrss`` of the child as reaped with
:func:`os.wait4` (KiB on Linux), which covers the whole life of the process, so no
sampling can miss a spike. ``VmHWM`` from ``/proc/<pid>/status`` is read too while
the process lives, for a check on a process that is killed rather than reaped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def vm_hwm_kib(pid: int) -> int | None:
    """The peak resident set (``VmHWM``) of a live process in KiB, or ``None`` once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


@dataclass
class Child:
    """One child process; its output lines with the ``perf_counter`` instant each arrived."""

    name: str
    popen: subprocess.Popen[bytes]
    started: float
    lines: list[tuple[float, str]] = field(default_factory=list)
    exit_code: int | None = None
    peak_rss_kib: int | None = None
    cpu_seconds: float | None = None
    ended: float | None = None
    _reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def first_line(self, prefix: str) -> float | None:
        """When the first output line containing ``prefix`` arrived."""
        return next((at for at, line in self.lines if prefix in line), None)

    def wait(self, timeout_seconds: float) -> bool:
        """Reap the process if it ends within ``timeout_seconds``; whether it did."""
        deadline = time.perf_counter() + timeout_seconds
        while self.exit_code is None:
            hwm = vm_hwm_kib(self.pid)
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.ended = time.perf_counter()
                self.exit_code = os.waitstatus_to_exitcode(status)
                self.popen.returncode = self.exit_code  # reaped here: Popen must not wait again
                self.peak_rss_kib = max(usage.ru_maxrss, hwm or 0)
                self.cpu_seconds = usage.ru_utime + usage.ru_stime
                break
            if time.perf_counter() >= deadline:
                return False
            time.sleep(0.02)
        if self._reader is not None:
            self._reader.join(5)
        return True

    def stop(self, timeout_seconds: float = 20.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout_seconds``; the exit code."""
        if self.exit_code is None:
            self.popen.send_signal(signal.SIGTERM)
            if not self.wait(timeout_seconds):
                self.popen.kill()
                self.wait(timeout_seconds)
        assert self.exit_code is not None
        return self.exit_code


def _collect(child: Child, stream: IO[bytes], copy: IO[bytes]) -> None:
    try:
        for raw in stream:
            child.lines.append((time.perf_counter(), raw.decode("utf-8", "replace").rstrip()))
            copy.write(raw)
            copy.flush()
    finally:
        copy.close()


def spawn(
    name: str, args: Sequence[str], env: Mapping[str, str], log_path: Path, *, watch: bool = False
) -> Child:
    """Start ``python args…`` with ``env`` added to ours; output to ``log_path``.

    With ``watch`` the output also passes through a pipe so that the instant of each
    line is known (for the phases of the process being timed).
    """
    # Unbuffered, so that a watched line arrives when it is written, not when a buffer fills.
    environment = {**os.environ, **env, **({"PYTHONUNBUFFERED": "1"} if watch else {})}
    log = log_path.open("wb")
    started = time.perf_counter()
    popen = subprocess.Popen(
        [sys.executable, *args],
        env=environment,
        stdout=subprocess.PIPE if watch else log,
        stderr=subprocess.STDOUT,
    )
    child = Child(name, popen, started)
    if watch:
        assert popen.stdout is not None
        child._reader = threading.Thread(target=_collect, args=(child, popen.stdout, log), daemon=True)
        child._reader.start()
    else:
        log.close()  # the child holds its own descriptor
    return child
