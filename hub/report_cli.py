"""``sihub report``: the comprehensive analysis of the ledger over a period (notice §4.4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import click

from hub.config import load_settings
from hub.domain.model import Case


def all_cases(database_url: str, county: str) -> Iterator[Case]:
    """Every case of the county's ledger, page by page."""
    from hub.store.store import Store

    store = Store.open(database_url, county=county, migrate=False)
    try:
        after: str | None = None
        while True:
            with store.transaction() as tx:
                page = tx.list_cases(limit=500, after=after)
            yield from page
            if len(page) < 500:
                return
            after = page[-1].case_id
    finally:
        store.close()


@click.command()
@click.option("--config", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--database-url", help="Overrides SIHUB_DATABASE_URL.")
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), help="First day (default: 30 days ago)."
)
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: today).")
@click.option(
    "--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def report(
    config: Path | None,
    database_url: str | None,
    since: datetime | None,
    until: datetime | None,
    output: str,
) -> None:
    """Trends and risk nodes of the cases registered in a period (综合分析)."""
    from hub.report import analyse, render_text

    settings = load_settings(config, database_url=database_url)
    last = until.date() if until else date.today()
    first = since.date() if since else last - timedelta(days=30)
    result = analyse(all_cases(settings.database_url, settings.county_code), first, last)
    if output == "json":
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(result))
