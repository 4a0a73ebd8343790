"""Events: webhooks about pushes, tags and deletes, delivered from a database queue."""
