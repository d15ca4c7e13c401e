"""Intent and emotion classification with a LoRA-tuned transformer encoder."""
EMOTIONS = ("neutral", "joy", "sadness", "anger", "fear", "surprise", "disgust")
