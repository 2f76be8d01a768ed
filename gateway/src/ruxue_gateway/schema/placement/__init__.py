"""Admission GraphQL: lottery, placement runs, publication, enrollment, seat warnings."""
