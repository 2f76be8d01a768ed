"""Serve Ruxue in embedded mode for a person or the browser tests: a fresh data directory, the
sample season with every phase of its calendar open now (报名 through 报到, so one sitting can
try every page; a real season opens them one after another), demo staff accounts, then
``ruxue serve`` with the sandbox (department services, identity provider) and the built web
client.

Run with the Python that has Ruxue installed (``nox -s serve`` does)::

    python contrib/web/e2e/sandbox.py --data-dir var/web --port 8000 [--families out.json]

``--families`` writes the sandbox guardians the browser tests sign in as (one family that
verifies, one whose declared relationship the hukou contradicts, one the data cannot decide,
and one more that verifies for the counter clerk's intake), all in 花湖镇, with their portal
passwords. Embedded mode only: nothing here is a real secret.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[3]
SEASON: Final = ROOT / "contrib" / "seasons" / "linkong-2026-primary.toml"
TOWNSHIP: Final = "420704104"
SCHOOL: Final = "LK-HH-01"
STAFF_PASSWORD: Final = "Ruxue-demo-2026"
STAFF: Final = (
    ("counter", "counter_staff", "窗口王芳", TOWNSHIP, None),
    ("school", "school_reviewer", "学校李明", None, SCHOOL),
    ("bureau", "bureau_officer", "区局赵强", None, None),
)
KINDS: Final = ("local_owner", "wrong_relationship", "ambiguous")


def ruxue_command() -> str:
    """The ``ruxue`` command installed beside this Python."""
    return shutil.which("ruxue", path=str(Path(sys.executable).parent)) or "ruxue"


def set_up(data_dir: Path) -> None:
    """Migrate a fresh database, load the sample season with every phase open now, add the demo
    staff accounts."""
    from ruxue_core.domain.enums import Role
    from ruxue_core.domain.types import utcnow
    from ruxue_core.migrate import upgrade
    from ruxue_core.phases import Phase, rehearsal
    from ruxue_core.plugins.contracts import Principal
    from ruxue_core.policy import read_season_file
    from ruxue_core.runtime import Runtime
    from ruxue_core.services import staff
    from ruxue_core.services.seasons import load_season
    from ruxue_core.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=None)
    upgrade(settings.resolved_database_url, settings=settings)

    async def seed() -> None:
        runtime = Runtime.create(settings)
        try:
            calendar = rehearsal(read_season_file(SEASON), utcnow(), *Phase)
            await load_season(runtime, calendar, Principal.system())
            for username, role, name, region, school in STAFF:
                command = staff.AddStaff(username, name, Role(role), STAFF_PASSWORD, region, school)
                await staff.add_staff(runtime, command, Principal.system())
        finally:
            await runtime.close()

    asyncio.run(seed())


def families() -> dict[str, dict[str, str]]:
    """One sandbox family of each kind the tests drive, with its portal sign-in."""
    from ruxue_gateway.demo import make_families
    from ruxue_gateway.demo_login import password_of

    chosen: dict[str, dict[str, str]] = {}
    for family in make_families(100, 2026).families:
        if family.kind not in KINDS or family.place.township_code != TOWNSHIP:
            continue
        # a second verifying family comes to the counter instead of applying online
        key = "counter" if family.kind == "local_owner" and family.kind in chosen else family.kind
        if key not in chosen:
            chosen[key] = {
                "username": f"g{family.index}",
                "password": password_of(family),
                "childName": family.child_name,
                "childId": family.child_id,
                "guardianName": family.guardian_name,
                "guardianId": family.guardian_id,
                "phone": family.phone,
                "relationship": family.relationship.upper(),
                "address": family.address,
                "townshipCode": family.place.township_code,
            }
    return chosen


def main() -> None:
    """Set up a fresh embedded instance and serve it (replaces this process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var" / "web")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--families", type=Path, default=None)
    args = parser.parse_args()
    if args.data_dir.exists():
        shutil.rmtree(args.data_dir)
    args.data_dir.mkdir(parents=True)
    os.environ["RUXUE_DATA_DIR"] = str(args.data_dir)
    os.environ.pop("RUXUE_DATABASE_URL", None)
    set_up(args.data_dir)
    chosen = families()
    if args.families is not None:
        args.families.write_text(json.dumps(chosen, ensure_ascii=False, indent=2), encoding="utf-8")
    print("\n沙箱账号 (sandbox accounts, embedded mode only):")
    for kind, family in chosen.items():
        print(
            f"  监护人 {family['username']} / {family['password']}",
            f"({kind}, {family['guardianName']})",
        )
    for username, role, *_ in STAFF:
        print(f"  工作人员 {username} / {STAFF_PASSWORD}  ({role})")
    print(
        f"\n打开 (open) http://127.0.0.1:{args.port}/ ；后台 http://127.0.0.1:{args.port}/staff\n",
        flush=True,
    )
    command = ruxue_command()
    os.execv(command, [command, "serve", "--host", "127.0.0.1", "--port", str(args.port)])


if __name__ == "__main__":
    main()
