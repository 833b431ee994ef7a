"""Reading the audit log back to verify it: chain by chain, never the whole log in memory."""

from __future__ import annotations

from sqlalchemy import Connection, select

from hub.store.audit import AuditEntry, AuditReport, Tampered, first_tampered
from hub.store.rows import audit_entry
from hub.store.schema import audit_heads, audit_log

__all__ = ["read_report"]

#: Rows fetched from the database at a time while walking the log.
_PAGE_ROWS = 1000


def read_report(connection: Connection, county: str, case_id: str | None) -> AuditReport:
    """Verify every chain of ``county`` (or only ``case_id``'s) against its recorded head."""
    where = [audit_log.c.county == county]
    head_where = [audit_heads.c.county == county]
    if case_id is not None:
        where.append(audit_log.c.case_id == case_id)
        head_where.append(audit_heads.c.case_id == case_id)
    heads = {row.case_id: (row.seq, row.hash) for row in connection.execute(select(audit_heads).where(*head_where))}
    found: list[Tampered] = []
    chains = entries = 0
    chain: list[AuditEntry] = []
    query = select(audit_log).where(*where).order_by(audit_log.c.case_id, audit_log.c.seq)
    for row in connection.execution_options(yield_per=_PAGE_ROWS).execute(query):
        entry = audit_entry(row._mapping)
        if chain and chain[-1].case_id != entry.case_id:
            found += _check(chain, heads)
            chains, chain = chains + 1, []
        chain.append(entry)
        entries += 1
    if chain:
        found += _check(chain, heads)
        chains += 1
    for orphan, (seq, _) in sorted(heads.items()):  # heads whose every entry is gone
        found.append(Tampered(county, orphan, 1, None, f"its head records seq {seq} but the chain has no entries"))
    return AuditReport(chains=chains, entries=entries, tampered=tuple(found))


def _check(chain: list[AuditEntry], heads: dict[str, tuple[int, str]]) -> list[Tampered]:
    problem = first_tampered(chain, heads.pop(chain[0].case_id, None))
    return [problem] if problem is not None else []
