"""Corpora as users have them: files, folders and globs in four encodings, text8-style
lines, two tokenisers, the token store against an in-memory reference, content-keyed
reuse, bounded memory, and every bad input as one error line."""
import bz2
import collections
import gzip
import json
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnpipe.data import DataError, files
from nnpipe.data import token_store as store_module
from nnpipe.data.corpus import MAX_SENTENCE, corpus_paths, pieces, tokenize
from nnpipe.data.text import load_corpus

from helpers import MOBY, invoke, skipgram_config

ROOT = Path(__file__).resolve().parent.parent


def reference_encoding(paths, min_count=5, tokenizer="words"):
    """Today's in-memory preparation (every line tokenised into lists at once), with lines
    cut into sentences of MAX_SENTENCE words: what the store must equal."""
    def read(path):
        opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix, open)
        with opener(path, "rt", encoding="utf-8") as handle:
            yield from handle

    sentences = []
    for path in paths:
        for line in read(Path(path)):
            tokens = tokenize(line, tokenizer)
            sentences += [tokens[i:i + MAX_SENTENCE] for i in range(0, len(tokens), MAX_SENTENCE)]
    counts = collections.Counter(word for sentence in sentences for word in sentence)
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    index = {w: i for i, w in enumerate(words)}
    encoded = [s for s in ([index[w] for w in sentence if w in index] for sentence in sentences) if s]
    lengths = np.array([len(s) for s in encoded], dtype=np.int64)
    return words, np.concatenate(encoded).astype(np.int32), np.cumsum(lengths) - lengths


def assert_store_is(store, expected):
    words, ids, starts = expected
    assert store.vocab.words == words
    np.testing.assert_array_equal(store.ids, ids)
    np.testing.assert_array_equal(store.sentence_starts, starts)


def test_the_store_equals_the_in_memory_encoding_of_a_shipped_corpus():
    store = load_corpus([MOBY])
    assert isinstance(store.ids.base, np.memmap) and store.ids.dtype == np.int32  # read through a map
    assert_store_is(store, reference_encoding([files.REPO_DATA / MOBY]))
    assert store.info["tokens"] == len(store.ids) == store.vocab.counts.sum()
    assert load_corpus([MOBY]).folder == store.folder  # reused: the same content and settings


def write_corpus(folder, text):
    """The same text as .txt, .gz, .bz2 and .xz files in nested folders."""
    lines = text.splitlines(keepends=True)
    quarter = len(lines) // 4
    parts = ["".join(lines[i * quarter:(i + 1) * quarter if i < 3 else None]) for i in range(4)]
    (folder / "b").mkdir(parents=True)
    (folder / "a.txt").write_text(parts[0])
    (folder / "b" / "c.txt.gz").write_bytes(gzip.compress(parts[1].encode()))
    (folder / "b" / "d.bz2").write_bytes(bz2.compress(parts[2].encode()))
    (folder / "e.xz").write_bytes(lzma.compress(parts[3].encode()))
    (folder / "notes.md").write_text("not a corpus file")
    return [folder / "a.txt", folder / "b/c.txt.gz", folder / "b/d.bz2", folder / "e.xz"]


def test_folders_globs_and_every_compression_read_as_one_corpus(tmp_path):
    text = gzip.decompress((files.REPO_DATA / MOBY).read_bytes()).decode()
    parts = write_corpus(tmp_path / "corpus", text)
    assert corpus_paths([tmp_path / "corpus"]) == parts  # sorted by path, the .md left out
    assert corpus_paths([str(tmp_path / "corpus" / "**" / "*.*z*")]) == parts[1:]
    store = load_corpus([tmp_path / "corpus"])
    assert_store_is(store, reference_encoding(parts))
    np.testing.assert_array_equal(store.ids, load_corpus([MOBY]).ids)  # the same text, cut in four


def test_a_text8_style_line_is_cut_into_sentences_of_at_most_10000_words(tmp_path, monkeypatch):
    monkeypatch.setattr("nnpipe.data.corpus.CHUNK_CHARS", 1000)  # the line spans many chunks
    words = [f"w{i % 7}" for i in range(25_003)]
    (tmp_path / "text8").write_text(" ".join(words))  # one line, no newline at the end
    store = load_corpus([tmp_path / "text8"], min_count=1, tokenizer="whitespace")
    np.testing.assert_array_equal(store.sentence_starts, [0, 10_000, 20_000])
    assert len(store.ids) == 25_003 and store.vocab.words == [f"w{i}" for i in range(7)]
    assert_store_is(store, reference_encoding([tmp_path / "text8"], 1, "whitespace"))


def test_the_whitespace_tokenizer_keeps_case_and_punctuation(tmp_path):
    (tmp_path / "t.txt").write_text("Das Haus , das Haus .\nDas Haus !\n")
    store = load_corpus([tmp_path / "t.txt"], min_count=2, tokenizer="whitespace")
    assert store.vocab.words == ["Haus", "Das"] and store.info["raw_tokens"] == 9
    assert load_corpus([tmp_path / "t.txt"], min_count=2).vocab.words == ["das", "haus"]


def test_max_vocab_size_prunes_the_count_table_as_word2vec_does(tmp_path, monkeypatch):
    monkeypatch.setattr("nnpipe.data.corpus.CHUNK_CHARS", 64)  # pruning happens between chunks
    lines = ["common " * 3 + "rare" + chr(97 + i // 26) + chr(97 + i % 26) for i in range(400)]
    (tmp_path / "t.txt").write_text("\n".join(lines) + "\n")
    settings = store_module.VocabularySettings(min_count=1, max_vocab_size=100)
    counts = store_module.count_words(pieces([tmp_path / "t.txt"]), settings)
    assert len(counts) <= 100 and counts["common"] > 1000
    full = store_module.count_words(pieces([tmp_path / "t.txt"]), store_module.VocabularySettings(min_count=1))
    assert len(full) == 401


def test_a_same_size_edit_with_the_mtime_put_back_makes_a_new_store(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("alpha beta gamma\n" * 50)
    first = load_corpus([path], min_count=1)
    stat = path.stat()
    path.write_text("alpha beta delta\n" * 50)  # the same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the old mtime
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    second = load_corpus([path], min_count=1)
    assert second.folder != first.folder and "delta" in second.vocab and "gamma" not in second.vocab


def test_an_interrupted_or_failed_preparation_leaves_no_store(tmp_path, fresh_cache, monkeypatch):
    (tmp_path / "t.txt").write_text("alpha beta\n" * 20)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module, "encode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_corpus([tmp_path / "t.txt"], min_count=1)
    assert not list(fresh_cache.glob("*corpus-*"))

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "encode", disk_full)
    with pytest.raises(DataError, match="cannot write the corpus store in .*No space left on device"):
        load_corpus([tmp_path / "t.txt"], min_count=1)
    assert not list(fresh_cache.glob("*corpus-*"))


def test_a_file_edited_while_it_is_prepared_is_refused(tmp_path, fresh_cache, monkeypatch):
    path = tmp_path / "t.txt"
    path.write_text("alpha beta\n" * 20)
    counting = store_module.count_words

    def edit_meanwhile(*args):
        result = counting(*args)
        path.write_text("alpha gamma\n" * 20)
        return result

    monkeypatch.setattr(store_module, "count_words", edit_meanwhile)
    with pytest.raises(DataError, match="t.txt changed while the corpus was being prepared"):
        load_corpus([path], min_count=1)
    assert not list(fresh_cache.glob("*corpus-*"))


@pytest.mark.parametrize("name,make,words", [
    ("c.txt", lambda p: None, "corpus file not found: "),
    ("c", lambda p: p.mkdir(), "holds no .txt, .gz, .bz2, .xz file"),
    ("c.txt", lambda p: p.write_bytes(b"good text\n" * 10 + b"\xff\xfe bad"), "not UTF-8 text at byte 100"),
    ("c.txt", lambda p: p.write_bytes(b"abc\n" * 5 + b"\x00\x01\x02"), "a NUL byte at byte 20"),
    ("c.txt.gz", lambda p: p.write_bytes((files.REPO_DATA / MOBY).read_bytes()[:5000]), "cannot be read after byte"),
])
def test_bad_corpus_files_are_one_error_line_and_no_run(tmp_path, name, make, words):
    make(tmp_path / name)
    config = skipgram_config(tmp_path)
    result = invoke("train", config, "--set", f"data.corpus=[{tmp_path / name}]")
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()
    result = invoke("train", config, "--set", f"data.corpus=['{tmp_path}/*.nothing']")
    assert result.exit_code == 2 and "matches no file" in result.stderr


@pytest.mark.slow
def test_training_reads_a_folder_of_the_users_files(tmp_path):
    text = gzip.decompress((files.REPO_DATA / MOBY).read_bytes()).decode()
    write_corpus(tmp_path / "mine", text)
    result = invoke("train", skipgram_config(tmp_path), "--quiet", "--set", f"data.corpus=[{tmp_path / 'mine'}]")
    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads(next((tmp_path / "runs").glob("*/*/summary.json")).read_text())
    assert summary["status"] == "completed" and summary["best"]["value"] > 0.05


def test_prepare_and_info_commands(tmp_path):
    config = skipgram_config(tmp_path)
    result = invoke("data", "prepare", config, "--set", f"data.corpus=[{MOBY}]")
    assert result.exit_code == 0 and "tokens in" in result.output and "words (min_count 5" in result.output
    listed = invoke("data", "info")
    assert listed.exit_code == 0 and result.output.split(":")[0] in listed.output
    refused = invoke("data", "prepare", ROOT / "configs/mlp.yaml")
    assert refused.exit_code == 2 and "reads no corpus" in refused.stderr


PREPARE = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {tests!r})
{body}
"""


@pytest.mark.slow
def test_preparation_fits_where_the_in_memory_loader_does_not(tmp_path):
    """Under an address-space limit the streaming preparation succeeds on a corpus that
    the in-memory preparation (today's loader) cannot prepare."""
    text = gzip.decompress((files.REPO_DATA / MOBY).read_bytes()).decode()
    with open(tmp_path / "big.txt", "w") as handle:
        for _ in range(12):  # 2.6M tokens: ~140 MiB streamed, ~330 MiB in memory
            handle.write(text)
    env = dict(os.environ, NNPIPE_CACHE=str(tmp_path / "cache"), OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    probe = subprocess.run([sys.executable, "-c", "import numpy, tqdm, nnpipe.data.text; from pathlib import Path; "
                            "print(Path('/proc/self/status').read_text().split('VmPeak:')[1].split()[0])"],
                           env=env, capture_output=True, text=True, check=True)
    limit = int(probe.stdout) * 1024 + 200 * 2**20  # the imports' own address space, plus 200 MiB
    big = str(tmp_path / "big.txt")
    streaming = f"from nnpipe.data.text import load_corpus; print(len(load_corpus([{big!r}]).ids))"
    in_memory = f"from test_corpus import reference_encoding; print(len(reference_encoding([{big!r}])[1]))"
    runs = {name: subprocess.run([sys.executable, "-c", PREPARE.format(limit=limit, tests=str(ROOT / "tests"),
                                                                        body=body)],
                                 env=env, capture_output=True, text=True)
            for name, body in (("streaming", streaming), ("in_memory", in_memory))}
    assert runs["streaming"].returncode == 0, runs["streaming"].stderr[-2000:]
    assert int(runs["streaming"].stdout.split()[-1]) > 2_000_000
    assert runs["in_memory"].returncode != 0 and "MemoryError" in runs["in_memory"].stderr
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)


def test_an_unwritable_cache_is_one_error_line(tmp_path):
    (tmp_path / "a-file").write_text("the cache would have to be a folder inside this file")
    env_cache = tmp_path / "a-file" / "cache"
    result = subprocess.run([sys.executable, "-m", "nnpipe", "train", str(skipgram_config(tmp_path))],
                            env=dict(os.environ, NNPIPE_CACHE=str(env_cache)), capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 2 and not (tmp_path / "runs").exists(), result.stderr
    assert result.stderr.startswith("error: cannot write the corpus store in ") and "NNPIPE_CACHE" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "counting words" not in result.stdout


def test_no_finaliser_of_this_process_runs_in_a_preparation_worker(tmp_path, fresh_cache, monkeypatch):
    """Garbage left in reference cycles is collected before the workers fork: a finaliser
    that joins its library's threads (an ONNX Runtime session's) would wait for ever in a
    forked worker, where those threads do not exist (a CI run hung so)."""
    import gc

    monkeypatch.setenv("NNPIPE_PREPARE_WORKERS", "2")
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("alpha beta gamma\n" * 200)
    finalised = tmp_path / "finalised"

    class Session:
        def __del__(self):
            with open(finalised, "a") as out:
                out.write(f"{os.getpid()}\n")

    gc.disable()  # no collection but the preparation's own: the cycle waits for it
    try:
        cycle = Session()
        cycle.me = cycle
        del cycle
        load_corpus([tmp_path / "a.txt", tmp_path / "b.txt"], min_count=1)
        assert finalised.read_text().split() == [str(os.getpid())]  # once, here, before enabling
    finally:
        gc.enable()
