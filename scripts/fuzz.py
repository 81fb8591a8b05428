"""Schema-driven fuzzing of the live API with schemathesis: every check, the stateful phase included, a fixed seed
and a bounded time budget, as a superuser, as a signed-in user without roles and anonymously.

One daphne process in production settings (DEBUG off) against a throwaway PostgreSQL database, Redis db 14 and
a MongoDB database of its own (scripts/bench/harness.py). The pass line: no server error, no response outside
the envelope or the schema. Exit status 1 when any run finds a failure; reports go to .artifacts/fuzz/.

Usage: .venv/bin/python scripts/fuzz.py [--seconds-per-run N] [--seed N]
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "bench"))

from harness import bench_environment, daphne, django_snippet  # noqa: E402

TOKENS_SNIPPET = """
from apps.accounts.models import User
from tests.helpers import tokens_for
admin = User.objects.get(username="admin")
plain = User.objects.create_user(username="fuzz-no-roles", password="fuzz-pass-123", email="nr@example.com")
tokens = {
    "admin": asyncio.run(tokens_for(admin, user_agent="schemathesis")).access_token,
    "no-roles": asyncio.run(tokens_for(plain, user_agent="schemathesis")).access_token,
}
print(json.dumps(tokens))
"""

# Operations that end the caller's own session: fuzzing them as a signed-in caller would turn the rest of the
# run into 40103 answers. The anonymous run still fuzzes them.
SESSION_ENDING = r"^/api/v1/(auth/logout(/all)?|auth/password|auth/sessions/\{[^}]+\}|users/\{[^}]+\}/logout)$"


def schemathesis_run(base: str, name: str, token: str | None, seed: int, seconds: int, report_dir: Path) -> int:
    args = [
        str(ROOT / ".venv" / "bin" / "schemathesis"),
        "run",
        f"{base}/api/v1/openapi.json",
        "--checks",
        "all",
        # "Schema-valid data accepted" cannot hold here: a schema cannot say "a ciphertext under the served key",
        # "a registered task name" or "an existing role id", which the server rightly refuses with 400/422.
        "--exclude-checks",
        "positive_data_acceptance",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(seed),
        "--max-time",
        str(seconds),
        # One worker: with several, schemathesis generates in threads, and CPython 3.11 before 3.11.8 can fail
        # ast.parse (used by hypothesis to describe lambdas) run in two threads at once with "SystemError: AST
        # constructor recursion depth mismatch", a runtime error of the tool that says nothing about the API.
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir / name),
        "-H",
        "User-Agent: schemathesis",
    ]
    if token:
        args += ["-H", f"Authorization: Bearer {token}", "--exclude-path-regex", SESSION_ENDING]
    print(f"[fuzz] {name}: {seconds} s, seed {seed}", flush=True)
    return subprocess.run(args, cwd=ROOT).returncode


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds-per-run", type=int, default=int(os.environ.get("FUZZ_SECONDS_PER_RUN", "65")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "20261207")))
    options = parser.parse_args()
    report_dir = ROOT / ".artifacts" / "fuzz"
    report_dir.mkdir(parents=True, exist_ok=True)
    extra = {"API_DOCS_PUBLIC": "true", "DJANGO_SECURE_COOKIES": "false"}
    with bench_environment(extra) as env:
        tokens = django_snippet(env, TOKENS_SNIPPET)
        with daphne(env) as (base, _pid):
            failures = 0
            for name, token in (("anonymous", None), ("no-roles", tokens["no-roles"]), ("admin", tokens["admin"])):
                code = schemathesis_run(base, name, token, options.seed, options.seconds_per_run, report_dir)
                print(f"[fuzz] {name}: exit {code}", flush=True)
                failures += code != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
