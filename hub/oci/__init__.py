"""Pure OCI data: digests, names, manifests. No I/O."""
