"""The prediction service: HTTP protocols over the scoring domain."""
