"""Guardians' sessions: what a unified-identity login vouched for, kept while the session lasts.

A row holds only what the session needs (the verified name, ID number, phone and real-name
level, the first two encrypted) and no credential of the identity provider. Signing out ends
the row; an ended or expired row admits no request.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from ruxue_core.domain.types import UTCDateTime, utcnow


class GuardianSession(SQLModel, table=True):
    """One guardian's signed-in session (the token carries only its id and expiry)."""

    __tablename__ = "guardian_session"

    id: str = Field(
        primary_key=True,
        max_length=32,
        sa_column_kwargs={"autoincrement": False},
        description="random; the token's sid",
    )
    provider: str = Field(max_length=64, description="the login provider that vouched")
    subject: str = Field(max_length=128, description="the provider's stable user id")
    name: str = Field(max_length=50)
    id_number_ct: bytes
    phone_ct: bytes | None = None
    assurance_level: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
