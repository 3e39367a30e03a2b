"""The organisers' and the entry's fixed facts, in one place; the stages take them from here.

The prompt strings live beside this module, in :mod:`mathlora.prompts`. Sources: the contest's
published rules and score table, the organisers' evaluation yamls and the entry's report and
scripts.
"""

from __future__ import annotations

# The low-parameter ratio divides the trainable parameters by this fixed count (not the network's).
OFFICIAL_DENOMINATOR = 8_030_000_000
# Score = (1 - ratio) * 0.3 + accuracy * 0.7, printed with 9 decimals in the published table.
RATIO_WEIGHT = 0.3
ACCURACY_WEIGHT = 0.7
SCORE_DECIMALS = 9

# Original ability (SQuAD v1.1 F1 / EM on a 0-100 scale): the published pass marks, 90 % of the
# base model's 59.870 / 44.170.
SQUAD_FIXED_F1 = 53.883
SQUAD_FIXED_EM = 39.753
SQUAD_RELATIVE = 0.9

# What MindFormers' text-generation pipeline returns per input, and the entry saved with np.save.
RESULT_KEY = "text_generation_text"
# The entry's predict script: batches of 4, max_length 512 (the defaults of predict's options).
ENTRY_BATCH_SIZE = 4
ENTRY_MAX_LENGTH = 512

# The organisers' math prediction yaml: paged-attention block size (with use_past) and the
# processor block that names the tokenizer.
PREDICT_BLOCK_SIZE = 64
LLAMA3_PROCESSOR = {"model_max_length": 8192, "pad_token": "<|reserved_special_token_0|>",
                    "type": "Llama3Tokenizer"}
# Llama3's tokenizer.model: 128,000 BPE ranks (the 256 special tokens follow them).
LLAMA3_RANKS = 128_000

# What MindFormers' msrun_launcher.sh exports for its workers: HCCL's buffer of 2 MB (the default
# 200 MB per link does not fit beside an 8B model on the contest's 32 GB cards).
MSRUN_ENVIRONMENT = {"HCCL_BUFFSIZE": "2"}

# The dtypes MindFormers r1.1's LoraConfig gives the LoRA matrices and their Dense when pet_config
# names none (mindformers/pet/pet_config.py, both 'float16'); the entry's pet_config names none, so
# it trained fp16 LoRA matrices beside its bf16 base. MindFormers 1.9 defaults to the wrapped
# layer's dtypes instead, so the yamls state these.
R11_LORA_DTYPES = {"param_init_type": "float16", "compute_dtype": "float16"}

# The checkpoint callback's name in MindFormers r1.1 (its spelling; the only one r1.1 registers) and
# in 1.9, whose trainer fills the callback's resume defaults (append_info with the resumed step,
# global_batch_size) only for a callback of exactly that type.
R11_CHECKPOINT_CALLBACK = "CheckpointMointor"
CHECKPOINT_CALLBACK = "CheckpointMonitor"

# The contest's software, which the shipped run_llama3_test.py targets.
CONTEST_ENVIRONMENT = "MindSpore 2.3.0rc2 and MindFormers r1.1 (research/llama3) on Ascend, tiktoken"
