"""Llama3-format tiktoken tokenizers: loading a real ``tokenizer.model`` and training a small one."""
