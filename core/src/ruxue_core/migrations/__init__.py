"""Alembic migrations for the core's tables (``ruxue migrate`` applies them)."""
