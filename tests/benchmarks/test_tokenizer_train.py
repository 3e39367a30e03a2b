"""Time of learning the embedded default's tokenizer: 3,000 BPE ranks from its training sample.

The conversations are the default config's sample size (3,000 Chinese + 40 English generated
lines, each wrapped in the training prompt), weighted as ``mathlora tokenizer train`` weighs them;
the timed part is what that command times (piece counting and merging). Runs with
``--benchmark-only`` (``make bench``).
"""

from __future__ import annotations

import pytest

from mathlora.data import synth
from mathlora.prompts import train_human
from mathlora.tokenizer.bpe import piece_counts, train
from mathlora.tokenizer.training import training_texts

SEED = 20240705
RANKS = 3000


@pytest.fixture(scope="module")
def texts(request):
    if not request.config.getoption("benchmark_only", default=False):
        pytest.skip("a benchmark: run with --benchmark-only")
    lines = synth.generate(3000, 40, SEED, template_rate=0.0)
    return training_texts([(train_human(problem), solution) for problem, solution in lines])


def test_tokenizer_train(benchmark, texts):
    ranks = benchmark.pedantic(lambda: train(piece_counts(texts), RANKS), rounds=5, iterations=1)
    benchmark.extra_info["ranks"] = len(ranks)
    assert 256 < len(ranks) <= RANKS
