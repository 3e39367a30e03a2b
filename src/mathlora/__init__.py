"""mathlora: rebuild, evaluate and package a LoRA fine-tuning entry for MindFormers Llama3-8B."""

__version__ = "0.1.0"
