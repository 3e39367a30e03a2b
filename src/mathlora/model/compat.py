"""Patches that let the installed MindSpore + MindFormers run the entry's code here, applied once.

Each is a function called explicitly by :func:`mathlora.model.network.set_context` (or by whoever
needs it), and each does its work once per process however often it is called:

- :func:`prepare_mindformers_import`: importing MindFormers writes ``./output/log`` of the working
  directory unless ``LOG_MF_PATH`` points elsewhere (and ``get_pet_model`` drops files under
  ``LOCAL_DEFAULT_PATH``); and its TensorBoard writer (tensorboardX) imports torch, only to
  recognise torch tensors, which is 1.5 s of every model command's start on a 2-core CPU;
- :func:`register_entry_names`: the rendered yaml keeps the entry's MindFormers r1.1 names
  (``FP32StateAdamWeightDecay`` with beta1/beta2, ``CheckpointMointor``); MindFormers 1.9 calls them
  ``AdamW`` (fp32 moments, ``betas``) and ``CheckpointMonitor``, so those names are registered as
  aliases;
- :func:`cpu_overflow_check`: the loss-scale cell's overflow check uses ``NPUGetFloatStatusV2``,
  which exists only on Ascend; on the CPU it becomes "any gradient not finite".
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile


def prepare_mindformers_import() -> None:
    """Before MindFormers is imported: its log and stray-file folders away from the working
    directory (if unset), and tensorboardX imported without torch (once)."""
    if not os.environ.get("LOG_MF_PATH"):
        os.environ["LOG_MF_PATH"] = os.path.join(tempfile.gettempdir(), "mathlora-mindformers-log")
    if not os.environ.get("LOCAL_DEFAULT_PATH"):
        os.environ["LOCAL_DEFAULT_PATH"] = os.path.join(tempfile.gettempdir(), "mathlora-mindformers-output")
    os.environ.setdefault("GLOG_v", "3")
    _tensorboard_without_torch()


@functools.cache
def _tensorboard_without_torch() -> None:
    """Import tensorboardX with torch hidden, then let torch be imported again by whoever needs it.

    tensorboardX tries ``import torch`` at import time and works without it. MindSpore goes first:
    its protobuf files must be registered before tensorboardX's. Nothing is done when either is
    already imported (a process that holds torch keeps it).
    """
    if "torch" in sys.modules or "tensorboardX" in sys.modules:
        return
    try:
        import mindspore  # noqa: F401 - its protobuf descriptors before tensorboardX's
    except ImportError:
        return  # stack.check() says what to install

    sys.modules["torch"] = None  # an ImportError for `import torch`, inside this block only
    try:
        import tensorboardX  # noqa: F401
    finally:
        del sys.modules["torch"]


@functools.cache
def register_entry_names() -> None:
    """Register the entry's r1.1 optimizer and callback names in the installed MindFormers."""
    from mindformers.core.callback.callback import CheckpointMonitor
    from mindformers.core.optim import AdamW
    from mindformers.tools.register import MindFormerModuleType, MindFormerRegister

    class FP32StateAdamWeightDecay:  # noqa: N801 - the entry's class name
        """AdamW with fp32 moment states, configured with the entry's beta1/beta2 keys."""

        def __new__(cls, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                    weight_decay=0.0, **kwargs):
            return AdamW(params, learning_rate=learning_rate, betas=(beta1, beta2), eps=eps,
                         weight_decay=weight_decay, **kwargs)

    registry = MindFormerRegister.registry
    if "FP32StateAdamWeightDecay" not in str(registry.get(MindFormerModuleType.OPTIMIZER, {})):
        MindFormerRegister.register_cls(FP32StateAdamWeightDecay, MindFormerModuleType.OPTIMIZER)
    if "CheckpointMointor" not in str(registry.get(MindFormerModuleType.CALLBACK, {})):
        MindFormerRegister.register_cls(CheckpointMonitor, MindFormerModuleType.CALLBACK,
                                        alias="CheckpointMointor")


@functools.cache
def cpu_overflow_check() -> None:
    """Replace the Ascend-only overflow check of every loss-scale training cell."""
    from mindspore import nn, ops

    isfinite, stack, logical_not = ops.isfinite, ops.stack, ops.logical_not

    def get_overflow_status(self, status, compute_output):  # noqa: ARG001 - original signature
        """Overflow = any gradient not finite; compiled into the training graph."""
        finite = stack([isfinite(grad).all() for grad in compute_output]).all()
        return logical_not(finite)

    nn.TrainOneStepWithLossScaleCell.get_overflow_status = get_overflow_status
