"""The use-case layer: one typed function or small class per action, called by every face."""
