"""The lectures' worked examples (scripts/examples/*.py) reproduce the lectures' numbers."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "scripts" / "examples"


def example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_1_graph_values_and_gradients():
    rows, dot = example("graph_sqrt_log").run()
    values = {name: value for name, value, _ in rows}
    grads = {name: grad for name, _, grad in rows}
    assert round(values["3√x"], 2) == 3.29 and round(values["log x"], 2) == 0.18
    assert round(values["1/x"], 2) == 0.83 and round(values["log x + (1/x)²"], 2) == 0.88
    assert round(values["y"], 2) == 2.88 and round(grads["x"], 2) == 0.14
    closed_form = 3 / (2 * 1.2**0.5) * (np.log(1.2) + 1.2**-2) + 3 * 1.2**0.5 * (1 / 1.2 - 2 * 1.2**-3)
    assert grads["x"] == pytest.approx(closed_form, rel=1e-12)  # dy/dx by hand
    assert grads["3√x"] == pytest.approx(values["log x + (1/x)²"])  # a mul gate switches its inputs
    assert dot.startswith("digraph") and dot.count("shape=box") == 7


def test_2_gate_patterns():
    rows = example("gates").gate_rows()
    assert rows["add  q = x + y"] == (-4.0, (1.0, 1.0), (-4.0, -4.0))  # distributes
    assert rows["mul  f = q * z"] == (1.0, (-4.0, 3.0), (-4.0, 3.0))  # switches
    assert rows["max  m = max(x, y)"] == (-4.0, (0.0, 1.0), (0.0, -4.0))  # routes


def test_3_sigmoid_neuron_single_op_equals_primitives():
    module = example("sigmoid_neuron")
    (value, grads), (value_p, grads_p) = module.neuron(False), module.neuron(True)
    assert round(value, 2) == 0.73 and value == pytest.approx(value_p, abs=1e-15)
    assert [round(grads[k], 2) for k in ("w0", "x0", "w1", "x1", "w2")] == [-0.20, 0.39, -0.39, -0.59, 0.20]
    assert grads == pytest.approx(grads_p, abs=1e-15)


def test_4_two_layer_net_by_hand_equals_autograd():
    module = example("two_layer_numpy")
    numpy_losses, autograd_losses = module.by_hand(steps=300), module.with_autograd(steps=300)
    np.testing.assert_allclose(autograd_losses, numpy_losses, rtol=1e-10)
    assert numpy_losses[-1] < numpy_losses[0] / 10


@pytest.mark.slow
def test_5_optimizers_reach_the_bowl_minimum():
    module = example("optimizers")
    steps = {name: module.trajectory("bowl", name)[1] for name in module.OPTIMIZERS}
    assert all(steps.values()), steps
    points, reached = module.trajectory("rosenbrock", "adam")
    assert reached and np.allclose(points[-1], [1, 1], atol=0.02)


def test_6_cnn_shapes_and_parameter_counts():
    rows = example("cnn_shapes").main()
    shapes = [shape for _, _, shape, _, _ in rows]
    assert shapes[:6] == [(6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5)]
    assert [count for *_, count, _ in rows if count] == [456, 2416, 48120, 10164, 850]


def test_7_word2vec_queries_rank_the_expected_answers(tmp_path):
    """On vectors built so that the analogies hold exactly, the script ranks the answers first."""
    from nnpipe.training.checkpoint import save_checkpoint

    words = ["king", "queen", "man", "woman", "paris", "france", "rome", "italy", "frog", "toad", "newt"]
    rng = np.random.default_rng(0)
    royal, female, capital = rng.standard_normal((3, 16))
    base = {w: rng.standard_normal(16) * 0.1 for w in words}
    base["queen"] = base["king"] + female
    base["woman"] = base["man"] + female
    base["king"] = base["king"] + royal
    base["queen"] = base["queen"] + royal
    base["rome"] = base["italy"] + capital
    base["paris"] = base["france"] + capital
    run = tmp_path / "runs/skipgram/x"
    (run / "checkpoints").mkdir(parents=True)
    (run / "vocab.tsv").write_text("".join(f"{w}\t{100 - i}\n" for i, w in enumerate(words)))
    (run / "summary.json").write_text('{"model": "skipgram"}')
    (run / "config.yaml").write_text("model: {name: skipgram, dim: 16}\ndata: {name: text}\nloss: {name: sgns}\n")
    vectors = np.stack([base[w] for w in words]).astype(np.float32)
    save_checkpoint(run / "checkpoints/best.npz", {"model": {"center.weight": vectors,
                                                             "context.weight": np.zeros_like(vectors)}})
    results = example("word2vec_queries").main(run)
    assert results[("man", "king", "woman")][0] == 1 and results[("france", "paris", "italy")][0] == 1


def test_8_lsa_titles_reproduce_the_appendix_correlations():
    module = example("lsa_titles")
    matrix = module.counts()
    assert matrix.shape == (12, 9) and matrix.sum() == 29 and matrix[module.WORDS.index("system"), 3] == 2
    # Landauer, Foltz and Laham (1998), appendix: -.38 -> .94 and -.29 -> -.83
    rounded = {pair: (round(before, 2), round(after, 2)) for pair, (before, after) in module.correlations().items()}
    assert rounded == {("human", "user"): (-0.38, 0.94), ("human", "minors"): (-0.29, -0.83)}
    # the reconstruction's "human" row as the appendix prints it (two decimals)
    human = module.reconstruction(matrix)[0]
    np.testing.assert_allclose(human, [0.16, 0.40, 0.38, 0.47, 0.18, -0.05, -0.12, -0.16, -0.09], atol=0.005)
