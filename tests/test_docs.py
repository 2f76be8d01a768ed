"""The documentation lives in the repository and stays true to the code: generated references
do not drift, every hook is documented and has a contract suite, and nothing points outside."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ruxue_core.testing
from ruxue_core.domain.enums import STATUS_LABELS, Status
from ruxue_core.lifecycle import TABLE
from ruxue_core.reference import hook_names, hooks_markdown, lifecycle_markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONTRACT_FOR_HOOK = {
    "ruxue_verifiers": "VerifierContract",
    "ruxue_notifiers": "NotifierContract",
    "ruxue_case_reporters": "CaseReporterContract",
    "ruxue_identity_providers": "IdentityProviderContract",
}


@pytest.mark.parametrize(
    ("name", "render"), [("lifecycle.md", lifecycle_markdown), ("hooks.md", hooks_markdown)]
)
def test_generated_docs_do_not_drift(name: str, render: object) -> None:
    """The committed file equals what the code generates (run `nox -s docs` after changes)."""
    assert callable(render)
    committed = (DOCS / name).read_text(encoding="utf-8")
    assert committed == render(), f"docs/{name} is stale: run `nox -s docs` and commit it"


def test_lifecycle_doc_shows_every_transition_and_status() -> None:
    text = lifecycle_markdown()
    for (source, event), row in TABLE.items():
        assert f"| `{source.value}` {STATUS_LABELS[source]} | `{event.value}`" in text
        assert f"{source.value} --> {row.target.value}" in text
    for status in Status:
        assert f"`{status.value}` {STATUS_LABELS[status]}" in text


def test_every_hook_is_documented_with_the_template() -> None:
    """Each hookspec has a docstring with :param:, :return:, when it is called, and an example,
    and appears in the generated reference."""
    import ruxue_core.plugins.hookspecs as hookspecs

    text = hooks_markdown()
    assert set(hook_names()) == set(CONTRACT_FOR_HOOK), "a hook without a known contract"
    for name in hook_names():
        doc = getattr(hookspecs, name).__doc__ or ""
        for part in (":param config:", ":return:", "Called once", "Example::"):
            assert part in doc, f"{name}'s docstring lacks {part!r}"
        assert f"## `{name}`" in text


def test_every_hook_has_a_contract_suite() -> None:
    for hook, suite in CONTRACT_FOR_HOOK.items():
        assert hasattr(ruxue_core.testing, suite), f"{hook} has no {suite} in ruxue_core.testing"


def test_repository_points_nowhere_outside_itself() -> None:
    """No document or source names the team's workspace outside the repository."""
    outside = re.compile("|".join(re.escape(".." + "/" + part) for part in ("shared",)))
    checked = [ROOT / "README.md", *DOCS.glob("*.md")]
    for top in ("core", "gateway", "plugins", "contrib", "tests"):
        checked += (p for p in (ROOT / top).rglob("*.py") if "node_modules" not in p.parts)
    offenders = [str(p.relative_to(ROOT)) for p in checked if outside.search(p.read_text("utf-8"))]
    assert offenders == []


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to missing {target}"
