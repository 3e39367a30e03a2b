"""SQuAD original-ability check (F1/EM as MindFormers' EmF1Metric) and the generated SQuAD set.

``mathlora squad``: the arguments, read into calls of :mod:`mathlora.evaluate.squad`.
"""

from __future__ import annotations

import argparse

from mathlora.cli.arguments import add_model_arguments, add_settings_arguments, settings_from_arguments
from mathlora.data.squad_synth import SPLITS
from mathlora.evaluate.squad import generate_answers, read_examples, read_generations, report_line, squad_report
from mathlora.settings import SquadSettings, SquadSynthSettings


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="{eval,synth}")
    ev = sub.add_parser("eval", help="F1/EM of one model on a SQuAD v1.1 dev file",
                        description="F1/EM of one model (or of saved generations) on a SQuAD v1.1 "
                                    "dev file, with EmF1Metric semantics.")
    ev.add_argument("--dev", required=True, help="SQuAD v1.1 JSON (dev-v1.1.json or generated)")
    ev.add_argument("--out", required=True, help="squad.json report to write")
    ev.add_argument("--model", default="model", help="name shown in the report (base, ckpt1, ...)")
    ev.add_argument("--generations", help="saved generations (JSON Lines {id, generation}) instead "
                                          "of running a model")
    ev.add_argument("--limit", type=int, help="evaluate only the first N examples (quick checks)")
    add_model_arguments(ev.add_argument_group("model (needed unless --generations)"), required=False)
    add_settings_arguments(ev, SquadSettings)
    sy = sub.add_parser("synth", help="write a generated SQuAD-format split",
                        description="Write a seeded SQuAD v1.1-format split whose answers are "
                                    "spans of their passages (squad.synth_paragraphs.dev paragraphs).")
    sy.add_argument("--split", choices=SPLITS, default="dev",
                    help="dev: the reported original-ability set; base-check: the reading check of "
                         "a freshly pretrained tiny base (default: dev)")
    sy.add_argument("--out", "--dev-out", dest="out", required=True, help="JSON file to write")
    add_settings_arguments(sy, SquadSynthSettings)


def main(args: argparse.Namespace) -> int:
    if args.action == "synth":
        from mathlora.data.squad_synth import synthesise

        settings = settings_from_arguments(args, SquadSynthSettings)
        synthesise(settings.seed, settings.dev, args.out, split=args.split)
        return 0
    return _evaluate(args)


def _evaluate(args: argparse.Namespace) -> int:
    """``squad eval``: saved generations, or the model's own, scored."""
    from mathlora.artifacts import write_artifact
    from mathlora.errors import ConfigError

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {args.limit}")
    examples, without = read_examples(args.dev)
    if args.limit is not None:
        examples = examples[:args.limit]
    run = None
    if args.generations:
        generations = read_generations(args.generations, examples)
    else:
        missing = [name for name in ("model_yaml", "checkpoint", "tokenizer")
                   if not getattr(args, name)]
        if missing:
            raise ConfigError("squad eval needs --generations or all of --model-yaml, --checkpoint, "
                              "--tokenizer (missing: " + ", ".join(missing) + ")")
        from mathlora.evaluate.predict import load_model_and_tokenizer

        settings = settings_from_arguments(args, SquadSettings)
        # SQuAD passages are longer than math prompts: the network is built for their own length
        model, tokenizer = load_model_and_tokenizer(
            args.model_yaml, args.checkpoint, args.tokenizer, batch_size=settings.batch_size,
            seq_length=args.seq_length or settings.squad_max_length)
        generations, run = generate_answers(model, tokenizer, examples, settings)
    report = squad_report(args.model, args.dev, without, examples, generations, run)
    write_artifact(args.out, "squad", report)
    print(report_line(report))
    return 0
