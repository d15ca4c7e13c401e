"""Generated replies: prompt building, LoRA training, guarded generation (no Rasa imports)."""
