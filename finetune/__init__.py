"""Fine-tuning: training data built from the ingested manuals and QLoRA/LoRA training of
the generator's adapters."""
