"""Stand-in for MindFormers r1.1's ``research/llama3/llama3_tokenizer.py`` on the installed MindFormers.

``submission/run_llama3_test.py`` runs in r1.1's ``research/llama3`` folder and imports
``llama3_tokenizer`` from there, which registers the ``Llama3Tokenizer`` that the predict yaml's
``processor.tokenizer.type`` names. MindFormers 1.9 has no such class, so this module provides one
with the r1.1 class's behaviour, built on :class:`mathlora.tokenizer.llama3.Llama3Tokenizer`:

- the same name, registration (``MindFormerModuleType.TOKENIZER``) and constructor defaults
  (``pad_token`` ``<|reserved_special_token_0|>``, ``add_bos_token=False``: prompts get no bos);
- tiktoken ranks from ``vocab_file``, Llama3's split pattern, the 256 special tokens after the ranks
  and recognised in text (r1.1 encodes with ``allowed_special="all"``);
- decoding drops every special id when ``skip_special_tokens`` is set, as r1.1's ``_decode`` does.

Tokens are the BPE pieces' bytes, carried as latin-1 strings (one character per byte) so that the
base class's token <-> id plumbing works unchanged.
"""

from __future__ import annotations

from mindformers.models.tokenization_utils import PreTrainedTokenizer
from mindformers.tools.register import MindFormerModuleType, MindFormerRegister

from mathlora.tokenizer.llama3 import BOS, EOS, NUM_SPECIAL, PAD
from mathlora.tokenizer.llama3 import Llama3Tokenizer as _Ranks

__all__ = ["Llama3Tokenizer"]


@MindFormerRegister.register(MindFormerModuleType.TOKENIZER)
class Llama3Tokenizer(PreTrainedTokenizer):
    """Llama3's tiktoken tokenizer as MindFormers r1.1 ``research/llama3`` defines it."""

    vocab_files_names = {"vocab_file": "tokenizer.model"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file, bos_token=BOS, eos_token=EOS, pad_token=PAD, add_bos_token=False,
                 add_eos_token=False, errors="replace", num_reserved_special_tokens=NUM_SPECIAL,
                 **kwargs):
        if num_reserved_special_tokens != NUM_SPECIAL:
            raise ValueError(f"num_reserved_special_tokens: {num_reserved_special_tokens}; Llama3 "
                             f"files have {NUM_SPECIAL}")
        self.vocab_file = vocab_file
        self.add_bos_token, self.add_eos_token, self.errors = add_bos_token, add_eos_token, errors
        self.ranks = _Ranks.from_file(vocab_file)
        self._vocab = {self._piece(i): i for i in range(self.ranks.num_ranks)}
        self._vocab.update(self.ranks.special_tokens)
        super().__init__(bos_token=bos_token, eos_token=eos_token, pad_token=pad_token, **kwargs)
        self.add_tokens(list(self.ranks.special_tokens), special_tokens=True)

    def _piece(self, token_id: int) -> str:
        return self.ranks.token_bytes(token_id).decode("latin-1")

    @property
    def vocab_size(self) -> int:
        return self.ranks.vocab_size

    def get_vocab(self) -> dict[str, int]:
        return dict(self._vocab)

    def _tokenize(self, text, **kwargs):
        return [self._piece(i) for i in self.ranks.encode(text)]

    def _convert_token_to_id(self, token):
        return self._vocab[token]

    def _convert_id_to_token(self, index):
        return self._piece(index)

    def convert_tokens_to_string(self, tokens):
        return "".join(tokens).encode("latin-1").decode("utf-8", errors=self.errors)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        ids = token_ids_0 + (token_ids_1 or [])
        return ([self.bos_token_id] if self.add_bos_token else []) + ids + (
            [self.eos_token_id] if self.add_eos_token else [])

    def _decode(self, token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=None,
                **kwargs):
        ids = [int(i) for i in token_ids]
        if skip_special_tokens:
            ids = [i for i in ids if i < self.ranks.num_ranks]
        return self.ranks.decode(ids)

    def save_vocabulary(self, save_directory, filename_prefix=None):
        raise NotImplementedError("the stand-in reads a tiktoken file; it never writes one")
