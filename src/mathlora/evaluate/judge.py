"""Judge a submission: predict, math accuracy, SQuAD F1/EM and score for every checkpoint it holds.

Given a submission zip (its ``*.ckpt`` members are extracted, path components dropped) or a
directory of merged checkpoints, plus a test set, the model yaml, the tokenizer and a SQuAD dev
file, each checkpoint (named ckpt1..N in natural file-name order) gets ``predictions.jsonl``,
``result_npy.npy``, ``predict.json``, ``math.json`` and ``squad.json`` under ``--out-dir/<name>/``,
then ``--out-dir/summary.json`` names the best valid checkpoint. With ``--base-checkpoint`` the
base model is evaluated too; SQuAD pass/fail takes the options of ``mathlora summary``
(``--thresholds relative``, the default, needs the base model: x ``--relative`` of its F1/EM;
``--thresholds fixed``: the contest's marks ``--fixed-f1`` / ``--fixed-em``). ``--no-round`` and
``--rel-tol`` set the math equality rule as in ``mathlora math``. To rescore a saved
``result_npy.npy`` without a model, use ``mathlora rescore``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import zipfile
from pathlib import Path

from mathlora.artifacts import atomic_output
from mathlora.errors import ConfigError, InputError


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def extract_checkpoints(source: str | Path, work: Path) -> list[Path]:
    """Checkpoint files of a submission zip (extracted into ``work``) or of a directory."""
    source = Path(source)
    if source.is_dir():
        found = sorted(source.glob("*.ckpt"), key=lambda p: _natural(p.name))
    elif source.is_file():
        if not zipfile.is_zipfile(source):
            raise InputError(source, "neither a directory of checkpoints nor a zip file")
        work.mkdir(parents=True, exist_ok=True)
        found = []
        with zipfile.ZipFile(source) as bundle:
            members = [m for m in bundle.infolist() if m.filename.endswith(".ckpt") and not m.is_dir()]
            names = [Path(m.filename).name for m in members]
            if len(set(names)) != len(names):
                raise InputError(source, "two checkpoints with the same file name in the bundle")
            for member, name in sorted(zip(members, names), key=lambda x: _natural(x[1])):
                target = work / name  # never the member's own path: no writing outside ``work``
                # Through a temporary name: an interrupted extraction leaves no truncated .ckpt.
                with atomic_output(target, suffix=".ckpt") as tmp, bundle.open(member) as src, \
                        open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                found.append(target)
    else:
        raise InputError(source, "not found")
    if not found:
        raise InputError(source, "holds no *.ckpt file: a bundle with checkpoint links must be "
                                 "downloaded first")
    return found


def configure(parser: argparse.ArgumentParser) -> None:
    from mathlora.evaluate.math_eval import add_rule_arguments
    from mathlora.evaluate.predict import add_model_arguments
    from mathlora.evaluate.summary import add_threshold_arguments

    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--submission", help="submission zip with merged *.ckpt files")
    source.add_argument("--checkpoints", help="directory of merged *.ckpt files")
    parser.add_argument("--test", required=True, help="test set JSON Lines {problem, solution}")
    parser.add_argument("--squad-dev", required=True, help="SQuAD v1.1 dev JSON")
    add_model_arguments(parser, required=False, checkpoint=False)
    parser.add_argument("--base-checkpoint",
                        help="base weights: evaluated as 'base'; needed by --thresholds relative")
    ratio = parser.add_mutually_exclusive_group(required=True)
    ratio.add_argument("--params", help="params.json of the submission (official_ratio)")
    ratio.add_argument("--ratio", type=float, help="low-parameter ratio (trainable / 8.03e9)")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="math generation bound")
    parser.add_argument("--squad-max-new-tokens", type=int, default=20,
                        help="SQuAD generation bound (organisers: 20)")
    add_threshold_arguments(parser)
    parser.add_argument("--out-dir", required=True, help="where per-model reports and summary.json go")
    add_rule_arguments(parser)


def check_options(args: argparse.Namespace) -> float:
    """Everything that can be wrong before a model is loaded; returns the low-parameter ratio."""
    from mathlora.evaluate.predict import check_sizes
    from mathlora.package.facts import read_params

    if not (args.model_yaml and args.tokenizer):
        raise ConfigError("judge needs --model-yaml and --tokenizer")
    if args.thresholds == "relative" and not args.base_checkpoint:
        raise ConfigError("--thresholds relative compares with the base model's own SQuAD scores: "
                          "give --base-checkpoint, or use --thresholds fixed")
    check_sizes(args)
    if args.squad_max_new_tokens < 1:
        raise ConfigError(f"--squad-max-new-tokens must be >= 1, got {args.squad_max_new_tokens}")
    if args.params:
        return read_params(args.params)["ratio"]
    if not 0.0 <= args.ratio <= 1.0:
        raise ConfigError(f"--ratio must lie in [0, 1], got {args.ratio}")
    return args.ratio


def main(args: argparse.Namespace) -> int:
    from mathlora.artifacts import write_artifact
    from mathlora.evaluate import math_eval, squad, summary
    from mathlora.evaluate.predict import (generate_texts, load_model_and_tokenizer, predict_math,
                                           write_predictions)
    from mathlora.jsonl import read_test_file

    ratio = check_options(args)
    rule = math_eval.rule_from(args)
    out = Path(args.out_dir)
    test = read_test_file(args.test)
    examples, without = squad.read_examples(args.squad_dev)
    checkpoints = extract_checkpoints(args.submission or args.checkpoints, out / "checkpoints")
    models = ([("base", Path(args.base_checkpoint))] if args.base_checkpoint else []) + [
        (f"ckpt{k}", path) for k, path in enumerate(checkpoints, start=1)]
    math_reports, squad_reports = {}, {}
    for name, checkpoint in models:
        where = out / name
        model, tokenizer = load_model_and_tokenizer(args.model_yaml, checkpoint, args.tokenizer,
                                                    batch_size=args.batch_size,
                                                    seq_length=args.seq_length)
        records, gen = predict_math(model, tokenizer, test, max_new_tokens=args.max_new_tokens,
                                    max_length=args.max_length, batch_size=args.batch_size)
        write_predictions(records, gen, model_name=name, checkpoint=checkpoint,
                          batch_size=args.batch_size, max_length=args.max_length,
                          max_new_tokens=args.max_new_tokens, out_jsonl=where / "predictions.jsonl",
                          out_npy=where / "result_npy.npy", out_json=where / "predict.json")
        report = math_eval.math_report(name, math_eval.items_from_records(records, test), rule)
        math_reports[name] = write_artifact(where / "math.json", "math", report)
        sgen = generate_texts(model, tokenizer, [e.prompt for e in examples],
                              max_new_tokens=args.squad_max_new_tokens, max_length=args.max_length,
                              batch_size=args.batch_size, min_new_tokens=1)
        run = squad.generation_run(sgen, batch_size=args.batch_size, max_length=args.max_length,
                                   max_new_tokens=args.squad_max_new_tokens, min_new_tokens=1)
        squad_reports[name] = write_artifact(where / "squad.json", "squad", squad.squad_report(
            name, args.squad_dev, without, examples, sgen.texts, run))
        print(f"{name}: accuracy {report['accuracy']:.4f}, SQuAD F1 {squad_reports[name]['f1']:.3f} "
              f"EM {squad_reports[name]['em']:.3f}")
    limits = summary.thresholds_from(args, squad_reports.get(summary.BASE))
    result = summary.summarise(ratio, math_reports, squad_reports, limits)
    write_artifact(out / "summary.json", "summary", result)
    print(summary.format_table(result))
    return 0
