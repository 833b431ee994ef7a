"""A real Prometheus for tests: own port, own config and data dir, HTTP API helpers.

``start_prometheus`` writes the given prometheus.yml (a dict) into a work dir,
starts the ``prometheus`` binary (Debian package ``prometheus``) on a free loopback
port with its TSDB in that dir, waits until it answers ``/-/ready`` and returns a
:class:`RunningPrometheus`; ``stop()`` ends that one process. Nothing here touches
a system Prometheus on port 9090.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.network import free_port

#: How long Prometheus may take to open its TSDB and answer /-/ready.
READY_TIMEOUT = timedelta(seconds=30)


class PrometheusError(RuntimeError):
    """Prometheus could not start, or its API answered with an error."""


class RunningPrometheus:
    """A started Prometheus process and a small client for its HTTP API."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path
        self._http = httpx.Client(base_url=url, timeout=10.0)

    def api(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data``.

        Raises:
            PrometheusError: the API answered ``status: error``.
        """
        response = self._http.get(f"/api/v1/{path}", params=params)
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusError(
                f"{path} {dict(params or {})}: {body.get('error', response.text)}"
            )
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Run an instant query; returns the result list (vector samples)."""
        data = self.api("query", {"query": expr})
        result = data["result"]
        return result if isinstance(result, list) else [{"metric": {}, "value": result}]

    def label_values(self, label: str, match: str) -> list[str]:
        """Values of ``label`` on series matching ``match`` (Grafana's ``label_values``)."""
        values = self.api(f"label/{label}/values", {"match[]": match})
        return [str(value) for value in values]

    def wait_until(self, predicate_expr: str, timeout: timedelta) -> list[dict[str, Any]]:
        """Poll ``predicate_expr`` until it returns a series.

        Raises:
            PrometheusError: nothing by ``timeout``.
        """
        deadline = time.monotonic() + timeout.total_seconds()
        while True:
            result = self.query(predicate_expr)
            if result:
                return result
            if time.monotonic() > deadline:
                raise PrometheusError(f"{predicate_expr!r} still empty after {timeout}")
            time.sleep(0.25)

    def wait_for_scrapes(self, job: str, count: int, timeout: timedelta) -> None:
        """Wait until every target of ``job`` was scraped ``count`` times, successfully."""
        self.wait_until(
            f'min(count_over_time(up{{job="{job}"}}[1h])) >= {count} and min(up{{job="{job}"}}) == 1',
            timeout,
        )

    def stop(self) -> None:
        """Stop this Prometheus (SIGTERM, then SIGKILL after 10 s)."""
        self._http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def prometheus_binary() -> str | None:
    """Path of the ``prometheus`` binary, or ``None`` when it is not installed."""
    return shutil.which("prometheus")


def start_prometheus(workdir: Path, config: Mapping[str, Any]) -> RunningPrometheus:
    """Start Prometheus with ``config`` and its TSDB under ``workdir``; wait until ready.

    Raises:
        PrometheusError: the binary is missing, exits, or is not ready in time.
    """
    binary = prometheus_binary()
    if binary is None:
        raise PrometheusError("prometheus is not installed (apt-get install prometheus)")
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(dict(config)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = RunningPrometheus(process, url, log_path)
    deadline = time.monotonic() + READY_TIMEOUT.total_seconds()
    while True:
        if process.poll() is not None:
            raise PrometheusError(
                f"prometheus exited ({process.returncode}): {log_path.read_text()}"
            )
        try:
            if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                return running
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            running.stop()
            raise PrometheusError(
                f"prometheus not ready after {READY_TIMEOUT}: {log_path.read_text()}"
            )
        time.sleep(0.1)


@contextmanager
def running_prometheus(workdir: Path, config: Mapping[str, Any]) -> Iterator[RunningPrometheus]:
    """:func:`start_prometheus` as a context manager that always stops it."""
    prometheus = start_prometheus(workdir, config)
    try:
        yield prometheus
    finally:
        prometheus.stop()
