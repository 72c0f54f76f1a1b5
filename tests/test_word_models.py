"""CBOW, GloVe and PPMI-SVD beside skip-gram: their data, their math against direct
references, training and resume through `nnpipe train`, the vector choice, and the
embedding projector (in a real headless browser where chromium is installed)."""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import yaml

from nnpipe.data.cooccurrence import count_cooccurrences
from nnpipe.data.token_store import Corpus, Vocabulary
from nnpipe.models.svd import ppmi, randomized_svd
from nnpipe.runs import Run

from helpers import MOBY, assert_resume_is_bit_exact, invoke, metric_rows, only_run, skipgram_config, train


def word_config(folder, model, **train):
    """A small run of ``model`` on Moby-Dick (the shipped configs' settings otherwise)."""
    config = yaml.safe_load(Path(f"configs/{model}.yaml").read_text())
    config["data"].update({"corpus": [MOBY], "window": 5})
    config["model"]["dim"] = 24
    config["train"] = {"epochs": 2 if model != "svd" else 1, "log_every": 20,
                       "early_stopping": {"metric": "val_ws353"}, **train}
    config["run"] = {"root": str(folder / "runs")}
    if model == "glove":
        config["data"]["batch_size"] = 20000
    if model == "cbow":  # steps whose gradients are summed first (the GPU's path) stay small
        config["data"]["batch_size"] = 1000
    path = folder / f"{model}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# ---- data and math ---------------------------------------------------------------------
def test_cooccurrence_counts_match_a_loop_within_sentences():
    words = [f"w{i}" for i in range(5)]
    ids = np.array([0, 1, 2, 1, 3, 4, 0, 2], np.int32)
    corpus = Corpus(Vocabulary(words, np.ones(5, np.int64)), ids, np.array([0, 5]))
    rows, cols, counts = count_cooccurrences(corpus, window=3, weighting="harmonic")
    expected = np.zeros((5, 5))
    sentence = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    for i in range(len(ids)):
        for j in range(i + 1, min(i + 4, len(ids))):
            if sentence[i] == sentence[j]:
                expected[ids[i], ids[j]] += 1 / (j - i)
                expected[ids[j], ids[i]] += 1 / (j - i)
    got = np.zeros((5, 5))
    got[rows, cols] = counts
    np.testing.assert_allclose(got, expected)
    assert np.all(counts > 0) and np.all(np.diff(rows) >= 0)


def test_ppmi_and_randomized_svd_match_dense_references():
    rng = np.random.default_rng(0)
    dense = rng.poisson(2.0, (40, 40)).astype(float) * (rng.random((40, 40)) < 0.3)
    rows, cols = np.nonzero(dense)
    matrix = ppmi(rows, cols, dense[rows, cols], 40, cds=0.75, shift=1.0).toarray()
    context = dense.sum(axis=0) ** 0.75
    with np.errstate(divide="ignore"):
        pmi = np.log(dense * context.sum() / (dense.sum(axis=1, keepdims=True) * context[None, :]))
    np.testing.assert_allclose(matrix, np.where(dense > 0, np.maximum(pmi, 0), 0), atol=1e-12)
    u, s, vt = randomized_svd(scipy.sparse.csr_matrix(matrix), 5, rng, power_iterations=30)
    np.testing.assert_allclose(s, np.linalg.svd(matrix, compute_uv=False)[:5], rtol=1e-8)
    np.testing.assert_allclose(np.abs(u.T @ u), np.eye(5), atol=1e-10)


# ---- training, resume, vectors ---------------------------------------------------------
@pytest.fixture(scope="module")
def word_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("words")
    for model in ("cbow", "glove", "svd"):
        train(word_config(folder, model))
    return {run.parent.name: run for run in (folder / "runs").glob("*/*") if (run / "vocab.tsv").exists()}


@pytest.mark.slow
# WordSim-353 on Moby-Dick alone: ~150 pairs, so two epochs of CBOW stay within the noise
# of random vectors (±0.08; word2vec's exact sequential update gives 0.016 here); its
# falling loss is what shows it learns, and BENCHMARKS.md its quality on all the corpora
@pytest.mark.parametrize("model,least", [("cbow", 0.0), ("glove", 0.05), ("svd", 0.2)])
def test_each_model_trains_and_learns_something(word_runs, model, least):
    summary = yaml.safe_load((word_runs[model] / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["best"]["value"] > least
    losses = [row["train_loss"] for row in metric_rows(word_runs[model]) if row["kind"] == "epoch"]
    assert len(losses) == (1 if model == "svd" else 2)  # PPMI-SVD is one closed-form step
    assert losses == sorted(losses, reverse=True)
    result = invoke("embed", word_runs[model], "--nearest", "whale", "-k", "5")
    assert result.exit_code == 0 and result.output.count("\n") == 6, result.output


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cbow", "glove", "svd"])
def test_every_vector_choice_works_in_every_embed_command(word_runs, model, tmp_path):
    run = str(word_runs[model])
    for which in ("input", "output", "sum", "concat"):
        export = tmp_path / f"{which}.txt"
        result = invoke("embed", run, "--vectors", which, "--nearest", "whale", "--analogy", "man", "king", "woman",
                        "--evaluate", "--export", export)
        assert result.exit_code == 0, result.output + result.stderr
        size = int(export.read_text().split("\n", 1)[0].split()[1])
        assert size == (48 if which == "concat" else 24)
    result = invoke("embed", run, "--vectors", "both", "--nearest", "whale")
    assert result.exit_code == 2 and result.stderr.startswith("error: --vectors 'both'")


@pytest.mark.slow
def test_glove_uses_the_sum_and_svd_the_word_vectors_by_default(word_runs, tmp_path):
    glove = Run(word_runs["glove"]).vectors
    assert glove.kind == "sum"
    np.testing.assert_allclose(glove.vectors, Run(word_runs["glove"]).word_vectors(vectors="input").vectors
                               + Run(word_runs["glove"]).word_vectors(vectors="output").vectors, rtol=1e-6)
    assert Run(word_runs["svd"]).vectors.kind == "input"


@pytest.mark.parametrize("model,every", [("cbow", 100), ("glove", 7)])
def test_resume_from_a_step_checkpoint_is_bit_exact(tmp_path, model, every):
    config = word_config(tmp_path, model, checkpoint_every=every, keep_last=50)
    assert_resume_is_bit_exact(config, tmp_path, 2 * every)  # mid-epoch


def test_skipgram_offers_its_output_and_concatenated_vectors(tmp_path):
    train(skipgram_config(tmp_path))
    run = only_run(tmp_path / "runs")
    inputs, outputs = (Run(run).word_vectors(vectors=which).vectors for which in ("input", "output"))
    np.testing.assert_array_equal(Run(run).word_vectors(vectors="concat").vectors, np.hstack([inputs, outputs]))
    assert not np.array_equal(inputs, outputs)


# ---- the projector ---------------------------------------------------------------------
@pytest.mark.slow
def test_project_writes_the_four_files(word_runs):
    run = word_runs["svd"]
    result = invoke("embed", str(run), "--project", "--words", "200", "--around", "whale")
    assert result.exit_code == 0, result.output + result.stderr
    vocab = (run / "vocab.tsv").read_text().splitlines()
    vectors = (run / "vectors.tsv").read_text().splitlines()
    metadata = (run / "metadata.tsv").read_text().splitlines()
    assert len(vectors) == len(metadata) == len(vocab) and metadata[0] == vocab[0].split("\t")[0]
    assert len(vectors[0].split("\t")) == 24
    assert (run / "projection.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (run / "projector.html").read_text()
    assert "http://" not in page and "https://" not in page and '"whale"' in page  # self-contained
    result = invoke("embed", str(run), "--analogy", "man", "king", "woman", "--project")
    assert result.exit_code == 0, result.output + result.stderr


@pytest.mark.slow
def test_project_options_need_project(word_runs):
    result = invoke("embed", word_runs["svd"], "--nearest", "whale", "--around", "sea")
    assert result.exit_code == 2 and "--around and --words go with --project" in result.stderr


CHROMIUM = shutil.which("chromium")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_projector_page_loads_and_search_highlights_in_a_real_browser(word_runs, tmp_path):
    run = word_runs["svd"]
    assert invoke("embed", str(run), "--project", "--words", "300").exit_code == 0
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", f"file://{run / 'projector.html'}#search=whale"],
        capture_output=True, text=True, timeout=120).stdout
    body = dom[dom.index("<body"):dom.index(">", dom.index("<body"))]
    assert 'data-ready="yes"' in body and "data-error" not in body, body
    assert 'data-highlighted="whale"' in body
    status = dom[dom.index('id="status">') + 12:]
    assert status.startswith("whale: ") and status.split("<")[0].count(",") == 7


@pytest.mark.parametrize("model", ["cbow", "glove", "svd"])
def test_summary_lists_the_tables(tmp_path, model):
    result = invoke("summary", str(word_config(tmp_path, model)))
    assert result.exit_code == 0, result.output + result.stderr
    assert "(24,)" in result.output and "total parameters" in result.output
