"""Reading and writing config YAML: PyYAML's safe loader with YAML 1.2 numbers, duplicate
keys refused, alias bombs refused before they are built; lists written inline."""
from __future__ import annotations

import re

import yaml


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 numbers (1e-3 and 5E-4 are floats, not the
    strings YAML 1.1 makes of them) and duplicate keys refused with their line."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {str(key)[:60]!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
               r"|[0-9][0-9_]*[eE][-+]?[0-9]+|\.(?:inf|Inf|INF)|[-+]\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


MAX_YAML_NODES = 100_000  # a config is a few hundred; nested aliases can expand to billions


def _expanded_size(node, sizes):
    """How many nodes ``node`` stands for once every alias is expanded (memoised by node,
    since an alias is the same node object as its anchor)."""
    if id(node) not in sizes:
        sizes[id(node)] = 1  # a recursive alias counts once instead of looping
        children = node.value if isinstance(node.value, list) else []
        parts = [part for child in children for part in (child if isinstance(child, tuple) else (child,))]
        sizes[id(node)] = 1 + sum(_expanded_size(part, sizes) for part in parts)
    return sizes[id(node)]


def load_yaml(text):
    """YAML text as Python data, read safely (see :class:`_Loader`); a document whose
    aliases expand beyond ``MAX_YAML_NODES`` nodes is refused before it is built."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, {}) > MAX_YAML_NODES:
            raise yaml.YAMLError(f"its aliases expand to more than {MAX_YAML_NODES:,} values")
        return loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


class _Dumper(yaml.SafeDumper):
    """Sections in block style, lists inline: ``hidden: [256, 128]``."""


_Dumper.add_representer(list, lambda dumper, value: dumper.represent_sequence(
    "tag:yaml.org,2002:seq", value, flow_style=True))


def dump(data) -> str:
    """YAML of a config (anything with ``to_dict()``) or of plain data."""
    data = data.to_dict() if hasattr(data, "to_dict") else data
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
