"""word2vec: corpus pipeline, pair generation, evaluation against gensim, training and
`nnpipe embed` end to end on a shipped corpus."""
import json
import shutil

import numpy as np
import pytest

from nnpipe.data import DataError
from nnpipe.data.corpus import tokenize
from nnpipe.data.text import NegativeSampler, keep_probabilities, load_corpus, skipgram_pairs
from nnpipe.data.token_store import Vocabulary
from nnpipe.data.wordeval import WordVectors, default_eval_file, read_analogies, spearman

from helpers import MOBY, assert_resume_is_bit_exact, invoke, only_run, skipgram_config


def test_tokenize_lowercases_and_keeps_inner_apostrophes():
    assert tokenize("Don't call me Ishmael--O'er the sea, 1851!") == ["don't", "call", "me", "ishmael", "o'er",
                                                                       "the", "sea"]


def test_vocabulary_counts_order_and_tsv_round_trip(tmp_path):
    corpus = load_corpus([MOBY], min_count=5)
    vocab = corpus.vocab
    assert vocab.words[:3] == ["the", "of", "and"]
    assert (np.diff(vocab.counts) <= 0).all() and vocab.counts.min() >= 5
    assert len(corpus.ids) == vocab.counts.sum()
    limited = load_corpus([MOBY], min_count=1, max_vocab=100)
    assert len(limited.vocab) == 100
    vocab.save(tmp_path / "vocab.tsv")
    again = Vocabulary.load(tmp_path / "vocab.tsv")
    assert again.words == vocab.words and np.array_equal(again.counts, vocab.counts)


def test_corpus_errors_are_clear(tmp_path):
    with pytest.raises(DataError, match="corpus file not found"):
        load_corpus([str(tmp_path / "none.txt")])
    (tmp_path / "tiny.txt").write_text("just a few words\n")
    with pytest.raises(DataError, match="no word occurs 5 times"):
        load_corpus([str(tmp_path / "tiny.txt")])


def test_keep_probability_is_mikolovs_formula():
    counts = np.array([1000, 100, 10, 1])
    threshold = 1e-3 * counts.sum()
    expected = (np.sqrt(counts / threshold) + 1) * threshold / counts
    np.testing.assert_allclose(keep_probabilities(counts, 1e-3), np.minimum(expected, 1))
    assert (keep_probabilities(counts, 0) == 1).all()


def test_negative_sampler_follows_unigram_to_the_075():
    counts = np.array([5000, 1000, 200, 40, 8])
    draws = NegativeSampler(counts).sample(np.random.default_rng(0), (400_000,))
    expected = counts**0.75 / (counts**0.75).sum()
    np.testing.assert_allclose(np.bincount(draws, minlength=5) / 400_000, expected, atol=2e-3)


def test_pairs_match_a_loop_reference_and_respect_sentences():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, 40)
    sentence_of = np.repeat([0, 1, 2], [15, 10, 15])
    centers = np.arange(5, 35)
    got_w, got_o = skipgram_pairs(ids, sentence_of, centers, 3, np.random.default_rng(7))
    got_c = ids[centers[got_w]]
    assert (np.diff(got_w) >= 0).all()  # centre by centre
    reach = np.random.default_rng(7).integers(1, 4, len(centers))
    expected = []
    for center, b in zip(centers, reach):
        for other in range(center - b, center + b + 1):
            if other != center and 0 <= other < len(ids) and sentence_of[other] == sentence_of[center]:
                expected.append((ids[center], ids[other]))
    assert sorted(zip(got_c.tolist(), got_o.tolist())) == sorted(expected)


def test_spearman_gives_ties_their_average_rank():
    assert spearman(np.arange(5.0), [2.0, 4, 6, 8, 10]) == pytest.approx(1.0)
    assert spearman([1.0, 1, 2], [1.0, 2, 3]) == pytest.approx(0.8660254037844387)  # ranks (1.5, 1.5, 3)


@pytest.fixture(scope="module")
def random_vectors():
    corpus = load_corpus(None, min_count=5)
    rng = np.random.default_rng(0)
    # vectors with some structure: frequent words share directions, so analogies are not all wrong
    base = rng.standard_normal((len(corpus.vocab), 24)).astype(np.float32)
    return WordVectors(corpus.vocab.words, base)


@pytest.mark.slow
def test_evaluation_matches_gensim_on_the_same_vectors(random_vectors, tmp_path):
    gensim = pytest.importorskip("gensim")
    path = tmp_path / "v.txt"
    random_vectors.save_word2vec(path)
    kv = gensim.models.KeyedVectors.load_word2vec_format(str(path))
    wordsim, analogies = default_eval_file("wordeval/wordsim353.tsv"), default_eval_file("wordeval/questions-words.txt")
    rho, used, oov = random_vectors.evaluate_word_pairs(wordsim)
    reference = kv.evaluate_word_pairs(str(wordsim))
    assert rho == pytest.approx(reference[1].statistic, abs=1e-6)
    assert oov / (used + oov) * 100 == pytest.approx(reference[2])
    accuracy, _, answered, _ = random_vectors.evaluate_analogies(analogies, restrict=30_000)
    ref_accuracy, sections = kv.evaluate_word_analogies(str(analogies), restrict_vocab=30_000)
    ref_total = sections[-1]
    assert answered == len(ref_total["correct"]) + len(ref_total["incorrect"])
    assert accuracy == pytest.approx(ref_accuracy, abs=2 / answered)  # float32 near-ties may flip one


@pytest.mark.parametrize("kind", ["gensim binary", "gensim text", "glove"])
def test_embed_reads_vectors_trained_elsewhere(random_vectors, tmp_path, kind):
    """word2vec's formats as gensim writes them and GloVe's headerless text: the same
    vectors and the same neighbours as gensim finds, from ``nnpipe embed FILE``."""
    gensim = pytest.importorskip("gensim")
    from nnpipe.data.vector_files import load_vectors

    kv = gensim.models.KeyedVectors(24)
    kv.add_vectors(random_vectors.words[:2000], random_vectors.vectors[:2000])
    path = tmp_path / f"{kind.replace(' ', '-')}.vec"
    if kind == "glove":
        path.write_text("".join(f"{w} {' '.join(repr(float(x)) for x in kv[w])}\n" for w in kv.index_to_key))
    else:
        kv.save_word2vec_format(str(path), binary=kind == "gensim binary")
    loaded = load_vectors(path)
    assert loaded.words == kv.index_to_key and np.array_equal(loaded.vectors, kv.vectors)
    assert len(load_vectors(path, limit=10).words) == 10
    result = invoke("embed", path, "--nearest", "whale", "-k", "3")
    expected = [word for word, _ in kv.most_similar("whale", topn=3)]
    assert result.exit_code == 0 and [line.split()[1] for line in result.stdout.splitlines()[1:]] == expected


def test_embed_names_a_file_that_holds_no_vectors(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some words\nand more\n")
    result = invoke("embed", path, "--nearest", "whale")
    assert result.exit_code == 2 and "notes.txt: not a word-vector file" in result.stderr


@pytest.mark.slow
def test_export_loads_in_gensim_text_and_binary(random_vectors, tmp_path):
    gensim = pytest.importorskip("gensim")
    for binary in (False, True):
        path = tmp_path / f"v{int(binary)}.bin"
        random_vectors.save_word2vec(path, binary=binary)
        kv = gensim.models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert kv.index_to_key[:5] == random_vectors.words[:5] and len(kv) == len(random_vectors.words)
        np.testing.assert_allclose(kv["whale"], random_vectors.vectors[random_vectors.index["whale"]], rtol=1e-5)


def test_nearest_and_analogy_exclude_inputs(random_vectors):
    words = [w for w, _ in random_vectors.nearest("whale", k=5)]
    assert len(words) == 5 and "whale" not in words
    scores = [s for _, s in random_vectors.nearest("whale", k=5)]
    assert scores == sorted(scores, reverse=True)
    answer = [w for w, _ in random_vectors.analogy("man", "king", "woman", k=3)]
    assert not {"man", "king", "woman"} & set(answer)
    with pytest.raises(DataError, match="'whalle' is not in the vocabulary.*close spellings: whale"):
        random_vectors.nearest("whalle")


def test_queries_read_the_table_in_blocks_and_keep_no_normalised_copy(random_vectors):
    """Cosine queries against a brute-force reference over the whole table (~31,000 words:
    two blocks); the object holds the vectors and their lengths, not a second table (a
    pretrained table is gigabytes)."""
    vectors = random_vectors.vectors
    assert len(vectors) > WordVectors.BLOCK
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    whale = random_vectors.index["whale"]
    scores = unit @ unit[whale]
    scores[whale] = -np.inf
    expected = [random_vectors.words[j] for j in np.argsort(-scores, kind="stable")[:5]]
    assert [w for w, _ in random_vectors.nearest("whale", k=5)] == expected
    held = sum(a.nbytes for a in vars(random_vectors).values() if isinstance(a, np.ndarray))
    assert held < 1.1 * vectors.nbytes


def test_analogy_file_sections():
    sections = read_analogies(default_eval_file("wordeval/questions-words.txt"))
    assert len(sections) == 14 and sum(len(q) for q in sections.values()) == 19544


@pytest.fixture(scope="module")
def skipgram_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sg")
    result = invoke("train", str(skipgram_config(folder)), "--quiet")
    assert result.exit_code == 0, result.output + result.stderr
    return only_run(folder / "runs")


def test_training_writes_vocab_and_word_metrics(skipgram_run):
    assert (skipgram_run / "vocab.tsv").read_text().startswith("the\t")
    rows = [json.loads(line) for line in (skipgram_run / "metrics.jsonl").read_text().splitlines()]
    epoch = [r for r in rows if r["kind"] == "epoch"][0]
    assert {"val_ws353", "val_analogy", "words_per_s"} <= set(epoch)
    assert epoch["train_loss"] < 0.95 * 4 * np.log(2)  # below the loss at the start
    summary = json.loads((skipgram_run / "summary.json").read_text())
    assert summary["best"]["metric"] == "val_ws353"


def test_embed_nearest_analogy_evaluate_export(skipgram_run, tmp_path):
    result = invoke("embed", str(skipgram_run), "--nearest", "Whale", "-k", "4")
    assert result.exit_code == 0, result.output
    assert "nearest to 'whale'" in result.output and len(result.output.strip().splitlines()) == 5
    result = invoke("embed", str(skipgram_run), "--analogy", "man", "king", "woman")
    assert result.exit_code == 0 and "king - man + woman" in result.output
    result = invoke("embed", str(skipgram_run), "--evaluate")
    assert result.exit_code == 0 and "WordSim-353 Spearman" in result.output and "gram8-plural" in result.output
    out = tmp_path / "vectors.txt"
    result = invoke("embed", str(skipgram_run), "--export", str(out))
    assert result.exit_code == 0 and out.read_text().split("\n")[0].split()[1] == "24"


def test_embed_defaults_to_the_newest_skipgram_run(skipgram_run, tmp_path, monkeypatch):
    shutil.copytree(skipgram_run, tmp_path / "runs/sg/20000101-000000-aaaa")
    newer_mlp = tmp_path / "runs/mlp/29990101-000000-bbbb"
    newer_mlp.mkdir(parents=True)
    (newer_mlp / "config.yaml").write_text("model: {name: mlp}\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("embed", "--nearest", "whale", "-k", "2")
    assert result.exit_code == 0, result.output + result.stderr
    # it says which run answered (#27: a user got a GloVe run's answer without a word)
    assert result.stdout.splitlines()[0] == "latest word-vector run: runs/sg/20000101-000000-aaaa"
    plotted = invoke("plot", "runs/sg/20000101-000000-aaaa")  # the run's own metrics, not accuracy
    assert plotted.exit_code == 0 and ": loss, pairs_per_word, ws353, analogy of" in plotted.output
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    result = invoke("embed", "--nearest", "whale")
    assert result.exit_code == 2 and "no word-vector runs under runs/" in result.stderr


def test_embed_unknown_word_and_wrong_run_are_clear_errors(skipgram_run, tmp_path):
    result = invoke("embed", str(skipgram_run), "--nearest", "whalle")
    assert result.exit_code == 2 and "close spellings: whale" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    fake = tmp_path / "runs/mlp/x"
    (fake / "checkpoints").mkdir(parents=True)
    (fake / "config.yaml").write_text("model: {name: mlp}\n")
    (fake / "summary.json").write_text('{"model": "mlp"}')
    result = invoke("embed", str(fake), "--nearest", "whale")
    assert result.exit_code == 2 and "is not a word-vector run" in result.stderr
    result = invoke("embed", str(skipgram_run))
    assert result.exit_code == 2 and "--nearest WORD" in result.stderr


def test_skipgram_resume_from_step_checkpoint_is_bit_exact(tmp_path):
    assert_resume_is_bit_exact(skipgram_config(tmp_path, checkpoint_every=60, keep_last=5), tmp_path, 120)


def test_batches_made_ahead_in_a_thread_are_the_batches_in_order(tmp_path):
    """The text task makes the next batch in a worker thread while one trains: the same
    batches as made one by one, and the loader's position (what a checkpoint records) says
    which batch is training."""
    from nnpipe.config import load_config
    from nnpipe.tasks import build_task

    task = build_task(load_config(skipgram_config(tmp_path), ["data.batch_size=20000"]), np)
    expected = [task.make_batch(0, index) for index in range(len(task.loader))]
    expected = [batch for batch in expected if batch is not None]
    positions, made = [], []
    for batch in task.batches():
        positions.append(task.loader.batch_index)
        made.append(batch)
    assert len(made) == len(expected) > 2 and positions == list(range(1, len(made) + 1))
    for (arrays, words), (want, want_words) in zip(made, expected):
        assert words == want_words and all(np.array_equal(a, b) for a, b in zip(arrays, want))
    assert (task.loader.epoch, task.loader.batch_index) == (1, 0)
    task.loader.epoch, task.loader.batch_index = 0, 2  # a resumed epoch starts where the checkpoint says
    assert np.array_equal(next(iter(task.batches()))[0][0], expected[2][0][0])
