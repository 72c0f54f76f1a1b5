"""Reading and writing config YAML: PyYAML's safe loader with YAML 1.2's numbers and
booleans, duplicate keys refused, alias bombs refused before they are built; lists written
inline."""
from __future__ import annotations

import re

import yaml


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's core schema for numbers and booleans (below)
    and duplicate keys refused with their line."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {str(key)[:60]!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


# YAML 1.2's core schema for plain scalars, in place of PyYAML's YAML 1.1 rules: 010 is ten
# (not octal 8), 0o10 is eight, 0x10 sixteen, 1e-3 a float; 1:30, 1_000, yes, no, on and off
# are strings (YAML 1.1 made them 90, 1000 and booleans)
_YAML11_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML11_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
]:
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _construct_int(loader, node):
    text = loader.construct_scalar(node)
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    base = 16 if digits.startswith("0x") else 8 if digits.startswith("0o") else 10
    return sign * int(digits[2:] if base != 10 else digits, base)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


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
