"""``python -m hub`` is ``sihub``."""

from hub.cli import run

run()
