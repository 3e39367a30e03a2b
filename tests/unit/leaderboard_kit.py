"""Judged results of made-up teams, shaped as the judge writes them (summary, math, params)."""

from __future__ import annotations

from mathlora.evaluate.leaderboard import Team

N = 200


def math_report(model: str, right: set[int], n: int = N, *, categories: dict | None = None) -> dict:
    """A math report whose items "1".."n" are right exactly where ``right`` says."""
    acc = len(right) / n
    block = {"correct": len(right), "accuracy": acc, "ci95": [max(0.0, acc - 0.07), min(1.0, acc + 0.07)]}
    half = n // 2
    cats = categories or {
        "add": {"n": half, "first_answer": _share(right, range(1, half + 1)),
                "last_number": _share(right, range(1, half + 1))},
        "sqrt": {"n": n - half, "first_answer": _share(right, range(half + 1, n + 1)),
                 "last_number": _share(right, range(half + 1, n + 1))}}
    return {"model": model, "prompt": "entry", "n": n,
            "correct_ids": [str(i) for i in sorted(right)], "primary_mode": "first_answer",
            "accuracy": acc, "rule": {"name": "r", "round_to_reference": True, "rel_tol": 1e-6},
            "modes": {"first_answer": {**block, "no_answer": 0}, "last_number": {**block, "no_answer": 0}},
            "categories": cats, "unknown_category": 0, "reference_without_number": 0,
            "prompt_not_found": 0, "sweep": {},
            "failures": [{"id": str(i), "category": "add", "problem": "p", "reference": None,
                          "generation": "", "first_answer": None, "last_number": None}
                         for i in range(1, n + 1) if i not in right]}


def _share(right: set[int], items: range) -> dict:
    hits = sum(i in right for i in items)
    acc = hits / len(items)
    return {"correct": hits, "accuracy": acc, "ci95": [max(0.0, acc - 0.1), min(1.0, acc + 0.1)]}


def params_report(trainable: int = 3_407_872) -> dict:
    return {"lora": {"rank": 8, "alpha": 16.0, "target_modules": ".*wq|.*wv"}, "lora_modules": 64,
            "lora_module_names": ["wq", "wv"], "total_parameters": 8_033_669_120,
            "base_parameters": 8_030_261_248, "trainable_parameters": trainable,
            "official_denominator": 8_030_000_000, "official_ratio": trainable / 8_030_000_000,
            "exact_ratio": trainable / 8_033_669_120, "source": "finetune.yaml"}


def summary(rows: dict[str, tuple[float, float]], *, claimed: dict | None = None) -> dict:
    """A judged summary: rows model -> (F1, EM); marks 90 % of base 60 / 45."""
    models = [{"model": name, "ratio": 0.0, "accuracy": 0.0, "accuracy_ci95": [0.0, 1.0],
               "last_number_accuracy": 0.0, "f1": f1, "em": em, "squad_pass": True, "score": 0.3,
               "paired": []} for name, (f1, em) in rows.items()]
    doc = {"thresholds": {"mode": "relative", "relative": 0.9, "f1": 54.0, "em": 40.5},
           "models": models, "chosen_on": "test", "best": None, "best_score": None, "optimism": None}
    if claimed:
        doc["claimed"] = claimed
    return doc


def bundle_team(name: str, right: dict[str, set[int]], squad: dict[str, tuple[float, float]] | None = None,
                trainable: int = 3_407_872, **extra) -> Team:
    squad = squad or {model: (58.0, 44.0) for model in right}
    rows = {"base": (60.0, 45.0), **squad}
    return Team(name=name, source=f"contest/{name}.zip", kind="bundle",
                summary=summary(rows, claimed=extra.pop("claimed", None)),
                math={m: math_report(m, r) for m, r in right.items()},
                params=params_report(trainable),
                inputs=[{"path": f"contest/{name}.zip", "sha256": "0" * 64}], **extra)


def npy_team(name: str, right: set[int], n: int = N, trainable: int = 3_407_872, **extra) -> Team:
    report = math_report("result_npy", right, n)
    return Team(name=name, source=f"contest/{name}", kind="npy", math={"result_npy": report},
                params=params_report(trainable),
                inputs=[{"path": f"contest/{name}/result_npy.npy", "sha256": "1" * 64}], **extra)
