"""JSON API under /api: the hub's own /api/v1 and the Harbor-v1 shapes wasme calls."""
