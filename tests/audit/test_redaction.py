from apps.audit.redaction import REDACTED, redact, redact_query

WORDS = ("password", "token", "secret", "key")


def test_redact_replaces_secret_keys_at_any_depth_case_insensitively():
    body = {
        "username": "alice",
        "Password": "hunter2",
        "profile": {"refresh_token": "r1", "items": [{"API_KEY": "k1", "name": "x"}]},
        "client_secret": {"nested": "whole value goes"},
    }
    assert redact(body, WORDS) == {
        "username": "alice",
        "Password": REDACTED,
        "profile": {"refresh_token": REDACTED, "items": [{"API_KEY": REDACTED, "name": "x"}]},
        "client_secret": REDACTED,
    }


def test_redact_leaves_input_untouched_and_keeps_scalars():
    body = {"password": "p", "n": 1, "ok": True, "none": None}
    assert redact(body, WORDS) == {"password": REDACTED, "n": 1, "ok": True, "none": None}
    assert body["password"] == "p"
    assert redact([1, "a"], WORDS) == [1, "a"]


def test_redact_makes_values_storable_in_bson():
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["a"] = {}
        node = node["a"]
    result = redact({"big": 2**70, "neg": -(2**64), "deep": deep}, WORDS)
    assert result["big"] == str(2**70) and result["neg"] == str(-(2**64))
    depth = 0
    node = result["deep"]
    while isinstance(node, dict):
        node = node["a"]
        depth += 1
    assert node == "[TOO DEEP]" and depth < 40


def test_redact_query_redacts_secret_names_and_keeps_repeats():
    pairs = [("page", ["2"]), ("access_token", ["abc"]), ("tag", ["a", "b"])]
    assert redact_query(pairs, WORDS) == {"page": "2", "access_token": REDACTED, "tag": ["a", "b"]}


def test_redact_and_redact_query_replace_lone_surrogates():
    body = {"name": "a\ud800b", "\udfff": ["\udbff", {"k\udc00": "ok 😀"}], "n": 1}
    assert redact(body, WORDS) == {"name": "a\ufffdb", "\ufffd": ["\ufffd", {"k\ufffd": "ok 😀"}], "n": 1}
    pairs = [("q\ud800", ["\udfff"]), ("tag", ["a", "\ud800"])]
    assert redact_query(pairs, WORDS) == {"q\ufffd": "\ufffd", "tag": ["a", "\ufffd"]}
