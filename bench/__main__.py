"""``python -m bench <name> [args]``: run one benchmark (``bench/<name>.py``'s ``main``).

Each benchmark measures its own baseline in the same run, prints human-readable
lines as it goes, then one JSON line last with the figures, the ``bar`` it is held
to, the measured ``ratio`` (or value) and ``"pass"``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main(argv: list[str]) -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")
    )
    if not argv or argv[0] not in names:
        print(f"usage: python -m bench <{'|'.join(names)}> [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{argv[0]}")
    result: int = module.main(argv[1:])
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
