"""Domain services: blobs, uploads, manifests, tags. Handlers call these, never storage/SQL."""
