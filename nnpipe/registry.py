"""One registry pattern for every pluggable component: models, optimizers, losses,
schedules and data kinds (tasks).

A component registers a name, an options dataclass and a builder::

    @OPTIMIZERS.register("lion")
    class Lion(Optimizer):
        def __init__(self, params, lr: Positive = 1e-4, betas: Annotated[list, Range(ge=0, lt=1)] = (0.9, 0.99)): ...

The options dataclass is either given (``register("mlp", MLPOptions)``) or made from the
builder's signature: every parameter after the registry's first ``inputs`` parameters (what
a component is built or called with, such as an optimizer's ``params``) is an option, with its
annotation as type and its default.  The config validates a section such as
``optimizer: {name: lion, lr: 0.001}`` against that dataclass, so unknown keys, type
errors, suggestions, ``config show`` and ``--set`` all come from the component itself.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import pkgutil
import typing

from .options import hints as option_hints
from .options import problem


class UnknownComponent(ValueError):
    """A name that no component of that kind registered."""


class Section:
    """A config section: ``name`` plus the component's options, read as attributes or keys."""

    def __getitem__(self, key):
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key, default)

    def keys(self):
        return [f.name for f in dataclasses.fields(self)]

    def options(self):
        """The section without its ``name``: the keyword arguments of the component."""
        return {key: getattr(self, key) for key in self.keys() if key != "name"}


def suggest(key, valid):
    close = difflib.get_close_matches(str(key), [str(v) for v in valid], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field_default(value):
    """Tuples in signatures become lists in configs (YAML has no tuples)."""
    if isinstance(value, (list, tuple)):
        return dataclasses.field(default_factory=lambda value=value: list(value))
    return dataclasses.field(default=value)


def options_from_signature(builder, inputs):
    """A dataclass of ``builder``'s parameters after the first ``inputs`` ones."""
    function = builder.__init__ if inspect.isclass(builder) else builder
    hints = option_hints(function)
    fields = []
    for parameter in list(inspect.signature(builder).parameters.values())[inputs:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            raise TypeError(f"{builder.__name__}: option {parameter.name!r} needs a default")
        kind = hints.get(parameter.name, type(parameter.default))
        fields.append((parameter.name, kind, _field_default(parameter.default)))
    return dataclasses.make_dataclass(f"{builder.__name__}Options", fields)


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    options: type  # a dataclass: the keys of the component's config section
    section: type  # the same fields after ``name``, as a Section
    builder: typing.Callable
    tags: frozenset


class Registry:
    """Components of one kind by name.  A builder's first ``inputs`` parameters are inputs,
    the rest options; ``base`` is a dataclass of options that every entry shares."""

    def __init__(self, kind, inputs=0, base=None):
        self.kind, self.inputs, self.base = kind, inputs, base
        self._entries = {}

    def register(self, name, options=None, tags=()):
        def decorator(builder):
            own = options or options_from_signature(builder, self.inputs)
            fields = [("name", str, dataclasses.field(default=name))]
            for cls in (self.base, own):
                hints = option_hints(cls) if cls else {}
                for f in dataclasses.fields(cls) if cls else ():
                    fields.append((f.name, hints[f.name],
                                   dataclasses.field(default=f.default, default_factory=f.default_factory)))
            title = name.title().replace("_", "") + self.kind.title()
            section = dataclasses.make_dataclass(title, fields, bases=(Section,))
            self._entries[name] = Entry(name, own, section, builder, frozenset(tags))
            return builder

        return decorator

    def __contains__(self, name):
        return name in self._entries

    def __iter__(self):
        return iter(sorted(self._entries))

    def get(self, name) -> Entry:
        if name not in self._entries:
            raise UnknownComponent(f"unknown {self.kind} {name!r}{suggest(name, self)}; valid: {', '.join(self)}")
        return self._entries[name]

    def tagged(self, tag):
        return [name for name in self if tag in self._entries[name].tags]

    def unregister(self, name):
        """Forget a component (tests register toys and clean up after themselves)."""
        self._entries.pop(name, None)

    def options(self, name, values=None):
        """The options of ``name`` as keyword arguments for its builder: defaults, then
        ``values`` (a mapping, a section too), unknown keys and values outside their
        declared limits refused; options every entry shares (``base``) are accepted but
        not passed on."""
        entry = self.get(name)
        values = dict(values or {})
        values.pop("name", None)
        own = {f.name for f in dataclasses.fields(entry.options)}
        shared = {f.name for f in dataclasses.fields(self.base)} if self.base else set()
        unknown = sorted(set(values) - own - shared)
        if unknown:
            raise ValueError(f"{self.kind} {name!r} has no option {', '.join(unknown)}; "
                             f"valid: {', '.join(sorted(own | shared))}")
        hints = option_hints(entry.section)
        for key, value in values.items():
            wrong = problem(value, hints[key])
            if wrong:
                raise ValueError(f"{self.kind} {name!r} option {key}: {wrong}")
        defaults = dataclasses.asdict(entry.options())
        return {**defaults, **{k: v for k, v in values.items() if k in own}}


def import_submodules(package):
    """Import every module of ``package`` (a package's ``__name__``), so that a component
    in a new file registers itself without any other file naming it."""
    path = importlib.import_module(package).__path__
    for info in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{info.name}")
