"""The computational graph behind a tensor, as data and as Graphviz DOT."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .. import backend


class GraphvizError(RuntimeError):
    """Graphviz's ``dot`` is missing or could not render."""


def walk(*outputs):
    """(tensors, functions) reachable from ``outputs`` by following creators, each in
    the order first met; iterative, so deep graphs are fine.  Call before backward (or
    backward with retain_graph=True): backward releases the graph."""
    tensors, functions, seen = [], [], set()
    stack = list(outputs)
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        tensors.append(tensor)
        function = tensor.creator
        if function is not None and function.inputs and id(function) not in seen:
            seen.add(id(function))
            functions.append(function)
            stack.extend(function.inputs)
    return tensors, functions


def _describe(tensor):
    parts = [tensor.name] if tensor.name else []
    parts.append(f"{tuple(tensor.shape)} {tensor.dtype}")
    if tensor.size == 1:
        parts.append(f"value {float(backend.to_numpy(tensor.data).ravel()[0]):.4g}")
        if tensor.grad is not None and not hasattr(tensor.grad, "rows"):
            parts.append(f"grad {float(backend.to_numpy(tensor.grad).ravel()[0]):.4g}")
    return "\\n".join(parts)


def to_dot(*outputs, title="nnpipe"):
    """Graphviz DOT text: ellipses for tensors (name, shape, dtype, and value/grad when
    scalar), boxes for operations, arrows in the direction of the forward pass."""
    tensors, functions = walk(*outputs)
    # nodes are named by the order the walk meets them, so the same graph gives the same text
    tensor_ids = {id(tensor): f"t{index}" for index, tensor in enumerate(tensors)}
    lines = [f'digraph "{title}" {{', "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for tensor in tensors:
        style = ', style=filled, fillcolor="#dbe9f6"' if tensor.creator is None else ""
        lines.append(f'  {tensor_ids[id(tensor)]} [shape=ellipse, label="{_describe(tensor)}"{style}];')
    for index, function in enumerate(functions):
        lines.append(f'  f{index} [shape=box, style=rounded, label="{type(function).__name__}"];')
        for tensor in function.inputs:
            lines.append(f"  {tensor_ids[id(tensor)]} -> f{index};")
        for ref in function.outputs:
            output = ref()
            if output is not None and id(output) in tensor_ids:
                lines.append(f"  f{index} -> {tensor_ids[id(output)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_dot(dot: str, out):
    """The image bytes of DOT text in the format of ``out``'s suffix, rendered by Graphviz's
    ``dot`` program when it is installed."""
    out = Path(out)
    program = shutil.which("dot")
    if program is None:
        raise GraphvizError(f"writing {out.suffix} needs Graphviz's dot (apt-get install graphviz); "
                            "use --out graph.dot to get the DOT text instead")
    result = subprocess.run([program, f"-T{out.suffix.lstrip('.')}"], input=dot.encode(), capture_output=True)
    if result.returncode != 0:
        raise GraphvizError(f"dot could not render {out}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout
