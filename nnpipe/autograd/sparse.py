"""Row-sparse gradients: the gradient of an embedding lookup touches only looked-up rows."""
from __future__ import annotations

from ..backend import get_array_module, segment_sum


class SparseRows:
    """A gradient of shape ``shape`` that is zero except in ``rows`` (maybe repeated).

    ``values[i]`` is added to row ``rows[i]``.  :meth:`coalesce` sums repeated rows with a
    sort and segment sums; nothing of size V x D is ever allocated unless
    :meth:`to_dense` is called.
    """

    __slots__ = ("rows", "values", "shape", "coalesced")
    __array_ufunc__ = None  # ``array + SparseRows`` must come here, not broadcast elementwise

    def __init__(self, rows, values, shape, coalesced=False):
        self.rows = rows
        self.values = values
        self.shape = tuple(shape)
        self.coalesced = coalesced

    @property
    def dtype(self):
        return self.values.dtype

    def coalesce(self) -> "SparseRows":
        """Unique sorted rows with their summed values."""
        if self.coalesced:
            return self
        xp = get_array_module(self.values)
        order = xp.argsort(self.rows, kind="stable")
        unique_rows, summed = segment_sum(self.rows[order], self.values[order])
        return SparseRows(unique_rows, summed, self.shape, coalesced=True)

    def __add__(self, other):
        if isinstance(other, SparseRows):
            xp = get_array_module(self.values)
            return SparseRows(
                xp.concatenate([self.rows, other.rows]),
                xp.concatenate([self.values, other.values]),
                self.shape,
            )
        dense = other.copy()
        merged = self.coalesce()
        dense[merged.rows] += merged.values
        return dense

    __radd__ = __add__

    def to_dense(self):
        xp = get_array_module(self.values)
        return self + xp.zeros(self.shape, dtype=self.values.dtype)

    def __repr__(self):
        return f"SparseRows(shape={self.shape}, nnz_rows={len(self.rows)}, dtype={self.dtype})"
