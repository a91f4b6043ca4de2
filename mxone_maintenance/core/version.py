"""The product's version, as installed (the utility and the agent are one distribution).

importlib.metadata is imported only when the version is asked for: it pulls in email, csv, zipfile
and more (~4.7 MB of RSS and 69 modules), which the agent's daemon would otherwise carry for nothing."""
from __future__ import annotations

DISTRIBUTION = "mxone-maintenance"


def product_version() -> str:
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:       # run from a source tree that was never installed
        return "unknown"
