"""People: guardians, children and staff accounts. ID and phone numbers are stored encrypted.

``*_ct`` columns hold AES-GCM ciphertext; ``*_idx`` columns hold a keyed blind index (HMAC)
for lookup and duplicate detection. Neither reveals the number without the key.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from ruxue_core.domain.enums import Role
from ruxue_core.domain.types import UTCDateTime, enum_type, utcnow


class Guardian(SQLModel, table=True):
    """A child's guardian (监护人): the applicant."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    id_number_ct: bytes
    id_number_idx: str = Field(unique=True, max_length=64)
    phone_ct: bytes
    phone_idx: str = Field(index=True, max_length=64)
    subject: str | None = Field(
        default=None, max_length=128, description="the login last bound (informational)"
    )
    bound_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="when a verified login first matched"
    )


class Child(SQLModel, table=True):
    """The child applying for a place (适龄儿童)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    id_number_ct: bytes
    id_number_idx: str = Field(unique=True, max_length=64)
    birth_date: date
    male: bool


class StaffAccount(SQLModel, table=True):
    """A staff member: counter staff of a township, a school's reviewer, a bureau officer."""

    __tablename__ = "staff_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=50)
    role: Role = Field(sa_type=enum_type(Role))
    region_id: int | None = Field(default=None, foreign_key="region.id")
    school_id: int | None = Field(default=None, foreign_key="school.id")
    active: bool = True
    password_hash: str = Field(default="", max_length=200, description="argon2id")
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    session_epoch: int = Field(
        default=1, description="bumped by logout, disable and reset: older sessions end"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
