"""Write REPORT.md from the graph's own artifacts, in the sections the contest asks for.

Method, data scale and preprocessing (every count of prepare.json and split.json), hyper-parameters
(read from the MindFormers yaml the run trained with), the checkpoints with their scores, the
original-ability (SQuAD) result, math accuracy, low-parameter ratio and composite score, the
prompts, and the environment with exact package versions. The prose is fixed text; every number in
it comes from a validated artifact, the training yaml, ``mathlora.prompts`` or the contest constants
of ``mathlora.contest``, so the numbers cannot drift from the run.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mathlora import prompts
from mathlora.artifacts import read_artifact
from mathlora.contest import CONTEST_ENVIRONMENT, OFFICIAL_DENOMINATOR
from mathlora.errors import InputError
from mathlora.evaluate.summary import by_model
from mathlora.model.params import read_params

SKIP_KEYS = {"provenance", "schema_version", "examples", "texts"}


# --- small formatting helpers --------------------------------------------------------------------

def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if digits else f"{value:g}"
    return str(value).replace("|", "\\|")


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell if isinstance(cell, str) else fmt(cell) for cell in row) + " |"
              for row in rows]
    return lines


def numeric_leaves(document: Any, prefix: str = "") -> list[tuple[str, int | float]]:
    """Every number of a report with its dotted path (provenance and examples left out)."""
    found: list[tuple[str, int | float]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key in SKIP_KEYS:
                continue
            found += numeric_leaves(value, f"{prefix}{key}.")
    elif isinstance(document, (int, float)) and not isinstance(document, bool):
        found.append((prefix.rstrip("."), document))
    return found


def dig(document: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
    return document


# --- sections -------------------------------------------------------------------------------------

def section_method(ft: dict[str, Any], run_name: str, device: str) -> list[str]:
    pet = dig(ft, "model.model_config.pet_config") or {}
    model = dig(ft, "model.model_config") or {}
    return [
        "## 1. Method", "",
        f"Run `{run_name}` on `{device}`. Low-rank adaptation (LoRA) of a Llama3-architecture model "
        f"({fmt(model.get('num_layers'))} layers, hidden size {fmt(model.get('hidden_size'))}) with "
        f"MindFormers' `pet_config`: rank {fmt(pet.get('lora_rank'))}, alpha {fmt(pet.get('lora_alpha'), 0)}, "
        f"dropout {fmt(pet.get('lora_dropout'), 0)}, target modules `{pet.get('target_modules', '—')}`. "
        "Only the LoRA matrices train; the base weights stay frozen. Each saved checkpoint is merged "
        "into full weights (W += B·A · alpha/rank) and evaluated as a plain network.", ""]


def section_data(prepare: dict[str, Any], split: dict[str, Any] | None,
                 conversation: dict[str, Any] | None = None) -> list[str]:
    lines = [
        "## 2. Data scale and preprocessing", "",
        "From the organisers' train.json: the instruction template text is removed, problems whose "
        "solution is a multiplication `a * b = c` or a division `a / b = c` are dropped, and a seeded "
        "sample is drawn from the Chinese and the English parts. Each sampled problem becomes a "
        f"conversation: human = `{prompts.TRAIN_HUMAN_PREFIX} <problem>`, gpt = solution. "
        "Two held-out sets are drawn from lines never sampled (deduplicated against training and "
        "each other): the development set, which every choice reads, and the test set, stratified "
        "like it and read only for reporting.", "",
        "Counts from `prepare.json`:", ""]
    lines += table(["count", "value"], [[f"`{k}`", v] for k, v in numeric_leaves(prepare)])
    if split is not None:
        lines += ["", "Counts from `split.json` (the development and test sets):", ""]
        lines += table(["count", "value"], [[f"`{k}`", v] for k, v in numeric_leaves(split)])
    if conversation is not None and conversation["categories"] != "all":
        kept = ", ".join(f"`{c}`" for c in conversation["categories"])
        lines += ["", f"Only the sample's lines of the categories {kept} become conversations "
                  f"(`data.finetune_categories`): {conversation['written']:,} of "
                  f"{conversation['lines_read']:,} are trained on. The sample and the held-out sets "
                  "above are not changed by it. Counts from `conversation.json`:", ""]
        lines += table(["count", "value"], [[f"`{k}`", v] for k, v in numeric_leaves(conversation)])
    return lines + [""]


HYPER_PARAMETERS = (
    ("epochs", "runner_config.epochs"),
    ("batch size per step (runner)", "runner_config.batch_size"),
    ("sequence length", "model.model_config.seq_length"),
    ("optimizer", "optimizer.type"),
    ("beta1 / beta2 / eps", ("optimizer.beta1", "optimizer.beta2", "optimizer.eps")),
    ("learning-rate schedule", "lr_schedule.type"),
    ("learning rate -> end", ("lr_schedule.learning_rate", "lr_schedule.lr_end")),
    ("warm-up ratio", "lr_schedule.warmup_ratio"),
    ("LoRA rank / alpha / dropout", ("model.model_config.pet_config.lora_rank",
                                     "model.model_config.pet_config.lora_alpha",
                                     "model.model_config.pet_config.lora_dropout")),
    ("LoRA target modules", "model.model_config.pet_config.target_modules"),
    ("data / model parallel", ("parallel_config.data_parallel", "parallel_config.model_parallel")),
    ("recompute", "recompute_config.recompute"),
    ("compute / parameter dtype", ("model.model_config.compute_dtype",
                                   "model.model_config.param_init_type")),
    ("flash attention", "model.model_config.use_flash_attention"),
    ("hidden / layers / heads / KV heads", ("model.model_config.hidden_size",
                                            "model.model_config.num_layers",
                                            "model.model_config.num_heads",
                                            "model.model_config.n_kv_heads")),
    ("FFN size", "model.model_config.intermediate_size"),
    ("vocabulary", "model.model_config.vocab_size"),
    ("rope theta / rms_norm_eps", ("model.model_config.theta", "model.model_config.rms_norm_eps")),
    ("bos / eos / pad ids", ("model.model_config.bos_token_id", "model.model_config.eos_token_id",
                             "model.model_config.pad_token_id")),
)


def section_hyper(ft: dict[str, Any], train: dict[str, Any], yaml_name: str) -> list[str]:
    rows = []
    for label, keys in HYPER_PARAMETERS:
        keys = keys if isinstance(keys, tuple) else (keys,)
        rows.append([label, " / ".join(fmt(dig(ft, k), 0) for k in keys)])
    schedule = train.get("schedule", {})
    for key in ("rows", "global_batch_size", "steps_per_epoch", "total_steps", "save_checkpoint_steps"):
        if key in schedule:
            rows.append([f"schedule: {key.replace('_', ' ')}", fmt(schedule[key])])
    if "seconds" in train:
        rows.append(["fine-tuning wall time (s)", fmt(float(train["seconds"]), 1)])
    return ["## 3. Hyper-parameters", "", f"From `{yaml_name}`, the MindFormers yaml the run trained "
            "with, and the fine-tuning report:", "", *table(["parameter", "value"], rows), ""]


def section_results(summary: dict[str, Any], math: dict[str, dict], squad: dict[str, dict],
                    train: dict[str, Any], counts: dict[str, Any]) -> list[str]:
    steps = {f"ckpt{c['k']}": c for c in train.get("checkpoints", [])}
    with_dev = summary["chosen_on"] == "dev"
    rows = []
    for r in summary["models"]:
        c = steps.get(r["model"], {})
        low, high = r["accuracy_ci95"]
        dev = ([fmt(r["dev"]["accuracy"]), "[{:.3f}, {:.3f}]".format(*r["dev"]["ci95"])]
               if with_dev else [])
        rows.append([f"`{r['model']}`", fmt(c.get("step")), fmt(c.get("epoch")), *dev,
                     fmt(r["accuracy"]), f"[{low:.3f}, {high:.3f}]", fmt(r["f1"], 2), fmt(r["em"], 2),
                     fmt(r["squad_pass"]), fmt(r["ratio"], 9), fmt(r["score"], 9)])
    t = summary["thresholds"]
    words = (f"{t['mode']}" + (f" ({t['relative']:g} x the base model)" if "relative" in t else "")
             + f": F1 >= {t['f1']:.3f}, EM >= {t['em']:.3f}")
    best = summary["best"]
    dev_header = ["dev accuracy", "dev 95 % CI"] if with_dev else []
    lines = ["## 4. Checkpoints and scores", "",
             "Checkpoints are saved at evenly spaced steps of the fine-tuning run and listed in "
             "training order; `base` is the model before fine-tuning (ratio 0, never chosen). "
             "Composite score = (1 - ratio) x 0.3 + accuracy x 0.7, from the test set's accuracy.", "",
             ("The best checkpoint is chosen on the development set; every test number below was "
              "read by no choice." if with_dev else
              "No development set was given: the best checkpoint is chosen on the test set itself, "
              "as the organisers choose on their hidden set."), "",
             *table(["model", "step", "epoch", *dev_header, "test accuracy", "test 95 % CI",
                     "SQuAD F1", "SQuAD EM", "original ability kept", "ratio", "composite"], rows), "",
             (f"Best checkpoint (highest composite on {summary['chosen_on']} among those keeping the "
              f"original ability): **`{best}`**, composite {summary['best_score']:.9f} on test."
              if best else
              "No checkpoint keeps the original ability: there is no valid best checkpoint."), ""]
    if summary.get("optimism"):
        o = summary["optimism"]
        lines += [f"Optimism of choosing on dev: `{o['model']}` scores {o['dev']:.4f} on dev and "
                  f"{o['test']:.4f} on test, a difference of {o['difference']:+.4f} (95 % interval "
                  "[{:+.3f}, {:+.3f}], paired bootstrap over items with the choice redone on each of "
                  "{:,} resamples). Expect the hidden set to score near the test number, not the dev "
                  "one.".format(*o["ci95"], o["resamples"]), ""]
    lines += ["## 5. Original ability (SQuAD v1.1)", "",
              f"F1 and EM with EmF1Metric semantics; pass thresholds {words}.", ""]
    # A passage whose prompt leaves no room in the decoding length gets an empty prediction.
    lines += table(["model", "n", "F1", "EM", "empty predictions", "passages too long", "near ties", "kept"],
                   [[f"`{r['model']}`", fmt(dig(squad.get(r["model"]), "n")), fmt(r["f1"], 3),
                     fmt(r["em"], 3), fmt(dig(squad.get(r["model"]), "empty_predictions")),
                     fmt(dig(squad.get(r["model"]), "predict.prompt_too_long")),
                     fmt(dig(squad.get(r["model"]), "predict.near_ties")),
                     fmt(r["squad_pass"])] for r in summary["models"]])
    lines += ["", "Near ties: answers whose greedy path passed a decision with its top two logits less "
              "than 1e-3 apart. Another CPU's float rounding can turn such an answer, so on another "
              "machine F1 and EM may move by up to 100 x near ties / n points; the other answers are "
              "the same everywhere the weights are."]
    lines += ["", "## 6. Math accuracy, ratio and composite", ""]
    for r in summary["models"]:
        m = math.get(r["model"], {})
        lines.append(f"- `{r['model']}`: accuracy {r['accuracy']:.4f}"
                     + (f" over {m['n']} problems (primary rule `{m['primary_mode']}`)" if m else "")
                     + f", last-number rule {r['last_number_accuracy']:.4f}; composite {r['score']:.9f}")
    lines += section_comparisons(summary)
    lines += ["", f"Trainable parameters: {fmt(counts['trainable'])}"
              + (f" of {fmt(counts['total'])}" if counts.get("total") else "")
              + f"; low-parameter ratio = trainable / {OFFICIAL_DENOMINATOR:,} = **{counts['ratio']:.9f}**.", ""]
    return lines


def section_comparisons(summary: dict[str, Any]) -> list[str]:
    """Each checkpoint against the base and the best on the same items, and the template diagnostic."""
    rows = []
    for r in summary["models"]:
        if r["model"] == "base":
            continue
        cells = [f"`{r['model']}`", fmt(r.get("above_base"))]
        for p in r["paired"]:
            cells.append(f"`{p['model']}`: +{p['only_this']} / -{p['only_other']}, p = {p['p']:.3g}")
        rows.append(cells + [""] * (4 - len(cells)))
    lines = ["", "Paired comparisons on the same test items (exact McNemar test: items this checkpoint "
             "gets right and the other wrong, +, and the reverse, -), and whether the checkpoint's 95 % "
             "interval lies above the base's:", "",
             *table(["checkpoint", "interval above the base", "against the base", "against the best"],
                    rows), ""]
    if all("finetune_prompt" in r for r in summary["models"]):
        lines += ["The same problems asked in the fine-tuning template (the training conversation up "
                  "to the answer) instead of the inference prompt (section 7): the entry trained with one "
                  "template and predicted with another.", "",
                  *table(["model", "inference prompt", "fine-tuning template", "95 % CI"],
                         [[f"`{r['model']}`", fmt(r["accuracy"]), fmt(r["finetune_prompt"]["accuracy"]),
                           "[{:.3f}, {:.3f}]".format(*r["finetune_prompt"]["ci95"])]
                          for r in summary["models"]]), ""]
    return lines + ["The trajectory over the checkpoints, with intervals, is `results/<run>/trajectory.png` "
                    "in the bundle.", ""]


def section_prompt(math: dict[str, dict]) -> list[str]:
    used = sorted({report["prompt"] for report in math.values()})
    if len(used) != 1:
        raise InputError("math reports", f"models were predicted with different prompts {used}; "
                         "expected one prompt for every model")
    ran = prompts.math_prompt_named(used[0])
    other = [variant for variant in (prompts.ENTRY, prompts.REPORT) if variant != ran]
    lines = ["## 7. Prompts", "",
             f"Inference prompt of every math prediction in this report: `{ran.name}`, from "
             f"{ran.source} ("
             + ("the same strings as `submission/run_llama3_test.py`)." if ran.name == "entry"
                else "`submission/run_llama3_test.py` uses the `entry` variant)."), "",
             "```text", ran("<problem>"), "```", ""]
    for variant in other:
        lines += [f"The `{variant.name}` variant ({variant.source}), selectable with "
                  "`evaluate.prompt`, was not used:", "", "```text", variant("<problem>"), "```", ""]
    return lines + [
        f"Training conversation: human = `{prompts.TRAIN_HUMAN_PREFIX} <problem>`, gpt = solution, "
        "rendered with FastChat's vicuna v1.1 template by the organisers' preprocessing:", "",
        "```text", f"{prompts.VICUNA_SYSTEM} {prompts.VICUNA_USER}: <human> "
        f"{prompts.VICUNA_ASSISTANT}: <gpt>{prompts.VICUNA_ROUND_END}", "```", "",
        "Original-ability (SQuAD) prompt:", "",
        "```text", prompts.SQUAD_PROMPT, "```", ""]


def section_environment(train: dict[str, Any], device: str) -> list[str]:
    packages = dig(train, "provenance.packages") or {}
    rows = [[name, f"`{version}`"] for name, version in sorted(packages.items())]
    lines = ["## 8. Environment", "",
             f"Fine-tuning ran with (from the provenance of the fine-tuning report; commit "
             f"`{dig(train, 'provenance.git_commit') or 'unknown'}`):", "",
             *table(["package", "version"], rows), "",
             f"Report written on {platform.system()} {platform.machine()}, Python "
             f"{platform.python_version()}. Every pinned package is in `code/requirements.lock`; "
             "`make submission` rebuilds the environment and the entry."]
    if device == "ascend":
        lines += ["", f"Contest environment of the predict script: {CONTEST_ENVIRONMENT}."]
    return lines + [""]


@dataclass(frozen=True)
class Sources:
    """The run a report is written for: its name, device and the artifacts it reads."""

    run_name: str
    device: str
    prepare: Path
    train: Path
    params: Path
    summary: Path
    yaml: Path
    math: tuple[Path, ...]
    squad: tuple[Path, ...]
    split: Path | None = None
    conversation: Path | None = None


def build_report(sources: Sources) -> str:
    prepare = read_artifact(sources.prepare, "prepare")
    split = read_artifact(sources.split, "split") if sources.split else None
    conversation = read_artifact(sources.conversation, "conversation") if sources.conversation else None
    train = read_artifact(sources.train, "train")
    summary = read_artifact(sources.summary, "summary")
    math = by_model(sources.math, "math")
    squad = by_model(sources.squad, "squad")
    try:
        ft = yaml.safe_load(Path(sources.yaml).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(sources.yaml, "MindFormers yaml not found") from None
    except yaml.YAMLError as exc:
        raise InputError(sources.yaml, f"not valid YAML ({exc})") from None
    if not isinstance(ft, dict):
        raise InputError(sources.yaml, "expected a MindFormers yaml mapping")
    counts = read_params(sources.params)
    lines = [f"# Submission report: {sources.run_name}", "",
             "Generated by `mathlora report` from the artifacts of the run; every number below is "
             "read from a schema-validated report of the graph.", ""]
    lines += section_method(ft, sources.run_name, sources.device)
    lines += section_data(prepare, split, conversation)
    lines += section_hyper(ft, train, Path(sources.yaml).name)
    lines += section_results(summary, math, squad, train, counts)
    lines += section_prompt(math)
    lines += section_environment(train, sources.device)
    return "\n".join(lines).rstrip("\n") + "\n"
