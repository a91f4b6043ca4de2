"""The product's version, as installed (the utility and the agent are one distribution)."""
from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "mxone-maintenance"


def product_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:       # run from a source tree that was never installed
        return "unknown"
