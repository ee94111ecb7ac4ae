"""One script per figure. Each module has ``plot(record) -> matplotlib Figure``; run it as
``python -m figures.<name> [--profile quick|full]`` to (re)draw from the stored record, computing it first if none is
stored. ``theory-lab figures`` redraws them all. Output: ``figures/out/`` (or ``$THEORY_LAB_FIGURES``)."""

from __future__ import annotations

import sys


def main(check_id: str, argv: list[str] | None = None) -> None:
    from theory_lab.cli import main as cli_main

    sys.exit(cli_main(["figures", check_id, *(argv if argv is not None else sys.argv[1:])]))
