"""Writes the virtual environment's `inverse-path.pth`: at every start of its Python it puts
the given directories (the project's `bin`, whose `anvil` keeps no state on disk, the
environment's `bin`, with the vyper compiler, and npm's Anvil) at the front of PATH, in that
order and once each, so `.venv/bin/ape ...` finds them without an activated shell and the
project's `anvil` always comes before npm's.

Usage: python tools/project_path.py DIR [DIR ...]  (run by `make setup`)
"""

import sys
import sysconfig
from pathlib import Path

# A .pth file runs a line that starts with `import` when the interpreter starts (its
# names are not visible inside a comprehension, hence the lambda's default).
LINE = (
    "import os; _dirs = {dirs!r}; "
    "os.environ['PATH'] = os.pathsep.join("
    "_dirs + list(filter(lambda p, _d=_dirs: p and p not in _d, os.environ.get('PATH', '').split(os.pathsep))))\n"
)


def main(dirs: list[str]) -> Path:
    target = Path(sysconfig.get_paths()["purelib"]) / "inverse-path.pth"
    target.write_text(LINE.format(dirs=[str(Path(d).resolve()) for d in dirs]))
    return target


if __name__ == "__main__":
    main(sys.argv[1:])
