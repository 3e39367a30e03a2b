"""Every evaluation of one model in one process: math on each held-out set, then SQuAD.

``mathlora evaluate``: what ``predict`` (once per ``--math``) and ``squad eval`` (``--squad``)
write, from the same settings, but with the stack imported and the network built once. For the tiny
model that start costs more than its decoding; for the 8B one it is the loading of 16 GB. SQuAD
gets a network of its own only when ``evaluate.squad_max_length`` asks for another length.
"""

from __future__ import annotations

import argparse
import gc

from mathlora.cli.arguments import add_model_arguments, add_settings_arguments, settings_from_arguments
from mathlora.errors import ConfigError
from mathlora.settings import EvaluationSettings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="model", help="name shown in reports (base, ckpt1, ...)")
    add_model_arguments(parser)
    add_settings_arguments(parser, EvaluationSettings)
    parser.add_argument("--math", nargs=5, action="append", default=[],
                        metavar=("TEST", "PROMPT", "JSONL", "NPY", "JSON"),
                        help="predict on the test set TEST with the prompt variant PROMPT and write "
                             "predictions.jsonl, result_npy.npy and predict.json (repeatable)")
    parser.add_argument("--squad", nargs=2, metavar=("DEV", "JSON"),
                        help="answer the SQuAD v1.1 file DEV and write its squad.json")


def main(args: argparse.Namespace) -> int:
    from mathlora.artifacts import write_artifact
    from mathlora.evaluate.predict import load_model_and_tokenizer, predict_math, write_predictions
    from mathlora.evaluate.squad import generate_answers, read_examples, report_line, squad_report
    from mathlora.jsonl import read_test_file

    if not args.math and not args.squad:
        raise ConfigError("evaluate: nothing to do (give --math and/or --squad)")
    settings = settings_from_arguments(args, EvaluationSettings)
    # Every input is read and every setting checked before the model is loaded.
    runs = [(test, settings.math(prompt), read_test_file(test), outputs)
            for test, prompt, *outputs in args.math]
    squad = settings.squad() if args.squad else None
    examples, without = read_examples(args.squad[0]) if args.squad else ([], 0)

    def load(seq_length):
        return load_model_and_tokenizer(args.model_yaml, args.checkpoint, args.tokenizer,
                                        batch_size=settings.batch_size, seq_length=seq_length)

    model, tokenizer = load(args.seq_length)
    for test, predict, records_in, (out_jsonl, out_npy, out_json) in runs:
        records, gen = predict_math(model, tokenizer, records_in, predict)
        write_predictions(records, gen, predict, model_name=args.model, checkpoint=args.checkpoint,
                          out_jsonl=out_jsonl, out_npy=out_npy, out_json=out_json)
        stats = gen.stats()
        print(f"{args.model} on {test} ({predict.prompt} prompt): {stats['n']} predictions, "
              f"{stats['generated_tokens']} tokens in {stats['seconds']:.1f} s")
    if squad is not None:
        # As `squad eval`: the network at SQuAD's own length when one is set and differs.
        squad_length = args.seq_length or squad.squad_max_length
        if squad_length is not None and squad_length != model.config.seq_length:
            del model
            gc.collect()  # the first network's memory back before the second is built
            model, tokenizer = load(squad_length)
        generations, run = generate_answers(model, tokenizer, examples, squad)
        report = squad_report(args.model, args.squad[0], without, examples, generations, run)
        write_artifact(args.squad[1], "squad", report)
        print(report_line(report))
    return 0
