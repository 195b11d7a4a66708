"""The release of ehc-timeliness, from the installed package's metadata (``pyproject.toml``
is the one place it is written)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def release() -> str:
    """The installed version, e.g. ``0.1.0`` (``0+unknown`` when run from an uninstalled
    source tree)."""
    try:
        return version("ehc-timeliness")
    except PackageNotFoundError:
        return "0+unknown"


RELEASE = release()
