"""The files API end to end: a real HTTP client uploads to the presigned URLs of the S3 server."""

import uuid

import pytest
from asgiref.sync import sync_to_async

from apps.storage import objects
from apps.storage.models import StoredFile
from tests.conftest import envelope_of
from tests.helpers import bearer_headers, grant
from tests.storage.conftest import (
    FILE_CODES,
    MIB,
    call,
    create_user,
    http_get,
    http_put,
    random_bytes,
    sha256,
    signed_in_user,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def start_upload(client, headers, *, filename="notes.txt", size, content_type="text/plain"):
    response = await call(
        client,
        "POST",
        "/files/uploads",
        headers,
        {"filename": filename, "size": size, "content_type": content_type},
    )
    return response, envelope_of(response)


async def upload_single(client, headers, data, *, filename="notes.txt", content_type="text/plain"):
    response, body = await start_upload(client, headers, filename=filename, size=len(data), content_type=content_type)
    assert response.status_code == 201, body
    ticket = body["data"]
    assert ticket["strategy"] == "single"
    put = await http_put(ticket["url"], data, ticket["headers"])
    assert put.status_code == 200
    done = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {})
    assert done.status_code == 200, done.content
    return envelope_of(done)["data"]


async def test_single_upload_completes_and_downloads_identical_bytes(client, alice):
    user, headers = alice
    data = random_bytes(300_000)
    response, body = await start_upload(
        client, headers, filename="report.pdf", size=len(data), content_type="application/pdf"
    )
    assert response.status_code == 201 and body["code"] == 0
    ticket = body["data"]
    assert set(ticket) == {"file_id", "strategy", "url", "headers", "expires_in"}
    assert ticket["strategy"] == "single"
    assert ticket["headers"] == {"Content-Type": "application/pdf"}
    assert ticket["url"].startswith("http://127.0.0.1:9000/")

    pending = envelope_of(await call(client, "GET", f"/files/{ticket['file_id']}", headers))["data"]
    assert pending["status"] == "pending"
    early = await call(client, "GET", f"/files/{ticket['file_id']}/download", headers)
    assert early.status_code == 409 and envelope_of(early)["code"] == 40900

    assert (await http_put(ticket["url"], data, ticket["headers"])).status_code == 200
    done = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {})
    file = envelope_of(done)["data"]
    assert done.status_code == 200
    assert file["id"] == ticket["file_id"]
    assert file["status"] == "ready"
    assert file["filename"] == "report.pdf"
    assert file["size"] == len(data)
    assert file["content_type"] == "application/pdf"
    assert file["owner_id"] == str(user.id)
    assert set(file) == {"id", "filename", "size", "content_type", "status", "owner_id", "created_at"}

    # Idempotent, and the body is optional (a bare POST, as fetch() sends it).
    again = await client.generic("POST", f"/api/v1/files/{ticket['file_id']}/complete", b"", headers=headers)
    assert again.status_code == 200 and envelope_of(again)["data"]["status"] == "ready"

    link = envelope_of(await call(client, "GET", f"/files/{ticket['file_id']}/download", headers))["data"]
    assert link["expires_in"] == 3600
    downloaded = await http_get(link["url"])
    assert downloaded.status_code == 200
    assert sha256(downloaded.content) == sha256(data)
    assert downloaded.headers["content-disposition"] == 'attachment; filename="report.pdf"'


async def test_multipart_upload_of_12_mib_in_5_mib_parts(client, alice):
    _, headers = alice
    data = random_bytes(12 * MIB)
    response, body = await start_upload(
        client, headers, filename="archive.zip", size=len(data), content_type="application/zip"
    )
    assert response.status_code == 201, body
    ticket = body["data"]
    assert set(ticket) == {"file_id", "strategy", "upload_id", "part_size", "parts", "expires_in"}
    assert ticket["strategy"] == "multipart"
    assert ticket["part_size"] == 5 * MIB
    assert [p["part_number"] for p in ticket["parts"]] == [1, 2, 3]

    parts = []
    for part in ticket["parts"]:
        start = (part["part_number"] - 1) * ticket["part_size"]
        put = await http_put(part["url"], data[start : start + ticket["part_size"]])
        assert put.status_code == 200
        parts.append({"part_number": part["part_number"], "etag": put.headers["etag"]})

    done = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {"parts": parts})
    assert done.status_code == 200, done.content
    file = envelope_of(done)["data"]
    assert (file["status"], file["size"]) == ("ready", 12 * MIB)

    link = envelope_of(await call(client, "GET", f"/files/{ticket['file_id']}/download", headers))["data"]
    downloaded = await http_get(link["url"])
    assert len(downloaded.content) == 12 * MIB
    assert sha256(downloaded.content) == sha256(data)


async def test_multipart_completes_from_the_servers_part_list_when_none_is_sent(client, alice):
    _, headers = alice
    data = random_bytes(9 * MIB)
    _, body = await start_upload(
        client, headers, filename="big.bin", size=len(data), content_type="application/octet-stream"
    )
    ticket = body["data"]
    assert len(ticket["parts"]) == 2
    assert (await http_put(ticket["parts"][0]["url"], data[: 5 * MIB])).status_code == 200

    missing = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {})
    assert missing.status_code == 409 and envelope_of(missing)["code"] == 40900
    assert "[2]" in envelope_of(missing)["message"]

    assert (await http_put(ticket["parts"][1]["url"], data[5 * MIB :])).status_code == 200
    done = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {})
    assert done.status_code == 200 and envelope_of(done)["data"]["status"] == "ready"
    link = envelope_of(await call(client, "GET", f"/files/{ticket['file_id']}/download", headers))["data"]
    assert sha256((await http_get(link["url"])).content) == sha256(data)


async def test_multipart_refuses_parts_that_do_not_match(client, alice):
    _, headers = alice
    data = random_bytes(9 * MIB)
    _, body = await start_upload(
        client, headers, filename="big.bin", size=len(data), content_type="application/octet-stream"
    )
    ticket = body["data"]
    first = await http_put(ticket["parts"][0]["url"], data[: 5 * MIB])
    # A last part longer than announced: the total would not be the announced size.
    await http_put(ticket["parts"][1]["url"], data[5 * MIB :] + b"extra")
    wrong_size = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {})
    assert wrong_size.status_code == 409 and "wrong size" in envelope_of(wrong_size)["message"]

    second = await http_put(ticket["parts"][1]["url"], data[5 * MIB :])  # re-sending a part replaces it
    bogus = [{"part_number": 1, "etag": first.headers["etag"]}, {"part_number": 2, "etag": "0" * 32}]
    refused = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {"parts": bogus})
    assert refused.status_code == 409

    good = [{"part_number": 1, "etag": first.headers["etag"]}, {"part_number": 2, "etag": second.headers["etag"]}]
    done = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {"parts": good})
    assert done.status_code == 200 and envelope_of(done)["data"]["size"] == 9 * MIB


async def test_complete_without_object_or_with_another_size_is_a_conflict(client, alice):
    _, headers = alice
    _, body = await start_upload(client, headers, size=10)
    ticket = body["data"]
    nothing = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {})
    assert nothing.status_code == 409 and envelope_of(nothing)["code"] == 40900

    await http_put(ticket["url"], b"0123456789ABC", ticket["headers"])  # 13 bytes, 10 announced
    wrong = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {})
    assert wrong.status_code == 409 and envelope_of(wrong)["code"] == 40900
    record = await StoredFile.objects.aget(pk=ticket["file_id"])
    assert record.status == "pending"
    assert await objects.astat(record.object_key) is None  # the wrong bytes are not kept

    await http_put(ticket["url"], b"0123456789", ticket["headers"])  # the URL is still valid: try again
    done = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {})
    assert done.status_code == 200 and envelope_of(done)["data"]["status"] == "ready"


async def test_unsupported_type_and_too_large_fail_before_any_url(client, alice, settings):
    _, headers = alice
    settings.FILE_MAX_SIZE = 20 * MIB
    before = await StoredFile.objects.acount()

    response, body = await start_upload(client, headers, filename="page.html", size=10, content_type="text/html")
    assert response.status_code == 415 and body["code"] == 41500 and body["data"] is None

    response, body = await start_upload(client, headers, size=20 * MIB + 1, content_type="application/zip")
    assert response.status_code == 413 and body["code"] == 41300 and body["data"] is None

    response, body = await start_upload(client, headers, size=-1)
    assert response.status_code == 422 and body["code"] == 42200
    assert await StoredFile.objects.acount() == before


async def test_filenames_are_sanitised_and_absurd_ones_refused(client, alice):
    _, headers = alice
    file = await upload_single(client, headers, b"hi", filename="../../etc/pass\x00wd\n")
    assert file["filename"] == "passwd"
    record = await StoredFile.objects.aget(pk=file["id"])
    assert "passwd" not in record.object_key and ".." not in record.object_key

    long_name = await upload_single(client, headers, b"hi", filename="n" * 600 + ".txt")
    assert len(long_name["filename"].encode()) == 255 and long_name["filename"].endswith(".txt")

    response, body = await start_upload(client, headers, filename="x" * 1025, size=1)
    assert response.status_code == 422
    response, body = await start_upload(client, headers, filename="../", size=1)
    assert response.status_code == 422 and body["data"][0]["loc"] == ["body", "payload", "filename"]


async def test_abort_removes_the_record_and_the_upload(client, alice):
    _, headers = alice
    _, body = await start_upload(
        client, headers, filename="big.bin", size=9 * MIB, content_type="application/octet-stream"
    )
    ticket = body["data"]
    assert (await http_put(ticket["parts"][0]["url"], random_bytes(5 * MIB))).status_code == 200
    record = await StoredFile.objects.aget(pk=ticket["file_id"])

    aborted = await call(client, "DELETE", f"/files/{ticket['file_id']}/upload", headers)
    assert aborted.status_code == 200 and envelope_of(aborted) == {"code": 0, "message": "OK", "data": None}
    gone = await call(client, "GET", f"/files/{ticket['file_id']}", headers)
    assert gone.status_code == 404 and envelope_of(gone)["code"] == 40400
    assert await objects.alist_parts(record.object_key, upload_id=ticket["upload_id"]) is None
    late = await http_put(ticket["parts"][1]["url"], b"late")
    assert late.status_code >= 400  # the part URLs died with the upload (S3: 404 NoSuchUpload; moto: 500)


async def test_abort_of_a_ready_file_is_a_conflict(client, alice):
    _, headers = alice
    file = await upload_single(client, headers, b"done")
    response = await call(client, "DELETE", f"/files/{file['id']}/upload", headers)
    assert response.status_code == 409
    assert (await call(client, "GET", f"/files/{file['id']}", headers)).status_code == 200


async def test_delete_removes_the_object(client, alice):
    _, headers = alice
    file = await upload_single(client, headers, b"to be deleted")
    record = await StoredFile.objects.aget(pk=file["id"])
    assert await objects.astat(record.object_key) is not None

    deleted = await call(client, "DELETE", f"/files/{file['id']}", headers)
    assert deleted.status_code == 200 and envelope_of(deleted)["data"] is None
    assert await objects.astat(record.object_key) is None
    assert (await call(client, "GET", f"/files/{file['id']}", headers)).status_code == 404
    assert (await call(client, "DELETE", f"/files/{file['id']}", headers)).status_code == 404


async def test_other_users_get_404_for_every_operation(client, alice, bob):
    _, alice_headers = alice
    _, bob_headers = bob
    file = await upload_single(client, alice_headers, b"private")
    _, body = await start_upload(client, alice_headers, size=5)
    pending_id = body["data"]["file_id"]

    for method, path in (
        ("GET", f"/files/{file['id']}"),
        ("GET", f"/files/{file['id']}/download"),
        ("DELETE", f"/files/{file['id']}"),
        ("DELETE", f"/files/{pending_id}/upload"),
        ("POST", f"/files/{pending_id}/complete"),
    ):
        response = await call(client, method, path, bob_headers, {} if method == "POST" else None)
        assert response.status_code == 404, (method, path, response.content)
        assert envelope_of(response)["code"] == 40400
    listed = envelope_of(await call(client, "GET", "/files", bob_headers))["data"]
    assert listed["items"] == [] and listed["total"] == 0
    probe = await call(client, "GET", f"/files/{uuid.uuid4()}", bob_headers)
    assert probe.status_code == 404  # an unknown id looks exactly like someone else's
    assert (await call(client, "GET", f"/files/{file['id']}", alice_headers)).status_code == 200


async def test_manage_all_files_permission_sees_and_deletes_every_file(client, alice):
    from django.contrib.auth.models import Permission

    _, alice_headers = alice
    file = await upload_single(client, alice_headers, b"shared")
    manager, manager_headers = await signed_in_user(*FILE_CODES, username="manager")
    assert (await call(client, "GET", f"/files/{file['id']}", manager_headers)).status_code == 404

    role = await grant(None, *FILE_CODES, name="file-managers")
    permission = await Permission.objects.aget(content_type__app_label="storage", codename="manage_all_files")
    await sync_to_async(role.permissions.add)(permission)
    await sync_to_async(manager.groups.add)(role)

    seen = await call(client, "GET", f"/files/{file['id']}", manager_headers)
    assert seen.status_code == 200
    listed = envelope_of(await call(client, "GET", f"/files?owner_id={file['owner_id']}", manager_headers))["data"]
    assert [item["id"] for item in listed["items"]] == [file["id"]]
    link = await call(client, "GET", f"/files/{file['id']}/download", manager_headers)
    assert (await http_get(envelope_of(link)["data"]["url"])).content == b"shared"
    assert (await call(client, "DELETE", f"/files/{file['id']}", manager_headers)).status_code == 200
    assert (await call(client, "GET", f"/files/{file['id']}", alice_headers)).status_code == 404


async def test_superuser_sees_every_file(client, alice):
    _, alice_headers = alice
    file = await upload_single(client, alice_headers, b"anything")
    root = await sync_to_async(create_user)(username="root", is_superuser=True)
    response = await call(client, "GET", f"/files/{file['id']}", await bearer_headers(root))
    assert response.status_code == 200


async def test_files_need_their_api_permission(client):
    _, headers = await signed_in_user(username="nobody")
    response, body = await start_upload(client, headers, size=1)
    assert response.status_code == 403 and body["code"] == 40300
    assert (await call(client, "GET", "/files", headers)).status_code == 403


async def test_list_is_paginated_newest_first_and_filtered(client, alice):
    _, headers = alice
    first = await upload_single(client, headers, b"a", filename="alpha.txt")
    second = await upload_single(client, headers, b"b", filename="beta.csv", content_type="text/csv")
    _, body = await start_upload(client, headers, filename="gamma.txt", size=3)
    pending_id = body["data"]["file_id"]

    page = envelope_of(await call(client, "GET", "/files?page_size=2", headers))["data"]
    assert page["total"] == 3 and page["page"] == 1 and page["page_size"] == 2
    assert [item["id"] for item in page["items"]] == [pending_id, second["id"]]
    page2 = envelope_of(await call(client, "GET", "/files?page_size=2&page=2", headers))["data"]
    assert [item["id"] for item in page2["items"]] == [first["id"]]

    ready = envelope_of(await call(client, "GET", "/files?status=ready", headers))["data"]
    assert {item["id"] for item in ready["items"]} == {first["id"], second["id"]}
    csv = envelope_of(await call(client, "GET", "/files?content_type=text/csv", headers))["data"]
    assert [item["id"] for item in csv["items"]] == [second["id"]]
    search = envelope_of(await call(client, "GET", "/files?search=ALP", headers))["data"]
    assert [item["id"] for item in search["items"]] == [first["id"]]


async def test_download_expiry_is_clamped_to_seven_days(client, alice):
    _, headers = alice
    file = await upload_single(client, headers, b"x")
    link = envelope_of(await call(client, "GET", f"/files/{file['id']}/download?expires_in=99999999", headers))["data"]
    assert link["expires_in"] == 604800
    assert "X-Amz-Expires=604800" in link["url"]
    short = envelope_of(await call(client, "GET", f"/files/{file['id']}/download?expires_in=60", headers))["data"]
    assert short["expires_in"] == 60


async def test_download_refuses_an_object_replaced_after_completion(client, alice):
    _, headers = alice
    data = b"verified bytes"
    _, body = await start_upload(client, headers, size=len(data))
    ticket = body["data"]
    await http_put(ticket["url"], data, ticket["headers"])
    assert (await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {})).status_code == 200
    await http_put(ticket["url"], b"swapped bytes!", ticket["headers"])  # same size, other content
    response = await call(client, "GET", f"/files/{ticket['file_id']}/download", headers)
    assert response.status_code == 409


async def test_bucket_statistics_count_objects_and_bytes(client, alice, settings):
    _, headers = alice
    _, admin_headers = await signed_in_user("GET:/api/v1/storage/buckets", username="storekeeper")
    before = envelope_of(await call(client, "GET", "/storage/buckets", admin_headers))["data"]
    assert before["total"] == 1
    [bucket] = before["items"]
    assert bucket["name"] == settings.S3_BUCKET
    await upload_single(client, headers, b"12345")
    await upload_single(client, headers, b"1234567")
    after = envelope_of(await call(client, "GET", "/storage/buckets", admin_headers))["data"]["items"][0]
    assert after["object_count"] == bucket["object_count"] + 2
    assert after["total_bytes"] == bucket["total_bytes"] + 12
    assert (await call(client, "GET", "/storage/buckets", headers)).status_code == 403


async def test_multipart_assembled_on_the_server_but_not_recorded_still_completes(client, alice):
    _, headers = alice
    data = random_bytes(9 * MIB)
    _, body = await start_upload(client, headers, filename="big.bin", size=len(data), content_type="application/zip")
    ticket = body["data"]
    for part in ticket["parts"]:
        start = (part["part_number"] - 1) * ticket["part_size"]
        await http_put(part["url"], data[start : start + ticket["part_size"]])
    record = await StoredFile.objects.aget(pk=ticket["file_id"])
    held = await objects.alist_parts(record.object_key, upload_id=record.upload_id)
    assert held is not None
    # A first completion assembled the object, then failed before the record changed (e.g. a lost connection).
    await objects.acomplete_multipart(
        record.object_key, upload_id=record.upload_id, parts=[(p.part_number, p.etag) for p in held]
    )

    done = await call(client, "POST", f"/files/{ticket['file_id']}/complete", headers, {})
    assert done.status_code == 200 and envelope_of(done)["data"]["status"] == "ready"
    link = envelope_of(await call(client, "GET", f"/files/{ticket['file_id']}/download", headers))["data"]
    assert sha256((await http_get(link["url"])).content) == sha256(data)
