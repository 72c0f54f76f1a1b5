"""Differentiable operations, one module per family; ``functions.py`` is the public face.

How to add an op: in the module of its family, a ``Function`` subclass whose
``forward`` works on raw ``xp`` arrays and whose ``backward(gy)`` returns one gradient per
input, the lowercase wrapper right under it, and the wrapper's name in the module's
``__all__`` (then it is ``F.<name>``); add its case to ``tests/op_cases.py``.
"""
