"""Arguments several commands share; each setting's flag comes from the config schema."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mathlora.settings import StageSettings


def add_model_arguments(parser, *, required: bool = True) -> None:
    """Options that load a model; ``parser`` may be an argument group."""
    parser.add_argument("--model-yaml", required=required,
                        help="rendered MindFormers predict yaml (the graph's predict.yaml)")
    parser.add_argument("--checkpoint", required=required, help="full (merged) weights to evaluate")
    parser.add_argument("--tokenizer", required=required,
                        help="Llama3-format tiktoken tokenizer.model")
    parser.add_argument("--seq-length", type=int,
                        help="model sequence length (default: the yaml's)")


def add_input_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="input", required=True, type=Path,
                        help="the raw train.json (JSON Lines with problem and solution)")


def add_settings_arguments(parser, cls: type[StageSettings]) -> None:
    """``--settings JSON`` and one flag per field, typed and described by the config schema."""
    names = ", ".join(cls.key_name(key) for key in cls.keys())
    group = parser.add_argument_group(
        f"{cls.SECTION} settings", f"config keys {names}: as one JSON object (--settings), or one "
        "flag each (a flag wins); unset keys take the schema's default")
    group.add_argument("--settings", metavar="JSON",
                       help=f"the keys {', '.join(cls.keys())} as one JSON object")
    for key in cls.keys():
        prop = cls.property_of(key)
        text = prop.get("description", "")
        if "default" in prop:
            text += f" (default: {json.dumps(prop['default'])})"
        kind = prop.get("type")
        options: dict[str, Any] = {"dest": f"setting_{key}", "default": None, "help": text.strip(),
                                   "metavar": None if kind == "boolean" or "enum" in prop else key.upper()}
        if "enum" in prop:
            options["choices"] = prop["enum"]
        elif kind == "boolean":
            options["action"] = argparse.BooleanOptionalAction
        elif kind in ("integer", "number", "string"):
            options["type"] = {"integer": int, "number": float, "string": str}[kind]
        else:  # an object, a list, or one of several shapes: JSON, else the text itself ("all")
            options["type"] = _json_or_text
        group.add_argument("--" + key.replace("_", "-"), **options)


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def settings_from_arguments(args: argparse.Namespace, cls: type[StageSettings]):
    """The stage's settings from ``--settings`` overlaid by its flags (errors name the config key)."""
    section = {} if args.settings is None else cls.parse_json(args.settings)
    for key in cls.keys():
        value = getattr(args, f"setting_{key}")
        if value is not None:
            section[key] = value
    return cls.from_section(section, source="command line")
