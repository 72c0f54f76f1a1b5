"""``nnpipe embed --project``: the word vectors of a run as an embedding projector.

Writes into the run directory ``vectors.tsv`` and ``metadata.tsv`` (the TensorFlow
Embedding Projector's format: one vector per line, tab separated; one word per line, no
header for a single column), ``projection.png`` (a PCA map of the most frequent words)
and ``projector.html`` (the same map, self-contained: pan, zoom, hover, search).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..config import ConfigError
from ..training.rundir import write_text

NEIGHBOURS = 8  # listed for each word in the page


def pca_2d(vectors):
    """The 2-D principal-component coordinates of ``vectors`` (rows), each axis's sign
    fixed so that its largest loading is positive (the same map every time)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    axes = vt[:2] * np.sign(vt[:2][np.arange(2), np.abs(vt[:2]).argmax(axis=1)])[:, None]
    return centred @ axes.T


def chosen_words(vectors, count, around=None, analogy=None, k=10):
    """Indices to draw: the ``count`` most frequent words, plus ``around`` and its k
    nearest, plus the words of an analogy with its best answer; and the marked ones."""
    shown = list(range(min(count, len(vectors.words))))
    marked = {}
    if around:
        marked["around"] = [vectors.lookup(around)] + [vectors.lookup(w) for w, _ in vectors.nearest(around, k)]
    if analogy:
        a, b, c = analogy
        answer = vectors.analogy(a, b, c, 1)[0][0]
        marked["analogy"] = [vectors.lookup(w) for w in (a, b, c, answer)]
    for indices in marked.values():
        shown += [i for i in indices if i not in shown]
    return shown, marked


def _neighbours(vectors, shown):
    """For each shown word, its nearest shown words by cosine (positions in ``shown``)."""
    block = vectors.unit(shown)
    scores = block @ block.T
    np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1, kind="stable")[:, :NEIGHBOURS].tolist()


def write_tsv(run_dir: Path, vectors):
    write_text(run_dir / "vectors.tsv", "".join("\t".join(f"{x:.6g}" for x in row) + "\n" for row in vectors.vectors))
    write_text(run_dir / "metadata.tsv", "".join(word + "\n" for word in vectors.words))


def draw_png(path: Path, words, xy, marked, title):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError('--project draws its PNG with matplotlib: pip install -e ".[plot]"') from None
    figure, axes = plt.subplots(figsize=(16, 16), dpi=100)
    axes.scatter(xy[:, 0], xy[:, 1], s=4, color="#9aa5b1")
    special = {i for indices in marked.values() for i in indices}
    for i, word in enumerate(words):
        if i not in special:
            axes.annotate(word, xy[i], fontsize=6, color="#52606d", xytext=(2, 2), textcoords="offset points")
    for role, color in (("around", "#d64545"), ("analogy", "#2680c2")):
        for i in marked.get(role, []):
            axes.scatter(*xy[i], s=40, color=color, zorder=3)
            axes.annotate(words[i], xy[i], fontsize=11, fontweight="bold", color=color, xytext=(4, 4),
                          textcoords="offset points", zorder=4)
    if "analogy" in marked:  # the parallelogram a→b, c→d (the offset) and a→c, b→d
        a, b, c, d = (xy[i] for i in marked["analogy"])
        for start, end, style in ((a, b, "-"), (c, d, "-"), (a, c, "--"), (b, d, "--")):
            axes.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "#2680c2",
                                                                "linestyle": style, "lw": 1.5})
    axes.set_title(title)
    axes.set_xlabel("principal component 1")
    axes.set_ylabel("principal component 2")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write_html(path: Path, words, xy, neighbours, marked, title):
    data = {"title": title, "words": words, "x": [round(float(v), 5) for v in xy[:, 0]],
            "y": [round(float(v), 5) for v in xy[:, 1]], "neighbours": neighbours,
            "marked": {role: indices for role, indices in marked.items()}}
    page = (Path(__file__).with_name("projector.html").read_text()
            .replace("__TITLE__", _escape(title))
            .replace("__DATA__", json.dumps(data).replace("</", "<\\/")))
    write_text(path, page)


def _escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def project(run_dir: Path, vectors, count, around=None, analogy=None):
    """Write the four projector files for ``vectors`` into ``run_dir``; return their paths."""
    if count < 2:
        raise ConfigError(f"--words must be at least 2, got {count}")
    shown, marked = chosen_words(vectors, count, around, analogy)
    positions = {index: position for position, index in enumerate(shown)}
    marked = {role: [positions[i] for i in indices] for role, indices in marked.items()}
    words = [vectors.words[i] for i in shown]
    xy = pca_2d(vectors.vectors[shown])
    title = f"{run_dir.parent.name}/{run_dir.name}: {len(shown)} words, {vectors.kind} vectors, PCA"
    write_tsv(run_dir, vectors)
    draw_png(run_dir / "projection.png", words, xy, marked, title)
    write_html(run_dir / "projector.html", words, xy, _neighbours(vectors, shown), marked, title)
    return [run_dir / name for name in ("vectors.tsv", "metadata.tsv", "projection.png", "projector.html")]
