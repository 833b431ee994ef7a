"""Route dependencies as ``Annotated`` aliases: the hub runtime and the calling department.

Every dependency is ``async``: each is a few attribute reads (the token check at most a
``stat`` of the tokens file every few seconds), and FastAPI runs a plain ``def``
dependency in the thread pool — one thread hop per dependency per request, which under
load cost more than the request's own work (``python -m bench api``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contracts.codes import Department
from hub.api.auth import TokenSource
from hub.api.batcher import GroupCommit
from hub.api.problems import unauthorized
from hub.api.registration import CaseNumbers
from hub.runtime import HubRuntime

#: The OpenAPI security scheme; errors are ours (401 with a challenge), not FastAPI's.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="departmentToken",
    description="A department's API token from the SIHUB_TOKENS file; it acts as that department.",
)


async def get_runtime(request: Request) -> HubRuntime:
    """The hub runtime the app was built over."""
    runtime: HubRuntime = request.app.state.runtime
    return runtime


async def get_tokens(request: Request) -> TokenSource:
    """The tokens in force."""
    tokens: TokenSource = request.app.state.tokens
    return tokens


async def get_case_numbers(request: Request) -> CaseNumbers:
    """The app's reserve of case numbers."""
    numbers: CaseNumbers = request.app.state.case_numbers
    return numbers


async def get_group_commit(request: Request) -> GroupCommit:
    """The app's group commit of HTTP ingress."""
    commit: GroupCommit = request.app.state.group_commit
    return commit


async def current_department(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    tokens: Annotated[TokenSource, Depends(get_tokens)],
) -> Department:
    """The department whose token authorises the call.

    Raises:
        ProblemError: 401 when the token is missing, malformed or unknown.
    """
    if credentials is None:
        raise unauthorized("send Authorization: Bearer <token>")
    department = tokens.department_of(credentials.credentials)
    if department is None:
        raise unauthorized("the token is not known to the hub")
    return department


RuntimeDep = Annotated[HubRuntime, Depends(get_runtime)]
CurrentDepartment = Annotated[Department, Depends(current_department)]
CaseNumbersDep = Annotated[CaseNumbers, Depends(get_case_numbers)]
GroupCommitDep = Annotated[GroupCommit, Depends(get_group_commit)]
