"""A 3-level tree with users, records of every scoped kind, and an actor in department A.

R (ur)
├── A (ua, actor)
│   ├── A1 (ua1)
│   └── A2 (ua2)
└── B (ub)
    └── B1 (ub1)
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission

from apps.accounts.models import User
from apps.audit.documents import LoginLog, OperationLog
from apps.org.models import Department, RoleScope
from apps.org.services import department_create_sync
from apps.scheduler import documents as run_documents
from apps.storage.models import StoredFile
from tests.factories import UserFactory
from tests.helpers import grant

API = "/api/v1"
READ_CODES = (
    f"GET:{API}/users",
    f"GET:{API}/users/{{user_id}}",
    f"PATCH:{API}/users/{{user_id}}",
    f"POST:{API}/users/{{user_id}}/logout",
    f"GET:{API}/files",
    f"GET:{API}/files/{{file_id}}",
    f"GET:{API}/audit/operations",
    f"GET:{API}/audit/logins",
    f"GET:{API}/task-runs",
    f"GET:{API}/task-runs/{{task_id}}",
)


@dataclass
class World:
    marker: str
    departments: dict[str, Department]
    users: dict[str, User]  # by name: ur, ua, ua1, ua2, ub, ub1, actor
    files: dict[str, str] = field(default_factory=dict)  # user name -> file id
    runs: dict[str, str] = field(default_factory=dict)  # user name -> task id

    def ids(self, *names: str) -> set[str]:
        return {str(self.users[n].pk) for n in names}


def _build() -> World:
    marker = uuid.uuid4().hex[:12]

    def dept(code: str, parent: Department | None) -> Department:
        pk = department_create_sync(
            data={"name": code, "code": f"{code}-{marker}", "parent": parent.pk if parent else None}
        )
        return Department.objects.get(pk=pk)

    r = dept("R", None)
    a, b = dept("A", r), dept("B", r)
    a1, a2, b1 = dept("A1", a), dept("A2", a), dept("B1", b)
    departments = {"R": r, "A": a, "A1": a1, "A2": a2, "B": b, "B1": b1}
    homes = {"ur": r, "ua": a, "ua1": a1, "ua2": a2, "ub": b, "ub1": b1, "actor": a}
    users = {}
    for name, home in homes.items():
        user = UserFactory.create(username=f"{name}-{marker}", is_staff=name == "actor")
        user.department = home
        user.save()
        users[name] = user
    world = World(marker=marker, departments=departments, users=users)
    now = datetime.now(UTC)
    for name, user in users.items():
        uid = str(user.pk)
        world.files[name] = str(
            StoredFile.objects.create(
                owner=user,
                bucket="scope-matrix",
                object_key=f"k/{uuid.uuid4()}",
                filename=f"{name}.txt",
                size=1,
                content_type="text/plain",
                status=StoredFile.Status.READY,
                strategy=StoredFile.Strategy.SINGLE,
            ).pk
        )
        client = {"ip": "10.1.2.3", "user_agent": "pytest", "browser": None, "os": None, "device": None}
        OperationLog._get_collection().insert_one(
            {
                "_id": uuid.uuid4().hex,
                "request_id": None,
                "user_id": uid,
                "username": user.username,
                "method": "POST",
                "path": f"/mx/{marker}/{name}",
                "route": None,
                "status": 200,
                "duration_ms": 1.0,
                "query": {},
                "body": None,
                "body_size": 0,
                "created_at": now,
                **client,
            }
        )
        LoginLog._get_collection().insert_one(
            {
                "_id": uuid.uuid4().hex,
                "request_id": None,
                "user_id": uid,
                "username": f"{marker}-{name}",
                "success": True,
                "reason": None,
                "channel": "api",
                "event": "login",
                "created_at": now,
                **client,
            }
        )
        task_id = uuid.uuid4().hex
        run_documents.collection().insert_one(
            {
                "task_id": task_id,
                "task": f"mx.{marker}",
                "status": "SUCCESS",
                "user_id": uid,
                "queued_at": now,
                "retries": 0,
                **dict.fromkeys(("schedule", "schedule_name", "args", "kwargs", "result", "error", "traceback")),
                **dict.fromkeys(("worker", "started_at", "finished_at", "duration_ms")),
            }
        )
        world.runs[name] = task_id
    return world


@pytest.fixture
async def world() -> World:
    return await sync_to_async(_build)()


def _scope_role(world: World, kind: str, custom: tuple[str, ...]) -> None:
    actor = world.users["actor"]
    role = actor.groups.order_by("-pk").first()
    assert role is not None
    role.permissions.add(Permission.objects.get(content_type__app_label="storage", codename="manage_all_files"))
    scope = RoleScope.objects.create(group=role, scope=kind)
    scope.departments.set([world.departments[d] for d in custom])


async def give_scope(world: World, kind: str, custom: tuple[str, ...] = ()) -> Any:
    await grant(world.users["actor"], *READ_CODES)
    await sync_to_async(_scope_role)(world, kind, custom)
    return world.users["actor"]
