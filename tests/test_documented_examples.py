"""Every ``nnpipe`` example in README.md and in the commands' --help texts names a real
command with real options; the cheap ones (no training) also run."""
import re
import shlex
import shutil
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from nnpipe.cli import app

ROOT = Path(__file__).resolve().parent.parent
CLI = typer.main.get_command(app)
CHEAP = ("config show", "summary", "graph", "data verify", "version", "runs")  # run for real, in a scratch folder


def _readme_examples():
    """Commands in README's bash blocks, and in the last column of its tables."""
    text = (ROOT / "README.md").read_text()
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("nnpipe "):
                    yield part
    for row in re.findall(r"^\|.*\| `(nnpipe [^`]+)` \|$", text, re.M):
        yield row


def _help_examples(command=CLI, prefix=("nnpipe",)):
    for name, sub in getattr(command, "commands", {}).items():
        yield from _help_examples(sub, prefix + (name,))
    for line in (command.help or "").splitlines():
        if line.strip().startswith("nnpipe "):
            yield line.strip()
        elif "Example: nnpipe " in line:
            yield line.split("Example: ", 1)[1].strip()


EXAMPLES = sorted(set(_readme_examples()) | set(_help_examples()))


def _command_and_args(example):
    words = shlex.split(example)[1:]
    command, path = CLI, []
    while hasattr(command, "commands") and words and words[0] in command.commands:
        path.append(words[0])
        command = command.commands[words.pop(0)]
    return command, " ".join(path), words


def test_the_examples_were_found():
    assert len(EXAMPLES) >= 20 and any(e.startswith("nnpipe embed") for e in EXAMPLES)
    readme = set(_readme_examples())
    assert {"nnpipe version", "nnpipe data verify"} <= readme and len(readme) >= 20  # the command table too


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_parses_against_its_command(example):
    command, path, words = _command_and_args(example)
    assert path, f"{example!r} names no nnpipe command"
    with command.make_context(path, list(words), resilient_parsing=False) as context:  # raises on bad flags
        assert context.command is command


@pytest.mark.parametrize("example", [e for e in EXAMPLES if _command_and_args(e)[1] in CHEAP])
def test_cheap_examples_run(example, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, shlex.split(example)[1:])
    if re.search(r"--out \S+\.(png|svg)", example) and shutil.which("dot") is None:
        assert result.exit_code == 2 and "needs Graphviz's dot" in result.stderr  # as README says
        return
    assert result.exit_code == 0, (example, result.output)
