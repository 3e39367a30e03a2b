"""Model stage: MindFormers yamls, tiny base pretraining, LoRA fine-tuning, merging, counting."""
