"""The kernels' disk cache: a change to any kernel module makes every kernel's cached
machine code stale (Numba's own stamp covers only the kernel's own file)."""
import pytest

pytest.importorskip("numba")


def test_the_stamp_covers_every_kernel_module(tmp_path):
    from nnpipe.kernels.kernel_cache import sources_stamp

    (tmp_path / "kernel.py").write_text("from .helper import row\n")
    (tmp_path / "helper.py").write_text("STEP = 16\n")
    (tmp_path / "notes.txt").write_text("not a module\n")
    before = sources_stamp(tmp_path)
    sources_stamp.cache_clear()
    assert sources_stamp(tmp_path) == before  # the same files: the same stamp
    (tmp_path / "notes.txt").write_text("changed\n")
    sources_stamp.cache_clear()
    assert sources_stamp(tmp_path) == before
    (tmp_path / "helper.py").write_text("STEP = 8\n")  # only the helper changed
    sources_stamp.cache_clear()
    assert sources_stamp(tmp_path) != before


def test_kernels_are_cached_under_the_whole_stamp():
    """A kernel that inlines a helper from another module (``prefetch_row``) is stamped
    with every kernel module's hash; a Numba function elsewhere keeps Numba's stamp."""
    import numba

    from nnpipe.kernels import word2vec_update
    from nnpipe.kernels.kernel_cache import sources_stamp

    locator = word2vec_update.cbow_windows._cache._impl.locator
    assert locator.get_source_stamp() == sources_stamp()

    @numba.njit(cache=True)
    def elsewhere(x):
        return x + 1

    assert elsewhere._cache._impl.locator.get_source_stamp() != sources_stamp()


def test_older_numba_names_are_found_and_unknown_ones_leave_numba_as_it_is(monkeypatch):
    """Numba's caching classes were ``_InTreeCacheLocator``, ``_CacheImpl``... before they
    were public; where neither name exists, the kernels keep Numba's own stamps."""
    from numba.core import caching

    from nnpipe.kernels import kernel_cache

    older = type("_InTreeCacheLocator", (), {})
    monkeypatch.delattr(caching, "InTreeCacheLocator")
    monkeypatch.setattr(caching, "_InTreeCacheLocator", older, raising=False)
    assert kernel_cache._numba_class("InTreeCacheLocator") is older
    monkeypatch.delattr(caching, "CacheImpl")
    monkeypatch.delattr(caching, "_CacheImpl", raising=False)
    assert kernel_cache._numba_class("CacheImpl") is None
    kernel_cache.keep_fresh()  # nothing to change, and no error
