"""A stand-in of the contest environment, to run ``submission/run_llama3_test.py`` on this machine.

The shipped script is written for MindFormers r1.1's ``research/llama3`` folder on Ascend. Here it
runs unchanged on the installed MindFormers and MindSpore's CPU backend, with two differences of
the environment, each the smallest that lets the real pipeline run:

- the script's folder is expected to hold r1.1's ``llama3_tokenizer.py``; this package's folder
  holds a stand-in with that class's behaviour (:mod:`mathlora.standin.llama3_tokenizer`) and comes
  first on ``sys.path``;
- MindFormers' greedy search takes ``mindspore.mint.argmax``, whose ``ArgMaxExt`` kernel exists only
  on Ascend; it is mapped to numpy's argmax (ties go to the lowest id, as on the device).

One difference of the installed MindFormers is taken back, so that what fails there fails here:
r1.1's ``text_generator.py`` clamps ``max_length`` to ``seq_length`` first and then replaces it by
``max_new_tokens`` + the batch's longest prompt, so a batch whose longest prompt leaves fewer than
``max_new_tokens`` positions writes ``input_ids[i, seq_length]`` (IndexError); 1.9 clamps after
adding and runs on. :func:`r11_generation_bound` makes ``generate`` raise that IndexError here.

``mathlora entry-script`` is the command; :func:`run_script` does the work.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def host_argmax(tensor, dim=None, keepdim=False):
    """``mint.argmax`` computed on the host (int64 ids, as the device op returns)."""
    import mindspore as ms
    import numpy as np

    values = tensor.asnumpy() if isinstance(tensor, ms.Tensor) else np.asarray(tensor)
    if dim is None:
        ids = np.asarray(values.argmax())
    else:
        ids = values.argmax(axis=dim)
        if keepdim:
            ids = np.expand_dims(ids, dim)
    return ms.Tensor(ids.astype(np.int64))


def r11_max_length(seq_length: int, max_length: int, max_new_tokens: int | None, longest: int) -> int:
    """The generation length of MindFormers r1.1's ``text_generator.generate``: ``max_length``
    clamped to ``seq_length``, then, with ``max_new_tokens``, ``max_new_tokens`` + the longest prompt
    (no clamp after it; the decoding loop writes position ``valid_length`` until that length)."""
    if max_length > seq_length:
        max_length = seq_length
    if max_new_tokens is not None:
        max_length = max_new_tokens + longest
    return max_length


def r11_generation_bound(generate):
    """``generate`` that raises where r1.1 writes past its ``seq_length`` buffer."""
    import copy
    import functools

    import numpy as np

    @functools.wraps(generate)
    def bounded(self, input_ids, generation_config=None, *args, **kwargs):
        from mindformers.generation import GenerationConfig

        config = copy.deepcopy(generation_config or GenerationConfig.from_model_config(self.config))
        config.update(**{k: v for k, v in kwargs.items() if hasattr(config, k)})
        pad = 0 if config.pad_token_id is None else config.pad_token_id
        rows = np.asarray(input_ids if np.ndim(input_ids) == 2 else [input_ids])
        longest = max(int(np.max(np.nonzero(row != pad)[0], initial=-1)) + 1 for row in rows)
        seq_length = int(self.config.seq_length)
        length = r11_max_length(seq_length, int(config.max_length), config.max_new_tokens, longest)
        if length > seq_length:
            raise IndexError(f"index {seq_length} is out of bounds for axis 1 with size {seq_length} "
                             f"(MindFormers r1.1 text_generator: longest prompt {longest} + "
                             f"max_new_tokens {config.max_new_tokens} > seq_length {seq_length})")
        return generate(self, input_ids, generation_config, *args, **kwargs)

    bounded.r11_bound = True
    return bounded


def install() -> None:
    """Put the stand-in folder first on ``sys.path``, give greedy search a CPU argmax and r1.1's
    generation length bound."""
    from mathlora.model.compat import prepare_mindformers_import

    prepare_mindformers_import()
    if str(FOLDER) not in sys.path:
        sys.path.insert(0, str(FOLDER))
    import mindspore.mint
    from mindformers.generation.text_generator import GenerationMixin

    mindspore.mint.argmax = host_argmax
    if not getattr(GenerationMixin.generate, "r11_bound", False):
        GenerationMixin.generate = r11_generation_bound(GenerationMixin.generate)


def run_script(script: str | Path, argv: Sequence[str], workdir: str | Path) -> int:
    """Run ``script`` as ``__main__`` with ``argv`` in ``workdir``; returns its exit status."""
    script = Path(script).resolve()
    if not script.is_file():
        from mathlora.errors import InputError

        raise InputError(script, "script not found")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    install()
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    sys.argv = [str(script), *argv]
    os.chdir(workdir)
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
    return 0
