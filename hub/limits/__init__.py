"""Limits (issue 8): per-namespace storage quotas, the largest blob, and request rates."""
