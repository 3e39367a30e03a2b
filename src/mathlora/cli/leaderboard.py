"""Judge a whole contest: ``mathlora leaderboard <stage>``, one stage per job of ``snakemake
leaderboard`` (each team one wildcard), and ``mathlora leaderboard run`` that runs that target.

``mathlora leaderboard``: the arguments, read into calls of :mod:`mathlora.package.leaderboard_stages`.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from mathlora.artifacts import atomic_output
from mathlora.cli.arguments import add_settings_arguments, settings_from_arguments
from mathlora.package.leaderboard_stages import (
    evaluate_section,
    intake,
    parse_awards,
    rank,
    read_record,
    rebase_paths,
    run_contest,
    stage_evaluate,
    stage_params,
    stage_summary,
    timed,
    write_record,
)
from mathlora.settings import ThresholdSettings


def configure(parser: argparse.ArgumentParser) -> None:
    stages = parser.add_subparsers(dest="stage", required=True)
    p = stages.add_parser("run", help="snakemake leaderboard over a contest folder")
    p.add_argument("submissions", help="the contest folder: one subfolder or zip per team")
    p.add_argument("--test", help="the hidden test set (default: the configuration's judge_test)")
    p.add_argument("--configfile", nargs="+", default=["config/config.yaml"])
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--profile", help="a Snakemake profile, e.g. workflow/profiles/slurm")
    p.add_argument("--dry-run", action="store_true", help="show the jobs only")

    p = stages.add_parser("intake", help="what a contest entry is; unpack it safely")
    p.add_argument("--entry", required=True)
    p.add_argument("--out-dir", required=True, help="where its files are taken to")
    p.add_argument("--out", required=True, help="the team record to write")
    p.add_argument("--refuse", help="refuse the team with this reason (known beforehand)")

    p = stages.add_parser("params", help="count the team's network")
    p.add_argument("--record", required=True)
    p.add_argument("--graph-yaml", required=True, help="the graph's training yaml (for declared LoRA)")
    p.add_argument("--out", required=True)

    p = stages.add_parser("evaluate", help="predictions, math and SQuAD of each checkpoint (or rescore)")
    p.add_argument("--record", required=True)
    p.add_argument("--work-dir", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--out", required=True)
    for flag in ("--predict-yaml", "--base-checkpoint", "--tokenizer", "--test", "--squad-dev"):
        p.add_argument(flag, required=True)
    p.add_argument("--settings", required=True, metavar="JSON",
                   help="the evaluate keys predict, math and SQuAD read, as one JSON object")

    p = stages.add_parser("summary", help="the judged summary of a team")
    p.add_argument("--record", required=True)
    p.add_argument("--base-math")
    p.add_argument("--base-squad")
    p.add_argument("--out", required=True)
    add_settings_arguments(p, ThresholdSettings)

    p = stages.add_parser("rank", help="rank the teams; write leaderboard.json, LEADERBOARD.md, html")
    p.add_argument("--records", nargs="+", required=True, help="each team's last record")
    p.add_argument("--test", help="the hidden test set (its item count every team must match)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--seed", type=int, default=20240705)
    p.add_argument("--awards", default="first prize:1,second prize:2,third prize:3",
                   help="prize tiers as 'name:places,...' (default %(default)s)")


def main(args: argparse.Namespace) -> int:
    if args.stage == "run":
        return run_contest(args.submissions, test=args.test, configfiles=args.configfile,
                           cores=args.cores, dry_run=args.dry_run, profile=args.profile)
    if args.stage == "rank":
        board = rank(args.records, args.out_dir, test=args.test, resamples=args.resamples,
                     seed=args.seed, awards=parse_awards(args.awards))
        from mathlora.evaluate.leaderboard_pages import markdown

        print(markdown(board))
        return 0
    started = time.monotonic()
    if args.stage == "intake":
        with atomic_output(args.out_dir) as staging:
            body = intake(Path(args.entry), staging, args.refuse)
            if Path(args.out_dir).exists():
                shutil.rmtree(args.out_dir)
        body = rebase_paths(body, str(staging), args.out_dir)
    else:
        previous = read_record(args.record)
        if args.stage == "params":
            body = stage_params(previous, Path(args.out), args.graph_yaml)
        elif args.stage == "evaluate":
            Path(args.log).parent.mkdir(parents=True, exist_ok=True)
            body = stage_evaluate(previous, Path(args.work_dir), _settings(args), Path(args.log))
        else:
            settings = settings_from_arguments(args, ThresholdSettings)
            marks = {"mode": settings.thresholds, "relative": settings.relative, **settings.fixed}
            body = stage_summary(previous, Path(args.out), args.base_math, args.base_squad, marks)
    write_record(args.out, timed(body, args.stage, started))
    print(f"{body['team']}: {args.stage}: " + (f"refused: {body['refused']}" if body["refused"] else "ok"))
    return 0


def _settings(args: argparse.Namespace) -> dict:
    """The evaluate stage's inputs and settings, from its flags."""
    return {"predict_yaml": args.predict_yaml, "base_checkpoint": args.base_checkpoint,
            "tokenizer": args.tokenizer, "test": args.test, "squad_dev": args.squad_dev,
            "evaluate": evaluate_section(args.settings)}
