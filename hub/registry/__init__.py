"""The /v2 OCI distribution API: thin handlers over hub.artifacts."""
