"""Arguments several commands share; each setting's flag comes from the config schema."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mathlora.contest import SQUAD_FIXED_EM, SQUAD_FIXED_F1, SQUAD_RELATIVE
from mathlora.settings import StageSettings, section_property


def add_model_arguments(parser, *, required: bool = True) -> None:
    """Options that load a model; ``parser`` may be an argument group."""
    parser.add_argument("--model-yaml", required=required,
                        help="rendered MindFormers predict yaml (the graph's predict.yaml)")
    parser.add_argument("--checkpoint", required=required, help="full (merged) weights to evaluate")
    parser.add_argument("--tokenizer", required=required,
                        help="Llama3-format tiktoken tokenizer.model")
    parser.add_argument("--seq-length", type=int,
                        help="model sequence length (default: the yaml's)")


def add_threshold_arguments(parser: argparse.ArgumentParser) -> None:
    """The SQuAD pass/fail options of ``mathlora summary``."""
    parser.add_argument("--thresholds", choices=("relative", "fixed"), default="relative",
                        help="relative: a share of the base model's own F1/EM; fixed: the "
                             "contest's marks (default %(default)s)")
    parser.add_argument("--relative", type=float, default=SQUAD_RELATIVE,
                        help="share of the base model's F1/EM to keep (default %(default)s)")
    parser.add_argument("--fixed-f1", type=float, default=SQUAD_FIXED_F1,
                        help="contest F1 mark (default %(default)s)")
    parser.add_argument("--fixed-em", type=float, default=SQUAD_FIXED_EM,
                        help="contest EM mark (default %(default)s)")


def add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="input", required=True, type=Path,
                        help="the raw train.json (JSON Lines with problem and solution)")
    parser.add_argument("--chinese-lines", type=int, required=True,
                        help="the first N lines are Chinese, the rest English (800000 in the real file)")
    parser.add_argument("--seed", type=int, required=True, help="random seed of the sample")
    parser.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                        help="bad input lines: fail (default) or skip and count them in the report")


def add_settings_arguments(parser, cls: type[StageSettings]) -> None:
    """``--settings JSON`` and one flag per field, typed and described by the config schema."""
    group = parser.add_argument_group(
        f"{cls.SECTION} settings", f"config keys {cls.SECTION}.*: as one JSON object (--settings), "
        "or one flag each (a flag wins); unset keys take the schema's default")
    group.add_argument("--settings", metavar="JSON",
                       help=f"the {cls.SECTION} keys {', '.join(cls.keys())} as one JSON object")
    for key in cls.keys():
        prop = section_property(cls.SECTION, key)
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
        else:
            options["type"] = {"integer": int, "number": float}.get(kind, str)
        group.add_argument("--" + key.replace("_", "-"), **options)


def settings_from_arguments(args: argparse.Namespace, cls: type[StageSettings]):
    """The stage's settings from ``--settings`` overlaid by its flags (errors name the config key)."""
    section = {} if args.settings is None else cls.parse_json(args.settings)
    for key in cls.keys():
        value = getattr(args, f"setting_{key}")
        if value is not None:
            section[key] = value
    return cls.from_section(section, source="command line")
