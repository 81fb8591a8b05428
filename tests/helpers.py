"""Helpers for authenticated calls in tests: real sessions, real tokens, real roles."""

import base64
import json
from typing import Any

from asgiref.sync import sync_to_async
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.contrib.auth.models import Permission

from apps.accounts.models import Role, RoleProfile, User
from apps.accounts.services.auth import ClientInfo, TokenPair, session_start


async def tokens_for(user: User, *, user_agent: str = "pytest", ip: str = "127.0.0.1") -> TokenPair:
    return await session_start(user=user, client=ClientInfo(ip=ip, user_agent=user_agent))


async def bearer_headers(user: User, *, user_agent: str = "pytest") -> dict[str, str]:
    """Headers of a real signed-in session of `user` (pass as `headers=` to the AsyncClient)."""
    pair = await tokens_for(user, user_agent=user_agent)
    return {"Authorization": f"Bearer {pair.access_token}", "User-Agent": user_agent}


def _grant(user: User | None, codes: tuple[str, ...], name: str | None) -> Role:
    role = Role(name=name or f"role-{Role.objects.count() + 1}-{'-'.join(codes)[:80]}")
    role.save()
    RoleProfile.objects.update_or_create(group=role, defaults={"is_active": True})
    permissions = list(Permission.objects.filter(content_type__model="apipermission", codename__in=codes))
    missing = set(codes) - {p.codename for p in permissions}
    assert not missing, f"unknown permission codes: {sorted(missing)}"
    role.permissions.set(permissions)
    if user is not None:
        user.groups.add(role)
    return role


async def grant(user: User | None, *codes: str, name: str | None = None) -> Role:
    """An active role granting `codes` (METHOD:/api/v1/path), given to `user`."""
    return await sync_to_async(_grant)(user, codes, name)


def encrypt_like_webcrypto(public_key_pem: str, password: str, challenge: str) -> str:
    """What a browser sends: base64(RSA-OAEP(SHA-256, MGF1-SHA-256)(utf8(JSON {password, challenge})))."""
    key = serialization.load_pem_public_key(public_key_pem.encode())
    plaintext = json.dumps({"password": password, "challenge": challenge}).encode()
    ciphertext = key.encrypt(  # type: ignore[union-attr]
        plaintext, padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )
    return base64.b64encode(ciphertext).decode()


async def login(client: Any, username: str, password: str, *, user_agent: str = "pytest") -> Any:
    """The full browser flow: fetch key + challenge, encrypt, POST /auth/login."""
    key = (await client.get("/api/v1/auth/keys/public")).json()["data"]
    sealed = encrypt_like_webcrypto(key["public_key"], password, key["challenge"])
    return await client.post(
        "/api/v1/auth/login",
        data=json.dumps({"username": username, "password": sealed}),
        content_type="application/json",
        headers={"User-Agent": user_agent},
    )
