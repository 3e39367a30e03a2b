"""Judge a submission: predict, math accuracy, SQuAD F1/EM and score for every checkpoint it holds.

Given a submission zip (its ``*.ckpt`` members are extracted, path components dropped) or a
directory of merged checkpoints, plus a test set, the model yaml, the tokenizer and a SQuAD dev
file, each checkpoint (named ckpt1..N in natural file-name order) gets ``predictions.jsonl``,
``result_npy.npy``, ``predict.json``, ``math.json`` and ``squad.json`` under ``--out-dir/<name>/``,
then ``--out-dir/summary.json`` names the best valid checkpoint. With ``--base-checkpoint`` the
base model is evaluated too and SQuAD thresholds are relative to it (x ``--relative``); without
it the contest's fixed marks apply. To rescore a saved ``result_npy.npy`` without a model, use
``mathlora rescore``.
"""

from __future__ import annotations

import argparse
import re
import zipfile
from pathlib import Path

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
                with bundle.open(member) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
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

    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--submission", help="submission zip with merged *.ckpt files")
    source.add_argument("--checkpoints", help="directory of merged *.ckpt files")
    parser.add_argument("--test", required=True, help="test set JSON Lines {problem, solution}")
    parser.add_argument("--squad-dev", required=True, help="SQuAD v1.1 dev JSON")
    add_model_arguments(parser, required=False, checkpoint=False)
    parser.add_argument("--base-checkpoint", help="base weights: evaluate it and use relative thresholds")
    ratio = parser.add_mutually_exclusive_group(required=True)
    ratio.add_argument("--params", help="params.json of the submission (official_ratio)")
    ratio.add_argument("--ratio", type=float, help="low-parameter ratio (trainable / 8.03e9)")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="math generation bound")
    parser.add_argument("--squad-max-new-tokens", type=int, default=20)
    parser.add_argument("--relative", type=float, default=0.9)
    parser.add_argument("--out-dir", required=True, help="where per-model reports and summary.json go")
    add_rule_arguments(parser)


def main(args: argparse.Namespace) -> int:
    import json

    from mathlora.artifacts import write_artifact
    from mathlora.evaluate import math_eval, squad, summary
    from mathlora.evaluate.predict import (check_sizes, generate_texts, load_model_and_tokenizer,
                                           math_prompts, prediction_records, write_jsonl,
                                           write_result_npy)
    from mathlora.jsonl import read_records

    if not (args.model_yaml and args.tokenizer):
        raise ConfigError("judge needs --model-yaml and --tokenizer")
    check_sizes(args)
    rule = math_eval.rule_from(args)
    out = Path(args.out_dir)
    test = read_records(args.test, ("problem", "solution"))
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
        prompts = math_prompts(test)
        gen = generate_texts(model, tokenizer, prompts, max_new_tokens=args.max_new_tokens,
                             max_length=args.max_length, batch_size=args.batch_size)
        records = prediction_records(prompts, gen.texts)
        write_jsonl(where / "predictions.jsonl", records)
        write_result_npy(where / "result_npy.npy", [r["output"] for r in records])
        write_artifact(where / "predict.json", "predict", {
            "model": name, "task": "math", "checkpoint": str(checkpoint),
            "batch_size": args.batch_size, "max_length": args.max_length,
            "max_new_tokens": args.max_new_tokens, "min_new_tokens": 0, **gen.stats()})
        items = [math_eval.Item(r["id"], t["problem"], t["solution"], r["output"])
                 for r, t in zip(records, test)]
        report = {"model": name, **math_eval.summarise(
            [math_eval.score_item(i, rule) for i in items], rule)}
        math_reports[name] = write_artifact(where / "math.json", "math", report)
        sgen = generate_texts(model, tokenizer, [e.prompt for e in examples],
                              max_new_tokens=args.squad_max_new_tokens, max_length=args.max_length,
                              batch_size=args.batch_size, min_new_tokens=1)
        scores = squad.score_examples(examples, sgen.texts)
        squad_reports[name] = write_artifact(where / "squad.json", "squad", {
            "model": name, "dev": str(args.squad_dev), "paragraphs_without_question": without,
            "f1": scores["f1"], "em": scores["em"], "n": scores["n"],
            "empty_predictions": scores["empty_predictions"],
            "predict": {"batch_size": args.batch_size, "max_length": args.max_length,
                        "max_new_tokens": args.squad_max_new_tokens, "min_new_tokens": 1,
                        **sgen.stats()},
            "examples": scores["examples"]})
        print(f"{name}: accuracy {report['accuracy']:.4f}, SQuAD F1 {scores['f1']:.3f} "
              f"EM {scores['em']:.3f}")
    if args.params:
        params_path = Path(args.params)
        ratio = summary.ratio_from_params(json.loads(params_path.read_text(encoding="utf-8")),
                                          params_path)
    else:
        ratio = args.ratio
    mode = "relative" if args.base_checkpoint else "fixed"
    limits = summary.thresholds(mode, relative=args.relative, fixed_f1=53.883, fixed_em=39.753,
                                base=squad_reports.get("base"))
    result = summary.summarise(ratio, math_reports, squad_reports, limits)
    write_artifact(out / "summary.json", "summary", result)
    print(summary.format_table(result))
    return 0
