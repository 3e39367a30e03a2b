"""The MindSpore + MindFormers pair the model commands run on, checked before they start.

The workflow's commands (base, finetune, merge, params, predict, squad, full-weights, export-hf)
use MindFormers 1.9 APIs that MindFormers r1.1 lacks (``AdamW`` under the entry's optimizer name,
``CheckpointMonitor``, ``mindspore.nn.utils.no_init_parameters``), so they run on the pinned pair
of ``requirements.lock`` on the CPU and on Ascend alike; MindFormers 1.9 wants MindSpore 2.9 with
CANN 9.0.0 (firmware and drivers 26.0.RC1) on Ascend. The contest's own environment, MindFormers
r1.1 with MindSpore 2.3.0rc2 (CANN 8.0.RC1), is what ``submission/run_llama3_test.py`` targets.
"""

from __future__ import annotations

import functools
from importlib import metadata

from mathlora.errors import ConfigError

SUPPORTED = {"mindspore": "2.9.0", "mindformers": "1.9.0"}
ASCEND_CANN = "9.0.0"
ASCEND_DRIVER = "26.0.RC1"


def installed() -> dict[str, str | None]:
    found = {}
    for name in SUPPORTED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


@functools.cache
def check() -> None:
    """Raise :class:`ConfigError` unless the installed pair is the supported one."""
    found = installed()
    if found == SUPPORTED:
        return
    shown = ", ".join(f"{name} {version or 'not installed'}" for name, version in found.items())
    raise ConfigError(
        f"installed {shown}: the model commands run on MindSpore {SUPPORTED['mindspore']} with "
        f"MindFormers {SUPPORTED['mindformers']} (on Ascend with CANN {ASCEND_CANN}, driver "
        f"{ASCEND_DRIVER}); install "
        "requirements.lock (make venv). The contest's MindFormers r1.1 / MindSpore 2.3 runs "
        "submission/run_llama3_test.py, not these commands")
