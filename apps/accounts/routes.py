"""The operation catalogue derived from the NinjaAPI route table: one entry (and code) per method and path."""

import re
from dataclasses import dataclass

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.operation import Operation
from ninja.utils import normalize_path, replace_path_param_notation

from apps.accounts.access import Access, access_of

_CONVERTER = re.compile(r"{[^}:]+:")


@dataclass(frozen=True)
class OperationInfo:
    code: str  # METHOD:/api/v1/path/{param}
    method: str
    path: str
    summary: str
    tag: str
    access: Access
    operation_id: str


_by_route: dict[tuple[str, str], OperationInfo] = {}
_catalogue: list[OperationInfo] = []


def permission_code(method: str, path: str) -> str:
    return f"{method.upper()}:{path}"


def _operation_access(operation: Operation) -> Access:
    marked = access_of(operation.view_func)
    if marked is not Access.PERMISSION:
        return marked
    return Access.PERMISSION if operation.auth_callbacks else Access.PUBLIC


def finalize(api: NinjaAPI, root: str) -> None:
    """Index every operation of the bound routers; public operations run without the auth class."""
    _by_route.clear()
    _catalogue.clear()
    for bound in api._get_bound_routers():
        for path, path_view in bound.path_operations.items():
            joined = "/".join(i for i in (bound.prefix, path) if i)
            template = _CONVERTER.sub("{", normalize_path(f"{root}/{joined}"))
            django_route = normalize_path(
                "/".join(
                    i
                    for i in (
                        root.strip("/"),
                        replace_path_param_notation(bound.prefix),
                        replace_path_param_notation(path),
                    )
                    if i
                )
            ).lstrip("/")
            for operation in path_view.operations:
                access = _operation_access(operation)
                if access is Access.PUBLIC:
                    operation.auth_callbacks = []
                tags = operation.tags or ["default"]
                for method in operation.methods:
                    info = OperationInfo(
                        code=permission_code(method, template),
                        method=method.upper(),
                        path=template,
                        summary=operation.summary or operation.view_func.__name__.replace("_", " ").capitalize(),
                        tag=tags[0],
                        access=access,
                        operation_id=f"{operation.operation_id or api.get_openapi_operation_id(operation)}"
                        + (f":{method.upper()}" if len(operation.methods) > 1 else ""),
                    )
                    _by_route[(info.method, django_route)] = info
                    _catalogue.append(info)


def catalogue() -> list[OperationInfo]:
    return list(_catalogue)


def operation_for(request: HttpRequest) -> OperationInfo | None:
    match = getattr(request, "resolver_match", None)
    if match is None or request.method is None:
        return None
    return _by_route.get((request.method.upper(), match.route))


def fallback_code(request: HttpRequest) -> str:
    """A code for a route missing from the index (never granted by a role: superusers only)."""
    return permission_code(request.method or "GET", request.path)
