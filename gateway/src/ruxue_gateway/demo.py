"""``ruxue demo``: a whole (small) season end to end, through real parts.

A fresh SQLite file; the sandbox's three department services (公安, 自然资源, 人社) on
loopback ports, holding one synthetic population (local owners, owners without local hukou,
hukou without property, migrants with permits and insurance, a wrong relationship, people no
department knows, ambiguous records); the sandbox's unified identity provider, where each
guardian has a real-name account; the sandbox's provincial platform, failing a share of pushes
and acknowledging late; the gateway on another port with its in-process worker. Guardians sign
in through the fake portal's ticket flow and submit over GraphQL, authorising the checks; the
verifier plugins check over signed HTTP; the season's rules decide category, zoned school and
materials; counter staff confirm the materials of manual cases, schools and the bureau review
over GraphQL; then admission (see ``demo_admission``): seat warnings, plans tightened so some
overflow is coordinated, the lottery committed and revealed, placement run and published,
schools confirm enrollment (two no-shows), the overflow coordinated into the freed seats and
enrolled. The Alibaba Cloud and Tencent Cloud notifiers send every SMS through their official
SDKs to the sandbox's fake vendors on loopback (signatures checked, one vendor failing a share
of sends and both answering some only after the core's timeout, so weighted choice, failover,
status queries and rate limits all run), which call delivery receipts back to the gateway; the
Hubei plugin pushes every case record to the platform until each is acknowledged. Then the
summary is read back from the
database and every verification compared with the population's ground truth.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import string
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ruxue_core.domain.enums import Role
from ruxue_core.domain.types import utcnow
from ruxue_core.migrate import upgrade
from ruxue_core.plugins.builtin import issue_dev_token
from ruxue_core.plugins.contracts import Principal
from ruxue_core.policy import read_season_file
from ruxue_core.runtime import Runtime
from ruxue_core.services.casesync import case_sync_report
from ruxue_core.services.operations import outstanding_jobs
from ruxue_core.services.reports import system_summary
from ruxue_core.services.seasons import load_season
from ruxue_core.services.views import assessments
from ruxue_core.settings import (
    CaseSyncSettings,
    GuardianAuthSettings,
    Settings,
    SmsSettings,
    VerificationSettings,
    WorkerSettings,
)
from ruxue_gateway.app import create_app
from ruxue_gateway.demo_admission import Admission
from ruxue_gateway.demo_login import PortalBrowser, idp_users, password_of
from ruxue_sandbox import Family, Population, make_population, season_places

# The sample season beside the source tree (the demo runs from a checkout).
SEASON_FILE: Final = (
    Path(__file__).resolve().parents[3] / "contrib" / "seasons" / "linkong-2026-primary.toml"
)
T = TypeVar("T")
SETTLE_SECONDS: Final = 300.0
"""A phase that waits for background work gives up (and fails the demo) after this."""
SUBMIT: Final = """
mutation Submit($input: SubmitApplicationInput!) {
  submitApplication(input: $input) {
    __typename
    ... on SubmitApplicationSuccess { applicationId receiptNo queryCode status version }
    ... on Error { code message field }
  }
}"""
APPLICATION: Final = """
query One($id: ID!) {
  application(id: $id) {
    __typename
    ... on Application { status version townshipCode schoolCode }
    ... on Error { code }
  }
}"""
CORRECT: Final = """
mutation Correct($input: CorrectApplicationInput!) {
  correctApplication(input: $input) {
    __typename ... on ApplicationChanged { status version } ... on Error { code message }
  }
}"""
REVIEW: Final = """
mutation Review($input: ReviewApplicationInput!) {
  reviewApplication(input: $input) {
    __typename ... on ApplicationChanged { status version } ... on Error { code message }
  }
}"""


def make_families(count: int, seed: int, season_file: Path = SEASON_FILE) -> Population:
    """The sandbox's synthetic population over the season's zones (deterministic)."""
    places, materials = season_places(tomllib.loads(season_file.read_text(encoding="utf-8")))
    return make_population(count, seed=seed, places=places, materials=materials)


@dataclass(frozen=True, slots=True)
class PlatformFaults:
    """How badly the fake provincial platform behaves during the demo.

    :ivar fail_rate: share of pushes (and acknowledgement queries) answered HTTP 503.
    :ivar ack_delay: seconds before a received record is acknowledged…
    :ivar ack_jitter: …plus up to this many (some beyond the demo's 1 s acknowledgement
        deadline, so those records are pushed again).
    """

    fail_rate: float = 0.2
    ack_delay: float = 0.3
    ack_jitter: float = 1.5


@dataclass(frozen=True, slots=True)
class SmsFaults:
    """How the fake SMS vendors behave during the demo.

    :ivar aliyun_fail: share of Alibaba Cloud sends answered with a temporary error.
    :ivar stall: share of sends (both vendors) accepted but answered after the timeout.
    :ivar timeout: the core's plugin timeout in the demo (seconds).
    """

    aliyun_fail: float = 0.15
    stall: float = 0.03
    timeout: float = 1.0


DEMO_RECEIPT_TOKEN: Final = "demo-receipt-token-not-for-production-0123"  # noqa: S105 - demo
DEMO_SMS_KEYS: Final = {
    "aliyun": ("LTAI-demo", "aliyun-demo-secret"),
    "tencent": ("AKID-demo", "tencent-demo-secret"),
}
DEMO_SMS_VENDORS: Final = {
    "aliyun": {"weight": 3, "rate_per_second": 40},
    "tencent": {"weight": 1, "rate_per_second": 20},
}
"""Weights and rate limits of the demo's vendors (``[sms.vendors.*]`` in ``ruxue.toml``)."""


def _placeholders(text: str) -> list[str]:
    """A template text's placeholders in the order they appear (Tencent's positions)."""
    names = (name for _, name, _, _ in string.Formatter().parse(text) if name)
    return list(dict.fromkeys(names))


def sms_plugin_options(season_file: Path, aliyun: str, tencent: str) -> dict[str, dict[str, Any]]:
    """Options for both vendor notifiers against fakes at ``host:port``: one vendor template
    per template code of the season (Tencent's take the season text's placeholders, in
    order)."""
    season = tomllib.loads(season_file.read_text(encoding="utf-8"))
    templates = season.get("sms", {}).get("templates", {})
    codes = {str(t["code"]): str(t["text"]) for t in templates.values()}
    return {
        "aliyun": {
            "access_key_id": DEMO_SMS_KEYS["aliyun"][0],
            "access_key_secret": DEMO_SMS_KEYS["aliyun"][1],
            "sign_name": "临空经济区教育",
            "templates": {code: f"SMS_{300000001 + i}" for i, code in enumerate(sorted(codes))},
            "endpoint": aliyun,
            "protocol": "http",
        },
        "tencent": {
            "secret_id": DEMO_SMS_KEYS["tencent"][0],
            "secret_key": DEMO_SMS_KEYS["tencent"][1],
            "sdk_app_id": "1400000001",
            "sign_name": "临空经济区教育",
            "templates": {
                code: {"id": str(2000001 + i), "params": _placeholders(codes[code])}
                for i, code in enumerate(sorted(codes))
            },
            "endpoint": tencent,
            "protocol": "http",
            "report_wait_seconds": 3.0,
        },
    }


def run_demo(
    *,
    families: int,
    data_dir: Path | None,
    seed: int,
    console: Console,
    season_file: Path = SEASON_FILE,
    faults: PlatformFaults | None = None,
    sms_faults: SmsFaults | None = None,
) -> dict[str, Any]:
    """Run the demo and return its JSON-ready summary."""
    directory = data_dir or Path(tempfile.mkdtemp(prefix="ruxue-demo-"))
    _fresh(directory)
    return asyncio.run(
        _run(
            make_families(families, seed, season_file),
            directory,
            seed,
            season_file,
            console,
            faults or PlatformFaults(),
            sms_faults or SmsFaults(),
        )
    )


def _fresh(directory: Path) -> None:
    """Start from nothing: remove a previous run's database, key and SMS log."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


async def _run(
    population: Population,
    directory: Path,
    seed: int,
    season_file: Path,
    console: Console,
    faults: PlatformFaults,
    sms_faults: SmsFaults,
) -> dict[str, Any]:
    from ruxue_sandbox import (
        FakeIdentityProvider,
        FakePlatform,
        SmsVendorFake,
        create_aliyun_sms_app,
        create_department_app,
        create_identity_app,
        create_platform_app,
        create_tencent_sms_app,
        department_services,
        serve_in_thread,
    )

    started = time.perf_counter()
    families = population.families
    services = department_services(population, seed=seed)
    platform = FakePlatform(
        fail_rate=faults.fail_rate,
        ack_delay=faults.ack_delay,
        ack_jitter=faults.ack_jitter,
        seed=seed,
    )
    idp = FakeIdentityProvider()
    idp.add(*idp_users(families))
    stall, stall_seconds = sms_faults.stall, sms_faults.timeout + 0.5
    aliyun = SmsVendorFake(
        credentials=dict([DEMO_SMS_KEYS["aliyun"]]),
        fail_fraction=sms_faults.aliyun_fail,
        duplicate_fraction=0.1,
        seed=seed,
        stall_fraction=stall,
        stall_seconds=stall_seconds,
    )
    tencent = SmsVendorFake(
        credentials=dict([DEMO_SMS_KEYS["tencent"]]),
        duplicate_fraction=0.1,
        seed=seed + 1,
        stall_fraction=stall,
        stall_seconds=stall_seconds,
    )
    with (
        serve_in_thread(create_aliyun_sms_app(aliyun)) as aliyun_url,
        serve_in_thread(create_tencent_sms_app(tencent)) as tencent_url,
        serve_in_thread(create_department_app(services["gongan"])) as gongan_url,
        serve_in_thread(create_department_app(services["ziranziyuan"])) as ziranziyuan_url,
        serve_in_thread(create_department_app(services["renshe"])) as renshe_url,
        serve_in_thread(create_platform_app(platform)) as platform_url,
        serve_in_thread(create_identity_app(idp)) as idp_url,
    ):
        settings = Settings(
            data_dir=directory,
            database_url=None,
            verifiers=["gongan", "ziranziyuan", "renshe"],
            notifiers=["aliyun", "tencent"],
            case_reporters=["hubei"],
            plugin_options=sms_plugin_options(
                season_file,
                aliyun_url.removeprefix("http://"),
                tencent_url.removeprefix("http://"),
            )
            | {
                "gongan": {"base_url": gongan_url},
                "ziranziyuan": {"base_url": ziranziyuan_url},
                "renshe": {"base_url": renshe_url},
                "hubei": {"base_url": platform_url},
                "hubei_portal": {"api_url": idp_url},
            },
            verification=VerificationSettings(attempts=3, wait_initial=0.05, wait_max=0.2),
            sms=SmsSettings.model_validate(
                {"receipt_token": DEMO_RECEIPT_TOKEN, "vendors": DEMO_SMS_VENDORS}
            ),
            plugin_timeout_seconds=sms_faults.timeout,
            worker=WorkerSettings(backoff_base=0.2, backoff_cap=2.0),
            casesync=CaseSyncSettings(
                ack_timeout_seconds=1.0, ack_poll_seconds=0.3, retry_after_seconds=2.0
            ),
            guardian_auth=GuardianAuthSettings(
                login_providers=["hubei_portal"], logins_per_minute_per_client=100_000
            ),
        )
        await asyncio.to_thread(upgrade, settings.resolved_database_url, settings=settings)
        observer = Runtime.create(settings)
        try:
            window = (utcnow() - timedelta(hours=1), utcnow() + timedelta(days=14))
            data = read_season_file(season_file)
            season = await load_season(observer, data, Principal.system(), window=window)
            console.print(f"[bold]招生季[/bold] {season.name}，{len(families)} 户模拟家庭")
            with serve_in_thread(create_app(settings, in_process_worker=True)) as gateway_url:
                for name, fake in (("aliyun", aliyun), ("tencent", tencent)):
                    fake.receipt_url = f"{gateway_url}/sms/receipts/{name}/{DEMO_RECEIPT_TOKEN}"
                async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
                    demo = _Demo(client, settings, season.code, console)
                    await demo.phase(
                        "统一身份认证登录 (portal sign-in)", demo.sign_in_all(families)
                    )
                    ids = await demo.phase("提交报名 (submit)", demo.submit_all(families))
                    await demo.phase("自动核验 (verify)", demo.wait_until_settled(observer))
                    agreement = await compare_with_truth(observer, population, ids)
                    await demo.phase("审核 (review)", demo.review_all(families, ids))
                    admission = Admission(demo, observer, data, window)
                    applications = list(ids.values())
                    await demo.phase(
                        "学位预警 (seat warnings, plans)", admission.plan(applications)
                    )
                    await demo.phase("摇号承诺与种子 (lottery)", admission.lottery())
                    await demo.phase("派位并公布 (placement, publication)", admission.place())
                    await demo.phase("报到 (enrollment)", admission.enroll(applications))
                    await demo.phase("统筹 (coordination)", admission.coordinate(applications))
                    await demo.phase("短信与回传 (notify)", demo.wait_until_settled(observer))
                    await demo.phase("办件回传回执 (case push)", demo.wait_for_casesync(observer))
                    await demo.phase("审计树头 (audit head)", demo.wait_for_audit_head(observer))
            summary = await observer.read(system_summary)
            summary["phase_seconds"] = demo.phase_seconds
            summary["admission"] = admission.report
            summary["case_sync"] = await _case_sync_summary(observer)
        finally:
            await observer.close()
    summary["families_by_kind"] = dict(Counter(f.kind for f in families))
    summary["ground_truth"] = agreement
    summary["sms_vendors"] = {
        name: {
            "accepted": sum(fake.accepted.values()),
            "sent_twice": sum(1 for n in fake.accepted.values() if n > 1),
            "failed_on_demand": fake.failed,
            "answered_late": fake.stalled,
            "status_queries": fake.queries,
            "throttled": fake.throttled,
            "receipts_sent": fake.receipts_sent,
            "refused_signatures": fake.refused_signatures,
        }
        for name, fake in (("aliyun", aliyun), ("tencent", tencent))
    }
    summary["logins"] = {"portal": demo.logins}
    summary["platform"] = platform.summary() | {
        "fail_rate": faults.fail_rate,
        "ack_delay": faults.ack_delay,
        "ack_jitter": faults.ack_jitter,
    }
    summary["data_dir"] = str(directory)
    summary["elapsed_seconds"] = round(time.perf_counter() - started, 2)
    _print(summary, console)
    return summary


async def _case_sync_summary(observer: Runtime) -> dict[str, int]:
    """The reconciliation report's totals (``ruxue casesync report`` per day)."""
    report = await case_sync_report(observer, Principal.system())
    totals = {"queued": 0, "sent": 0, "acknowledged": 0, "rejected": 0, "missing": 0}
    for day in report.days:
        for name in totals:
            totals[name] += getattr(day, name)
    return totals


class _Demo:
    """The demo's GraphQL client: guardians, counter staff, school and bureau reviewers."""

    def __init__(
        self, client: httpx.AsyncClient, settings: Settings, season_code: str, console: Console
    ) -> None:
        self.client = client
        self.settings = settings
        self.season_code = season_code
        self.console = console
        self.limit = asyncio.Semaphore(8)
        self.bureau = self._token(Principal("demo-bureau", Role.BUREAU_OFFICER, "演示科长"))
        self.sessions: dict[int, str] = {}
        self.logins = 0
        self.phase_seconds: dict[str, float] = {}
        """How long each phase took, by label (in the summary as ``phase_seconds``)."""

    async def phase(self, label: str, work: Awaitable[T]) -> T:
        """Run one phase, print how long it took and record it in :attr:`phase_seconds`."""
        started = time.perf_counter()
        result = await work
        seconds = time.perf_counter() - started
        self.phase_seconds[label] = round(seconds, 2)
        self.console.print(f"  {label}: {seconds:.1f} 秒")
        return result

    def _token(self, principal: Principal) -> str:
        return f"Bearer {issue_dev_token(self.settings, principal)}"

    async def _graphql(self, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        async with self.limit:
            response = await self.client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": token},
            )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            raise RuntimeError(json.dumps(body["errors"], ensure_ascii=False))
        data: dict[str, Any] = body["data"]
        return data

    async def submit_all(self, families: Sequence[Family]) -> dict[int, str]:
        """Each guardian submits online; returns family index → application id."""
        ids: dict[int, str] = {}
        with Progress(console=self.console, transient=True) as progress:
            task = progress.add_task("提交报名 (submitting)", total=len(families))

            async def submit(f: Family) -> None:
                token = self._guardian(f)
                data = await self._graphql(
                    token, SUBMIT, {"input": _submit_input(f, self.season_code)}
                )
                result = data["submitApplication"]
                if result["__typename"] != "SubmitApplicationSuccess":
                    raise RuntimeError(f"family {f.index}: {result}")
                ids[f.index] = result["applicationId"]
                progress.advance(task)

            await asyncio.gather(*(submit(f) for f in families))
        return ids

    async def sign_in_all(self, families: Sequence[Family]) -> None:
        """Each guardian signs in through the (fake) provincial portal's ticket flow."""
        browser = PortalBrowser(str(self.client.base_url))

        async def sign_in(f: Family) -> None:
            async with self.limit:
                self.sessions[f.index] = await browser.sign_in(f"g{f.index}", password_of(f))
            self.logins += 1

        with Progress(console=self.console, transient=True) as progress:
            task = progress.add_task("统一身份认证登录 (signing in)", total=len(families))

            async def one(f: Family) -> None:
                await sign_in(f)
                progress.advance(task)

            await asyncio.gather(*(one(f) for f in families))

    def _guardian(self, family: Family) -> str:
        """A guardian's session from the portal sign-in (real-name verified there)."""
        return f"Bearer {self.sessions[family.index]}"

    async def wait_for_casesync(self, observer: Runtime) -> None:
        """Wait until the platform acknowledged every case record (and the last pushes,
        scheduled before their acknowledgement came, found nothing left to do)."""
        async with asyncio.timeout(SETTLE_SECONDS):
            while True:
                report = await case_sync_report(observer, Principal.system())
                waiting = sum(day.queued + day.sent for day in report.days)
                if waiting == 0 and await outstanding_jobs(observer) == 0:
                    return
                await asyncio.sleep(0.2)

    def _staff(self, role: Role, *, township: str | None, school: str | None) -> str:
        """A staff token scoped to the case's township (counter) or school (reviewer)."""
        if role is Role.COUNTER_STAFF:
            return self._token(Principal(f"demo-counter-{township}", role, "演示窗口", township))
        if role is Role.SCHOOL_REVIEWER:
            principal = Principal(f"demo-school-{school}", role, "演示老师", school_code=school)
            return self._token(principal)
        return self.bureau

    async def wait_for_audit_head(self, observer: Runtime) -> None:
        """Wait until the audit sequencer has signed a head covering every entry."""
        from ruxue_core import audit

        def pending(uow: Any) -> int:
            head = audit.latest_head(uow.session)
            return -1 if head is None else audit.unsequenced_count(uow.session)

        async with asyncio.timeout(SETTLE_SECONDS):
            while await observer.read(pending) != 0:  # noqa: ASYNC110 - another thread's rows
                await asyncio.sleep(0.2)

    async def wait_until_settled(self, observer: Runtime) -> None:
        """Wait until the worker has verified everything and sent every message."""
        with Progress(console=self.console, transient=True) as progress:
            task = progress.add_task("后台处理 (verifying, notifying)", total=None)
            async with asyncio.timeout(SETTLE_SECONDS):
                while (busy := await outstanding_jobs(observer)) > 0:
                    progress.update(task, description=f"后台处理中，剩余任务 {busy}")
                    await asyncio.sleep(0.1)

    async def review_all(self, families: Sequence[Family], ids: dict[int, str]) -> None:
        """Counter staff handle manual checks; schools and the bureau review the rest."""
        with Progress(console=self.console, transient=True) as progress:
            task = progress.add_task("审核 (reviewing)", total=len(families))

            async def review(f: Family) -> None:
                await self._review_one(f, ids[f.index])
                progress.advance(task)

            await asyncio.gather(*(review(f) for f in families))

    async def _review_one(self, family: Family, application_id: str) -> None:
        steps: dict[str, tuple[Role, str]] = {
            "MANUAL_REVIEW": (Role.COUNTER_STAFF, "RETURN" if family.index % 3 == 0 else "APPROVE"),
            "SCHOOL_REVIEW": (Role.SCHOOL_REVIEWER, "APPROVE"),
            "BUREAU_REVIEW": (Role.BUREAU_OFFICER, "APPROVE"),
        }
        state = (await self._graphql(self.bureau, APPLICATION, {"id": application_id}))[
            "application"
        ]
        status, version = state["status"], state["version"]
        while status in steps:
            role, decision = steps[status]
            token = self._staff(role, township=state["townshipCode"], school=state["schoolCode"])
            review = {
                "applicationId": application_id,
                "decision": decision,
                "comment": "演示审核",
                "expectedVersion": version,
            }
            data = await self._graphql(token, REVIEW, {"input": review})
            result = data["reviewApplication"]
            if result["__typename"] != "ApplicationChanged":
                raise RuntimeError(f"review of {application_id}: {result}")
            status, version = result["status"], result["version"]


def _submit_input(family: Family, season_code: str) -> dict[str, Any]:
    return {
        "seasonCode": season_code,
        "child": {"name": family.child_name, "idNumber": family.child_id},
        "guardian": {"name": family.guardian_name, "idNumber": family.guardian_id},
        "guardianPhone": family.phone,
        "relationship": family.relationship.upper(),
        "address": family.address,
        "townshipCode": family.place.township_code,
        "consent": True,
    }


async def compare_with_truth(
    observer: Runtime, population: Population, ids: dict[int, str]
) -> dict[str, int]:
    """How many first verification rounds concluded what the population's ground truth says
    (decision, category, zoned school, materials, corrections), and how many did not."""
    verdicts = await assessments(observer, Principal.system(), first_round=True)
    by_application = {v.application_id: v for v in verdicts}
    agree = differ = 0
    for family in population.families:
        verdict = by_application.get(int(ids[family.index]))
        truth = population.truth(family)
        if verdict is not None and (
            verdict.decision,
            verdict.category,
            verdict.schools[:1],
            tuple(m.code for m in verdict.materials),
            verdict.corrections,
        ) == (
            truth.decision,
            truth.category,
            (truth.school,) if truth.school else (),
            truth.materials,
            truth.corrections,
        ):
            agree += 1
        else:
            differ += 1
    return {"agree": agree, "differ": differ}


def _print(summary: dict[str, Any], console: Console) -> None:
    table = Table(title="演示结果 (demo summary)")
    table.add_column("项目 (item)")
    table.add_column("数量 (count)", justify="right")
    for label, n in sorted(summary["by_status_label"].items(), key=lambda kv: -kv[1]):
        table.add_row(f"状态：{label}", str(n))
    for outcome, n in sorted(summary["verification_checks"].items()):
        table.add_row(f"核验：{outcome}", str(n))
    for status, n in sorted(summary["messages"].items()):
        table.add_row(f"短信：{status}", str(n))
    for vendor, by_status in sorted(summary["messages_by_vendor"].items()):
        for status, n in sorted(by_status.items()):
            table.add_row(f"短信 {vendor}：{status}", str(n))
    for vendor, counts in summary["sms_vendors"].items():
        table.add_row(
            f"短信服务商 {vendor} (accepted / failed / late / queries / receipts)",
            f"{counts['accepted']} / {counts['failed_on_demand']} / {counts['answered_late']}"
            f" / {counts['status_queries']} / {counts['receipts_sent']}",
        )
    for status, n in sorted(summary["jobs"].items()):
        table.add_row(f"任务：{status}", str(n))
    for name, n in summary["case_sync"].items():
        table.add_row(f"办件回传：{name}", str(n))
    platform = summary["platform"]
    table.add_row("省平台收到推送 (pushes received)", str(platform["arrivals"]))
    table.add_row("省平台注入故障 (injected failures)", str(platform["failures"]))
    table.add_row("统一身份认证登录 (portal sign-ins)", str(summary["logins"]["portal"]))
    table.add_row("审计日志完整 (audit intact)", "是" if summary["audit"]["intact"] else "否")
    main = summary.get("admission", {}).get("main_run")
    if main:
        table.add_row("派位录取 (admitted by the main run)", str(main["admitted"]))
        table.add_row("转入统筹 (sent to coordination)", str(main["coordinating"]))
    truth = summary["ground_truth"]
    table.add_row("核验结论与真值一致 (verdicts = ground truth)", str(truth["agree"]))
    table.add_row("核验结论与真值不符 (verdicts ≠ ground truth)", str(truth["differ"]))
    console.print(table)
    console.print(
        f"共 {summary['applications']} 件申请，耗时 {summary['elapsed_seconds']} 秒；"
        f"数据目录 {summary['data_dir']}"
    )
