"""Registers `motcua-hub simulate` on the command group."""

from __future__ import annotations

from hub.cli import main
from hub.simulate.cli import simulate

main.add_command(simulate)
