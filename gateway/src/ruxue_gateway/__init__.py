"""Ruxue's GraphQL gateway (Strawberry on Starlette) and the ``ruxue`` command line."""
