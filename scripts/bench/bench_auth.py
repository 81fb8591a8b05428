"""Authentication figures in one run on one daphne process:
throughput of GET /auth/user/info relative to GET /health (target >= 0.75) and login p50/p95."""

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from harness import bench_environment, compare, daphne, django_snippet

TOKEN_SNIPPET = """
from apps.accounts.models import User
from tests.helpers import tokens_for
user = User.objects.create_user(username="bench", password="bench-pass-123")
pair = asyncio.run(tokens_for(user, user_agent="wrk"))
print(json.dumps({"access": pair.access_token}))
"""


def encrypt(public_pem: str, password: str, challenge: str) -> str:
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_public_key(public_pem.encode())
    sealed = key.encrypt(  # type: ignore[union-attr]
        json.dumps({"password": password, "challenge": challenge}).encode(),
        padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    return base64.b64encode(sealed).decode()


def login_latencies(base: str, tries: int = 30) -> list[float]:
    timings = []
    with httpx.Client(base_url=base, headers={"User-Agent": "bench"}) as client:
        for _ in range(tries):
            started = time.perf_counter()
            key = client.get("/api/v1/auth/keys/public").json()["data"]
            response = client.post(
                "/api/v1/auth/login",
                json={"username": "bench", "password": encrypt(key["public_key"], "bench-pass-123", key["challenge"])},
            )
            response.raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    with bench_environment({"LOGIN_THROTTLE_IP_LIMIT": "100000"}) as env:
        token = django_snippet(env, TOKEN_SNIPPET)["access"]
        with daphne(env) as (base, _pid):
            health, info = compare(
                base, "/api/v1/health", "/api/v1/auth/user/info", {"Authorization": f"Bearer {token}"}
            )
            logins = login_latencies(base)
    print(f"GET /api/v1/health          {health:8.0f} req/s (baseline)")
    print(f"GET /api/v1/auth/user/info  {info:8.0f} req/s")
    print(f"ratio user/info : health    {info / health:8.2f}   (target >= 0.75)")
    print(
        f"login (key + challenge + login) p50 {statistics.median(logins):.1f} ms, "
        f"p95 {sorted(logins)[int(len(logins) * 0.95) - 1]:.1f} ms over {len(logins)} logins"
    )


if __name__ == "__main__":
    main()
