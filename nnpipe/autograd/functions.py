"""The public function namespace: ``import nnpipe.autograd.functions as F``.

Gathered from each ops module's ``__all__``, so a new op is written once, in its module,
as a Function class with its wrapper under it.  A wrapper named with a trailing
underscore (``abs_``, to leave a builtin alone inside its module) is ``F.abs`` here.
"""
from .ops import (
    arith,
    conv,
    conv_block,
    elementwise,
    glove_loss,
    layer_functions,
    loss_functions,
    pool,
    reduce,
    shape,
    word_losses,
)

_MODULES = (arith, elementwise, layer_functions, loss_functions, reduce, shape, word_losses, glove_loss, conv,
            pool, conv_block)

__all__ = sorted(name.rstrip("_") for module in _MODULES for name in module.__all__)
globals().update({name.rstrip("_"): getattr(module, name) for module in _MODULES for name in module.__all__})
