"""Word2vec's own update (SGD applied inside the skip-gram and CBOW ops' backward, in fixed
chunks of windows) against the reference: the op's separate gradients and an SGD step,
one window at a time; several chunks against the sum of each chunk's own run; the same
bits for any number of threads; and the trainer's choice of path."""
import numpy as np
import pytest

import nnpipe.autograd.functions as F
from nnpipe import kernels
from nnpipe.autograd import no_grad
from nnpipe.config import ConfigError, load_config
from nnpipe.nn import Parameter
from nnpipe.optim import build_optimizer
from nnpipe.training import Trainer

from helpers import assert_clean_failure, invoke, skipgram_config, word_batch

numba = pytest.importorskip("numba")

OPS = {"skipgram": F.skipgram_ns, "cbow": F.cbow_ns, "cbow exact": lambda *a: F.cbow_ns(*a, exact=True)}


def tables(dtype, vocab=37, dim=7):
    rng = np.random.default_rng(1)
    return (Parameter(rng.normal(0, 0.3, (vocab, dim)).astype(dtype)),
            Parameter(rng.normal(0, 0.3, (vocab, dim)).astype(dtype)))


def cbow_batch(seed):
    """A word batch whose every window has a context (as CBOW's windows do)."""
    centres, contexts, pair_window, negatives = word_batch(seed)
    has = np.bincount(pair_window, minlength=len(centres)) > 0
    return centres[has], contexts, (np.cumsum(has) - 1)[pair_window], negatives[has]


def batch_for(name, seed=0, shared=True):
    return word_batch(seed, shared=shared) if name == "skipgram" else cbow_batch(seed)


def fused(name, batch, dtype, chunks, lr=0.1, vocab=37, hogwild=False):
    """(loss, tables) after one fused step."""
    W_in, W_out = tables(dtype, vocab)
    optimizer = build_optimizer("sgd", [W_in, W_out], lr=lr)
    assert optimizer.apply_in_backward(chunks, hogwild)
    loss = OPS[name](W_in, W_out, *batch)
    loss.backward()
    assert W_in.grad is None and W_out.grad is None  # nothing left for the optimizer's step
    optimizer.step()
    return float(loss.data), W_in.data, W_out.data


def window_by_window(name, batch, dtype, windows, lr=0.1, start=None):
    """The reference: the op's gradients of one window at a time, each followed by an SGD
    step (the windows ``windows`` of the batch, from ``start`` or the fresh tables)."""
    centres, contexts, pair_window, negatives = batch
    W_in, W_out = tables(dtype)
    if start is not None:
        W_in.data[...], W_out.data[...] = start
    optimizer = build_optimizer("sgd", [W_in, W_out], lr=lr)
    total = 0.0
    for w in windows:
        mine = pair_window == w
        if not mine.any():
            continue
        loss = OPS[name](W_in, W_out, centres[w:w + 1], contexts[mine], np.zeros(mine.sum(), np.int64),
                         negatives[w:w + 1])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += float(loss.data)
    return total, W_in.data, W_out.data


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("dtype,tolerance", [(np.float64, 1e-13), (np.float32, 2e-6)])
def test_one_chunk_is_the_reference_window_by_window(name, dtype, tolerance):
    batch = batch_for(name)
    loss, W_in, W_out = fused(name, batch, dtype, chunks=1)
    expected_loss, expected_in, expected_out = window_by_window(name, batch, dtype, range(len(batch[0])))
    assert loss == pytest.approx(expected_loss, rel=tolerance)
    np.testing.assert_allclose(W_in, expected_in, rtol=0, atol=tolerance * 10)
    np.testing.assert_allclose(W_out, expected_out, rtol=0, atol=tolerance * 10)


def test_per_pair_windows_are_word2vecs_pair_by_pair_update():
    batch = word_batch(2, shared=False)  # a window per pair, as configs/skipgram.yaml trains
    loss, W_in, W_out = fused("skipgram", batch, np.float64, chunks=1)
    expected = window_by_window("skipgram", batch, np.float64, range(len(batch[0])))
    np.testing.assert_allclose(loss, expected[0], rtol=1e-13)
    np.testing.assert_allclose(W_out, expected[2], atol=1e-12)


@pytest.mark.parametrize("name", ["skipgram", "cbow"])
@pytest.mark.parametrize("chunks", [2, 5, 40])  # 40: more chunks than windows
def test_chunks_add_their_changes_to_the_step_start(name, chunks):
    batch = batch_for(name, seed=4)
    loss, W_in, W_out = fused(name, batch, np.float64, chunks)
    start = tables(np.float64)
    starting = tuple(t.data.copy() for t in start)
    changed, total = [np.zeros_like(t) for t in starting], 0.0
    windows = len(batch[0])
    for chunk in range(chunks):
        mine = range(chunk * windows // chunks, (chunk + 1) * windows // chunks)
        part_loss, *after = window_by_window(name, batch, np.float64, mine, start=starting)
        total += part_loss
        for change, table, begin in zip(changed, after, starting):
            change += table - begin
    assert loss == pytest.approx(total, rel=1e-12)
    np.testing.assert_allclose(W_in, starting[0] + changed[0], atol=1e-12)
    np.testing.assert_allclose(W_out, starting[1] + changed[1], atol=1e-12)


@pytest.mark.parametrize("name", ["skipgram", "cbow"])
def test_the_same_bits_for_any_thread_count(threads, name):
    batch = (word_batch(3, vocab=500, windows=400) if name == "skipgram" else cbow_batch(3))
    first, second = threads(lambda: fused(name, batch, np.float32, chunks=4, vocab=500))
    assert first[0] == second[0]
    for a, b in zip(first[1:], second[1:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["skipgram", "cbow"])
def test_hogwild_chunks_on_one_thread_are_one_chunk_in_place(name):
    """Hogwild's chunks share the tables: run one after another they are word2vec's single
    sequential pass (on several threads they race, and no two runs need agree)."""
    batch = batch_for(name, seed=5)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        racing = fused(name, batch, np.float64, chunks=4, hogwild=True)
    finally:
        numba.set_num_threads(before)
    sequential = fused(name, batch, np.float64, chunks=1)
    assert racing[0] == pytest.approx(sequential[0], rel=1e-14)  # summed per chunk, then in order
    for a, b in zip(racing[1:], sequential[1:]):
        np.testing.assert_array_equal(a, b)


def test_a_step_whose_loss_is_not_finite_changes_nothing():
    W_in, W_out = tables(np.float32)
    W_in.data[3] = np.inf
    before = W_in.data.copy(), W_out.data.copy()
    assert build_optimizer("sgd", [W_in, W_out], lr=0.1).apply_in_backward(2)
    centres, contexts, pair_window, negatives = word_batch(0)
    centres[0], pair_window[:2] = 3, 0  # window 0, centred on the infinite row, has pairs
    loss = F.skipgram_ns(W_in, W_out, centres, contexts, pair_window, negatives)
    loss.backward()
    assert not np.isfinite(float(loss.data))
    np.testing.assert_array_equal(W_in.data, before[0])
    np.testing.assert_array_equal(W_out.data, before[1])
    # the workspace it used is clean: the next step is the same as a first one
    W_in.data[3] = before[1][3]
    np.testing.assert_array_equal(fused("skipgram", word_batch(1), np.float32, 2)[1],
                                  fused("skipgram", word_batch(1), np.float32, 2)[1])


def test_an_update_in_backward_cannot_be_scaled_and_no_grad_changes_nothing():
    W_in, W_out = tables(np.float32)
    build_optimizer("sgd", [W_in, W_out], lr=0.1).apply_in_backward(2)
    with pytest.raises(RuntimeError, match="cannot be scaled"):
        (F.skipgram_ns(W_in, W_out, *word_batch(0)) * 2).backward()
    before = W_in.data.copy()
    with no_grad():
        F.skipgram_ns(W_in, W_out, *word_batch(0))
    np.testing.assert_array_equal(W_in.data, before)


def test_other_optimizers_and_the_reference_path_keep_their_gradients():
    W_in, W_out = tables(np.float32)
    assert not build_optimizer("sgd", [W_in, W_out], lr=0.1, weight_decay=0.1).apply_in_backward(2)
    assert not build_optimizer("adam", [W_in, W_out]).apply_in_backward(2)
    build_optimizer("sgd", [W_in, W_out], lr=0.1).apply_in_backward(2)
    kernels.set_mode("reference")  # as on a GPU: gradients, then the optimizer's step
    try:
        F.skipgram_ns(W_in, W_out, *word_batch(0)).backward()
    finally:
        kernels.set_mode("auto")
    assert W_in.grad is not None and W_out.grad is not None


def test_the_trainer_fuses_sgd_only_where_it_can(tmp_path):
    path = skipgram_config(tmp_path)
    assert Trainer(load_config(path, ["device=cpu"]), quiet=True).fused_update
    for change in ("train.fused_update=false", "train.grad_clip=1.0", "optimizer.name=adam"):
        assert not Trainer(load_config(path, ["device=cpu", change]), quiet=True).fused_update, change
    hogwild = Trainer(load_config(path, ["device=cpu", "train.deterministic=false", "train.update_chunks=3"]),
                      quiet=True)
    assert hogwild.fused_update and hogwild.optimizer.hogwild_in_backward
    assert hogwild.optimizer.chunks_in_backward == 3


def test_large_summed_steps_are_refused_before_a_run_directory(tmp_path):
    """Steps over 4,000 words need the fused update: elsewhere (a GPU, MPI, another optimizer,
    clipping, the reference kernels) their summed gradients diverge, so the config is refused."""
    path = skipgram_config(tmp_path)
    large = ["device=cpu", "data.batch_size=40000"]
    Trainer(load_config(path, large), quiet=True)  # fused: fine
    with pytest.raises(ConfigError, match="data.batch_size 40000: a step that sums its gradients diverges"):
        Trainer(load_config(path, [*large, "train.fused_update=false"]), quiet=True)
    kernels.set_mode("reference")
    try:
        with pytest.raises(ConfigError, match="set data.batch_size to 1000"):
            Trainer(load_config(path, large), quiet=True)
    finally:
        kernels.set_mode("auto")
    result = invoke("train", path, "--set", "data.batch_size=40000", "--set", "train.fused_update=false")
    assert_clean_failure(result, 2, "data.batch_size 40000")
    assert not (tmp_path / "runs").exists()
