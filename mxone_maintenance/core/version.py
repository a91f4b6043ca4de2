"""The product's version, as installed (the utility and the agent are one distribution).

importlib.metadata is imported only when the version is asked for: it pulls in email, csv, zipfile
and more (~4.7 MB of RSS and 69 modules), which the agent's daemon would otherwise carry for nothing."""
from __future__ import annotations

import argparse
import sys
from typing import Any

DISTRIBUTION = "mxone-maintenance"


def product_version() -> str:
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:       # run from a source tree that was never installed
        return "unknown"


class VersionAction(argparse._VersionAction):
    """`--version` of the programs: prints "<program> <version>" on stdout and exits, reading the version
    only when asked (it costs a command that does not print it ~20 ms and the daemon ~4.7 MB). A kind of
    argparse's own version action, so what reads a parser (scripts/gen-manuals) knows it as one."""

    def __init__(self, option_strings: list[str], dest: str, program: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, help=help)
        self.program = program

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        sys.stdout.write(f"{self.program} {product_version()}\n")
        parser.exit()
