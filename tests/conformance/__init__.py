"""Python port of the OCI distribution-spec conformance suite (see README.md)."""
