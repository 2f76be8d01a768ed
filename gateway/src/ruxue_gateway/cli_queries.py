"""``ruxue queries``: the persisted-query allow-list (see :mod:`ruxue_gateway.persisted`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ruxue_core.settings import Settings
from ruxue_gateway.persisted import documents_in, manifest_path, read_manifest, register

queries_app = typer.Typer(help="Persisted queries (已登记查询): the allow-list of documents.")


@queries_app.command("register")
def register_files(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="a .graphql document (sent exactly as written), an Apollo persisted-query "
            "manifest, or a JSON list of documents",
        ),
    ],
) -> None:
    """Add the documents to the allow-list file (``persisted_queries.file``); print each
    hash. Gateways pick the change up within seconds."""
    from ruxue_gateway.cli import console

    target = manifest_path(Settings())
    try:
        documents = [document for path in files for document in documents_in(path)]
        hashes = register(target, documents)
    except (ValueError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        console.print(f"[red]无法登记 (cannot register)[/red]：{exc}")
        raise typer.Exit(code=2) from None
    for digest in hashes:
        typer.echo(digest)
    console.print(f"已登记 {len(hashes)} 个查询到 {target}")


@queries_app.command("list")
def list_queries() -> None:
    """Print the hash and first line of each registered document."""
    for digest, body in read_manifest(manifest_path(Settings())).items():
        typer.echo(f"{digest}  {body.strip().splitlines()[0][:80] if body.strip() else ''}")
