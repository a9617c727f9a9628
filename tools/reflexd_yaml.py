"""Writes reflexd config files from nested dicts (block-style YAML, no PyYAML needed): the
evaluation and the end-to-end tests start daemons with configs of their own."""
import json


def _scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))        # a double-quoted YAML scalar


def to_yaml(mapping: dict, indent: int = 0) -> str:
    lines = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            lines.append(" " * indent + f"{key}:")
            lines.append(to_yaml(value, indent + 2).rstrip("\n"))
        else:
            lines.append(" " * indent + f"{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"
