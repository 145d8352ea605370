"""Fine-tuning: training data from the ingested manuals, QLoRA/LoRA training (next issue)."""
