"""Render Graphviz DOT to an image with the ``dot`` program, when it is installed."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .rundir import RunError


def render_dot(dot: str, out: Path):
    program = shutil.which("dot")
    if program is None:
        raise RunError(f"writing {out.suffix} needs Graphviz's dot (apt-get install graphviz); "
                       "use --out graph.dot to get the DOT text instead")
    fmt = out.suffix.lstrip(".")
    result = subprocess.run([program, f"-T{fmt}", "-o", str(out)], input=dot, text=True, capture_output=True)
    if result.returncode != 0:
        raise RunError(f"dot could not render {out}: {result.stderr.strip()}")
