"""Software prefetch for kernels that visit table rows in a random order.

The skip-gram kernels spend most of their time waiting for rows of 12 MB tables that are
not in cache; asking for the next window's rows while the current one is computed hides
much of that latency (measured in BENCHMARKS.md).  A prefetch is only a hint: it changes
no value and cannot fault.
"""
from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from . import jit

CACHE_LINE = 64  # bytes


@intrinsic
def _prefetch(typingctx, table, row, column):
    """LLVM's prefetch (read, keep in all cache levels) of the line holding table[row, column]."""
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer2(
            context, builder, data=array.data, shape=cgutils.unpack_tuple(builder, array.shape),
            strides=cgutils.unpack_tuple(builder, array.strides), layout=array_type.layout,
            inds=[context.cast(builder, value, kind, types.intp) for value, kind in zip(args[1:], signature.args[1:])],
            wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        int32 = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]), "llvm.prefetch.p0")
        builder.call(prefetch, [builder.bitcast(pointer, byte_pointer), ir.Constant(int32, 0), ir.Constant(int32, 3),
                                ir.Constant(int32, 1)])
        return context.get_dummy_value()

    if isinstance(table, types.Array) and table.ndim == 2:
        return types.void(table, row, column), codegen
    return None


@intrinsic
def _columns_per_line(typingctx, table):
    """How many of ``table``'s items one cache line holds, as a compile-time constant (the
    array's ``itemsize`` is read at run time: a loop stepping by it costs a division per
    row, and measured 12% of the CBOW kernel's time, in stalls behind it)."""
    if isinstance(table, types.Array):
        columns = CACHE_LINE * 8 // table.dtype.bitwidth
        return types.intp(table), lambda context, builder, signature, args: context.get_constant(types.intp, columns)
    return None


@jit(inline="always")
def prefetch_row(table, row):
    """Ask for every cache line of ``table[row]`` (a 2-D array) without waiting for it."""
    for column in range(0, table.shape[1], _columns_per_line(table)):
        _prefetch(table, row, column)
