"""The MindFormers yamls shipped in ``submission/``: the entry's, as rendered for the Ascend run.

The contest environment has no mathlora, so the bundle ships the rendered training and prediction
yamls of ``config/ascend.yaml``. They are rendered by :mod:`mathlora.model.render` with the real
Llama3 vocabulary (128,000 ranks + 256 specials, bos/eos/pad 128000/128001/128002) and the real
training set size (the configured Chinese + English sample, one MindRecord row each); dataset and
checkpoint paths stay empty because ``run_llama3.py`` / ``run_llama3_test.py`` take them on the
command line, and the checkpoint callback keeps r1.1's name ``CheckpointMointor`` (the only one
r1.1 knows; the workflow's own yamls say 1.9's ``CheckpointMonitor``). A test keeps the committed
files equal to this output; refresh them with ``python -m mathlora.package.yamls``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ASCEND_CONFIG = "config/ascend.yaml"
FILES = {"finetune": "finetune_llama3_8b_lora.yaml", "predict": "predict_llama3_8b_lora.yaml"}


def submission_yamls(config_path: str | Path = ASCEND_CONFIG) -> dict[str, str]:
    """File name -> rendered text of the fine-tuning and prediction yamls of a config."""
    from mathlora.contest import LLAMA3_RANKS, R11_CHECKPOINT_CALLBACK
    from mathlora.model import render
    from mathlora.settings import load_config
    from mathlora.tokenizer.llama3 import special_ids

    config = load_config(config_path)
    settings = render.load_settings(None, json.dumps(config))
    vocab = special_ids(LLAMA3_RANKS)
    sample = config["data"]["sample"]
    rows = sample["chinese"] + sample["english"]
    texts = {}
    for mode, name in FILES.items():
        values = render.render_values(settings, mode=mode, vocab=vocab, tokenizer="tokenizer.model",
                                      rows=rows if mode == "finetune" else None, dataset="",
                                      load_checkpoint="", output_dir="./output",
                                      config_name=str(config_path), vocab_file="",
                                      checkpoint_callback=R11_CHECKPOINT_CALLBACK)
        texts[name] = render.render(values)
    return texts


def write_submission_yamls(folder: str | Path = "submission") -> None:
    """Refresh the shipped yamls in ``folder`` (each written whole, then renamed into place)."""
    from mathlora.artifacts import atomic_output

    for name, text in submission_yamls().items():
        with atomic_output(Path(folder) / name) as tmp:
            tmp.write_text(text, encoding="utf-8")
        print(f"wrote {Path(folder) / name}")


if __name__ == "__main__":
    write_submission_yamls(*sys.argv[1:2])
