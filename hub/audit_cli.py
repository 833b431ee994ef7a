"""``sihub audit``: check the audit log's hash chains.

``sihub audit verify`` walks every chain of the county (or one case's with
``--case``) and prints ``OK`` with the counts, or names the first tampered entry of
each broken chain (case id, seq, message id, what is wrong) and exits 1.
"""

from __future__ import annotations

import click

from hub.store.errors import StoreError
from hub.store.schema import DEFAULT_COUNTY_CODE
from hub.store.store import Store

__all__ = ["audit"]

#: Exit status when a chain does not verify.
TAMPERED_EXIT = 1
#: Exit status when the ledger cannot be read at all.
UNREADABLE_EXIT = 2


@click.group(name="audit")
def audit() -> None:
    """Check the case ledger's audit log."""


@audit.command()
@click.option("--case", "case_id", default=None, metavar="ID", help="Verify only this case's chain.")
@click.option(
    "--database-url", envvar="SIHUB_DATABASE_URL", default="sqlite:///./sihub.db", show_default=True,
    help="SQLAlchemy URL of the ledger (env SIHUB_DATABASE_URL).",
)  # fmt: skip
@click.option(
    "--county", envvar="SIHUB_COUNTY_CODE", default=DEFAULT_COUNTY_CODE, show_default=True,
    help="GB/T 2260 code of the county whose chains to verify (env SIHUB_COUNTY_CODE).",
)  # fmt: skip
def verify(case_id: str | None, database_url: str, county: str) -> None:
    """Verify the hash chains; exit 1 naming the first tampered entry of each broken chain."""
    try:
        store = Store.open(database_url, migrate=False, county=county)
    except (StoreError, ValueError) as error:
        click.echo(f"cannot read the ledger: {error}", err=True)
        raise SystemExit(UNREADABLE_EXIT) from error
    try:
        report = store.audit_report(case_id)
    except StoreError as error:
        click.echo(f"cannot read the audit log: {error}", err=True)
        raise SystemExit(UNREADABLE_EXIT) from error
    finally:
        store.close()
    scope = f"case {case_id}" if case_id else f"county {county}"
    if report.ok:
        click.echo(f"OK: {scope}: {report.chains} chain(s), {report.entries} entr(y/ies) verified")
        return
    for tampered in report.tampered:
        click.echo(f"TAMPERED: {tampered}")
    click.echo(
        f"{scope}: {len(report.tampered)} of {report.chains} chain(s) broken "
        f"({report.entries} entr(y/ies) read)",
        err=True,
    )
    raise SystemExit(TAMPERED_EXIT)
