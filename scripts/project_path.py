"""Writes the virtual environment's `inverse-path.pth`: at every start of its Python it puts
the given directories (the environment's `bin`, with the vyper compiler, and npm's Anvil) at
the front of PATH, once, so `.venv/bin/ape ...` finds both without an activated shell.

Usage: python scripts/project_path.py DIR [DIR ...]  (run by `make setup`)
"""

import sys
import sysconfig
from pathlib import Path

# A .pth file runs a line that starts with `import` when the interpreter starts.
LINE = (
    "import os; _dirs = {dirs!r}; "
    "os.environ['PATH'] = os.pathsep.join("
    "[d for d in _dirs if d not in os.environ.get('PATH', '').split(os.pathsep)] "
    "+ [os.environ.get('PATH', '')])\n"
)


def main(dirs: list[str]) -> Path:
    target = Path(sysconfig.get_paths()["purelib"]) / "inverse-path.pth"
    target.write_text(LINE.format(dirs=[str(Path(d).resolve()) for d in dirs]))
    return target


if __name__ == "__main__":
    main(sys.argv[1:])
