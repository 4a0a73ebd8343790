"""Metadata database: SQLModel tables and the engine."""
