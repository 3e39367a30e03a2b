"""A stand-in of the contest environment, to run ``submission/run_llama3_test.py`` on this machine.

The shipped script is written for MindFormers r1.1's ``research/llama3`` folder on Ascend. Here it
runs unchanged on the installed MindFormers and MindSpore's CPU backend, with two differences of
the environment, each the smallest that lets the real pipeline run:

- the script's folder is expected to hold r1.1's ``llama3_tokenizer.py``; this package's folder
  holds a stand-in with that class's behaviour (:mod:`mathlora.standin.llama3_tokenizer`) and comes
  first on ``sys.path``;
- MindFormers' greedy search takes ``mindspore.mint.argmax``, whose ``ArgMaxExt`` kernel exists only
  on Ascend; it is mapped to numpy's argmax (ties go to the lowest id, as on the device).

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


def install() -> None:
    """Put the stand-in folder first on ``sys.path`` and give greedy search a CPU argmax."""
    from mathlora.model.compat import quiet_mindformers_logs

    quiet_mindformers_logs()
    if str(FOLDER) not in sys.path:
        sys.path.insert(0, str(FOLDER))
    import mindspore.mint

    mindspore.mint.argmax = host_argmax


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
