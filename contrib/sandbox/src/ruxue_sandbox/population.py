"""One seeded synthetic population, consistent across the three departments, with the ground
truth of every family: what verification must conclude about its application.

Families live at places of the season's zones (township → village/community → estate →
school). Kinds: local hukou owners (房户一致), owners without local hukou (有房无户), hukou
without property (有户无房), migrants with a residence permit and insurance (随迁), a declared
relationship that the hukou contradicts, people no department knows, and an ambiguous hukou
record (集体户). The truth follows the sample season's categories A (房户一致), B (有房无户),
C (有户无房) and D (居住证 + 社保), and its materials list; it is written here from the kinds,
not computed by the core's rules, so that tests compare two independent accounts.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final

from ruxue_sandbox.departments import DEPARTMENTS, DepartmentRecord, DepartmentService

KINDS: Final[Mapping[str, int]] = {
    "local_owner": 30,
    "owner_no_hukou": 12,
    "hukou_no_property": 18,
    "migrant": 20,
    "wrong_relationship": 6,
    "missing": 7,
    "ambiguous": 7,
}
"""Each kind of family and its weight in a population."""

_CATEGORY: Final = {
    "local_owner": "A",
    "owner_no_hukou": "B",
    "hukou_no_property": "C",
    "migrant": "D",
}
_ELSEWHERE: Final = ("420102001", "湖北省武汉市江岸区")
_SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
_GIVEN: Final = "子涵浩宇欣怡梓轩雨桐俊杰诗琪博文思远一诺语嫣明轩可馨晨阳佳怡天佑若曦嘉豪雅静"
_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def national_id(region: str, born: date, sequence: int, male: bool) -> str:
    """A valid 18-character resident ID number (GB 11643, ISO 7064 MOD 11-2 check)."""
    order = (sequence % 500) * 2 + (1 if male else 0)
    body = f"{region}{born:%Y%m%d}{order:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]
    return body + check


@dataclass(frozen=True, slots=True)
class Place:
    """Where a family can live: a zone rule's township, village and estate, its school."""

    township_code: str
    township_name: str
    village: str | None
    estate: str | None
    school: str

    def address(self, n: int) -> str:
        """An address at this place that no more specific zone rule matches."""
        village = self.village or "新街"
        estate = (
            f"{self.estate}{n % 30 + 1}栋{n % 6 + 1}单元{n % 20 + 1:02d}室" if self.estate else ""
        )
        number = "" if self.estate else f"{n % 90 + 1}号"
        return f"湖北省鄂州市{self.township_name}{village}{estate}{number}"


@dataclass(frozen=True, slots=True)
class MaterialSpec:
    """A material of the season: its code, the source whose fact it proves, its townships."""

    code: str
    source: str | None
    townships: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Truth:
    """What verification must conclude: decision, category, zoned school, materials still
    needed (codes, in the season's order) and what to correct."""

    decision: str
    category: str | None = None
    school: str | None = None
    materials: tuple[str, ...] = ()
    corrections: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Family:
    """One family and its application as it will be submitted."""

    index: int
    kind: str
    child_name: str
    child_id: str
    guardian_name: str
    guardian_id: str
    phone: str
    relationship: str
    address: str
    place: Place


@dataclass(slots=True)
class Population:
    """Families, every department's records about them, and the materials of the season."""

    families: list[Family]
    records: list[DepartmentRecord]
    materials: tuple[MaterialSpec, ...]
    _by_kind: dict[str, int] = field(default_factory=dict)

    def load(self, services: Iterable[DepartmentService]) -> None:
        """Give each department service the records of its sources."""
        for service in services:
            service.add(self.records)

    def truth(self, family: Family, down: frozenset[str] = frozenset()) -> Truth:
        """The ground truth for ``family`` when the sources in ``down`` never answer
        (supported: ``property``, ``social_insurance``, or none)."""
        if down - {"property", "social_insurance"}:
            raise ValueError(f"no ground truth with {sorted(down)} down")
        kind = family.kind
        township = family.place.township_code
        if kind == "wrong_relationship":
            return Truth("needs_correction", corrections=("relationship",))
        if kind == "ambiguous":
            unknown = {"hukou"} | (down & {"property"})
            return Truth("manual_review", materials=self._materials(township, unknown))
        if "property" in down:
            return Truth("manual_review", materials=self._materials(township, {"property"}))
        if kind == "missing":
            every = {"hukou", "residence_permit", "property", "social_insurance"}
            return Truth("manual_review", materials=self._materials(township, every))
        if kind == "migrant" and "social_insurance" in down:
            return Truth("manual_review", materials=self._materials(township, {"social_insurance"}))
        return Truth(
            "verified",
            category=_CATEGORY[kind],
            school=family.place.school,
            materials=self._materials(township, set()),
        )

    def _materials(self, township: str, sources: set[str]) -> tuple[str, ...]:
        return tuple(
            m.code
            for m in self.materials
            if (not m.townships or township in m.townships) and m.source in sources
        )


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def make_population(
    n: int,
    *,
    seed: int,
    places: Sequence[Place],
    materials: Sequence[MaterialSpec],
    kinds: Mapping[str, int] = KINDS,
) -> Population:
    """``n`` families at ``places``, drawn with ``seed``: the same arguments always give the
    same families, ID numbers and records."""
    rng = random.Random(seed)
    names, weights = list(kinds), list(kinds.values())
    families: list[Family] = []
    records: list[DepartmentRecord] = []
    for index in range(n):
        kind = rng.choices(names, weights)[0]
        place = places[index % len(places)]
        local = kind not in ("owner_no_hukou", "migrant", "missing")
        region = "420704" if local else "420102"
        child_born = date(2019, 9, 1) + timedelta(days=index % 365)
        guardian_born = date(1982, 1, 1) + timedelta(days=index % 3650)
        male = rng.random() < 0.7
        family = Family(
            index=index,
            kind=kind,
            child_name=_name(rng),
            child_id=national_id(region, child_born, index // 365, rng.random() < 0.5),
            guardian_name=_name(rng),
            guardian_id=national_id(region, guardian_born, index // 3650, male),
            phone=f"139{index:08d}",
            relationship="mother"
            if kind == "wrong_relationship"
            else ("father" if male else "mother"),
            address=place.address(index),
            place=place,
        )
        families.append(family)
        records.extend(_records(family, male, rng))
    return Population(families, records, tuple(materials))


def _records(family: Family, male: bool, rng: random.Random) -> list[DepartmentRecord]:
    kind = family.kind
    if kind == "missing":
        return []
    recorded = "father" if kind == "wrong_relationship" else ("father" if male else "mother")
    household = f"HH{family.index:07d}"
    local = kind in ("local_owner", "hukou_no_property", "wrong_relationship", "ambiguous")
    township, address = (
        (family.place.township_code, family.address)
        if local
        else (_ELSEWHERE[0], f"{_ELSEWHERE[1]}建设大道{family.index % 900 + 1}号")
    )
    hukou = {
        "hukou_address": address,
        "township_code": township,
        "household_no": household,
        "move_in_date": (date(2012, 1, 1) + timedelta(days=family.index % 3000)).isoformat(),
    }
    out = [
        DepartmentRecord(
            "hukou",
            family.child_id,
            family.child_name,
            hukou,
            relations={family.guardian_id: recorded},
            ambiguous=kind == "ambiguous",
        ),
        DepartmentRecord("hukou", family.guardian_id, family.guardian_name, hukou),
    ]
    if kind in ("local_owner", "owner_no_hukou", "wrong_relationship", "ambiguous"):
        out.append(
            DepartmentRecord(
                "property",
                family.guardian_id,
                family.guardian_name,
                {
                    "property_address": family.address,
                    "township_code": family.place.township_code,
                    "use": "residential",
                    "share": "full" if rng.random() < 0.8 else "partial",
                    "registration_date": (
                        date(2010, 1, 1) + timedelta(days=family.index % 5000)
                    ).isoformat(),
                    "certificate_kind": rng.choice(("certificate", "registration_proof")),
                    "unit_no": f"U{family.index:06d}",
                    "owners": [family.guardian_name],  # more than the contract allows
                },
            )
        )
    if kind in ("migrant", "owner_no_hukou"):
        out.append(
            DepartmentRecord(
                "residence_permit",
                family.guardian_id,
                family.guardian_name,
                {
                    "permit_address": family.address,
                    "township_code": family.place.township_code,
                    "issue_date": "2024-03-01",
                    "expiry_date": "2027-02-28",
                },
            )
        )
        out.append(
            DepartmentRecord(
                "social_insurance",
                family.guardian_id,
                family.guardian_name,
                {"scheme": rng.choice(("employee", "resident")), "employer": "某公司"},
                paid_since=date(2023, 1, 1),
            )
        )
    return out


def season_places(season: Mapping[str, Any]) -> tuple[list[Place], list[MaterialSpec]]:
    """The places (one per zone rule) and materials of a season file read with ``tomllib``."""
    names = {r["code"]: r["name"].split("（")[0] for r in season.get("regions", [])}
    places = [
        Place(
            township_code=z["township"],
            township_name=names[z["township"]],
            village=z.get("village"),
            estate=z.get("estate"),
            school=z["schools"][0],
        )
        for z in season.get("zones", [])
    ]
    materials = [
        MaterialSpec(m["code"], m.get("source"), tuple(m.get("townships", ())))
        for m in season.get("materials", [])
        if not m.get("on_form")
    ]
    return places, materials


def department_services(
    population: Population, *, seed: int, as_of: date | None = None
) -> dict[str, DepartmentService]:
    """The three department services, each holding the population's records of its sources."""
    services = {
        name: DepartmentService(name, seed=seed + i, as_of=as_of)
        for i, name in enumerate(DEPARTMENTS)
    }
    population.load(services.values())
    return services
