import uuid
from datetime import UTC, datetime

import pytest

from apps.core.exceptions import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from apps.storage.limits import (
    MAX_PRESIGN_SECONDS,
    MIB,
    S3_MIN_PART_SIZE,
    check_upload_limits,
    clamp_url_ttl,
    content_type_allowed,
    expected_part_sizes,
    file_id_of_key,
    normalize_content_type,
    object_key_for,
    plan_upload,
    sanitize_filename,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\evil.exe", "evil.exe"),
        ("C:\\Users\\me\\photo.JPG", "photo.JPG"),
        ("a/b/c.txt", "c.txt"),
        ("bad\x00name\r\n.txt", "badname.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # right-to-left override disguising the extension
        ("  spaced name.csv  ", "spaced name.csv"),
        ("cafe\u0301.txt", "café.txt"),  # NFC
        (".gitignore", ".gitignore"),
        ('quote"and;semicolon.txt', 'quote"and;semicolon.txt'),
    ],
)
def test_sanitize_filename_keeps_only_a_safe_last_segment(raw, clean):
    assert sanitize_filename(raw) == clean


@pytest.mark.parametrize("raw", ["", "/", "..", "a/..", "\x00\x01", "dir/", "\u202e", "   "])
def test_sanitize_filename_refuses_names_that_vanish(raw):
    with pytest.raises(ValidationFailed) as info:
        sanitize_filename(raw)
    assert info.value.data[0]["loc"] == ["body", "payload", "filename"]


def test_sanitize_filename_cuts_absurd_length_to_255_bytes_keeping_the_extension():
    clean = sanitize_filename("x" * 1000 + ".tar")
    assert len(clean.encode()) == 255
    assert clean.endswith(".tar")
    multibyte = sanitize_filename("ж" * 400 + ".pdf")  # 2 bytes each: the cut must not split a character
    assert len(multibyte.encode()) <= 255
    assert multibyte.endswith(".pdf")
    assert set(multibyte[:-4]) == {"ж"}


def test_content_type_is_normalised_and_checked_against_the_allow_list():
    assert normalize_content_type("Text/Plain; charset=UTF-8") == "text/plain"
    assert content_type_allowed("text/plain", ["text/plain"])
    assert content_type_allowed("image/png", ["image/*"])
    assert not content_type_allowed("text/html", ["text/plain", "image/*"])
    assert not content_type_allowed("plain", ["plain"])


def test_check_upload_limits_refuses_type_then_size(settings):
    settings.FILE_ALLOWED_CONTENT_TYPES = ["text/plain"]
    settings.FILE_MAX_SIZE = 100
    assert check_upload_limits(size=100, content_type="TEXT/PLAIN; charset=utf-8") == "text/plain"
    with pytest.raises(PayloadTooLarge):
        check_upload_limits(size=101, content_type="text/plain")
    with pytest.raises(UnsupportedMediaType):
        check_upload_limits(size=1, content_type="text/html")


def test_plan_upload_picks_single_below_threshold_and_parts_above(settings):
    settings.FILE_MULTIPART_THRESHOLD = 8 * MIB
    settings.FILE_PART_SIZE = 5 * MIB
    settings.FILE_MAX_PARTS = 10_000
    assert plan_upload(0).strategy == "single"
    assert plan_upload(8 * MIB - 1).strategy == "single"
    plan = plan_upload(12 * MIB)
    assert (plan.strategy, plan.part_size, plan.part_count) == ("multipart", 5 * MIB, 3)


def test_plan_upload_never_goes_below_the_s3_part_minimum(settings):
    settings.FILE_MULTIPART_THRESHOLD = 1 * MIB
    settings.FILE_PART_SIZE = 1 * MIB
    plan = plan_upload(12 * MIB)
    assert plan.part_size == S3_MIN_PART_SIZE
    assert plan.part_count == 3


def test_plan_upload_grows_parts_to_respect_the_maximum_part_count(settings):
    settings.FILE_MULTIPART_THRESHOLD = 8 * MIB
    settings.FILE_PART_SIZE = 5 * MIB
    settings.FILE_MAX_PARTS = 2
    plan = plan_upload(12 * MIB)
    assert (plan.part_size, plan.part_count) == (6 * MIB, 2)
    settings.FILE_MAX_PARTS = 1
    with pytest.raises(PayloadTooLarge):
        plan_upload(6 * 1024 * MIB)  # would need one part above S3's 5 GiB maximum


def test_expected_part_sizes_end_with_the_remainder():
    assert expected_part_sizes(size=12 * MIB, part_size=5 * MIB) == [5 * MIB, 5 * MIB, 2 * MIB]
    assert expected_part_sizes(size=10 * MIB, part_size=5 * MIB) == [5 * MIB, 5 * MIB]


def test_clamp_url_ttl_stays_within_one_second_and_seven_days():
    assert clamp_url_ttl(0) == 1
    assert clamp_url_ttl(3600) == 3600
    assert clamp_url_ttl(10**9) == MAX_PRESIGN_SECONDS == 604800


def test_object_key_never_contains_the_client_name_and_maps_back_to_the_record():
    file_id = uuid.uuid4()
    when = datetime(2024, 3, 9, tzinfo=UTC)
    key = object_key_for(file_id=file_id, filename="../../My Secret Plans.PDF", created_at=when)
    assert key == f"files/2024/03/{file_id.hex}.pdf"
    assert file_id_of_key(key) == file_id
    assert object_key_for(file_id=file_id, filename="noext", created_at=when) == f"files/2024/03/{file_id.hex}"
    assert object_key_for(file_id=file_id, filename="x.<script>", created_at=when).endswith(file_id.hex)
    assert file_id_of_key("files/2024/03/not-ours.txt") is None
    assert file_id_of_key("elsewhere/readme") is None
