"""Re-identification of recently ended tracks: appearance embeddings and a per-channel Redis gallery."""
