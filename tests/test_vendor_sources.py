"""``tests/vendor/SOURCES.md`` lists every vendor file kept in the repository, and each copy
is still byte-for-byte the upstream file (its Git blob id matches the one recorded)."""

from __future__ import annotations

import hashlib
import re

from contract_specs import VENDOR_DIR

SOURCES = VENDOR_DIR / "SOURCES.md"
ROW = re.compile(r"^\| `(?P<file>[^`]+)` \| (?P<source>[^|]+) \| `(?P<blob>[0-9a-f]{40})` \|")


def git_blob_id(data: bytes) -> str:
    """What ``git hash-object`` prints for a file with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def listed() -> dict[str, str]:
    rows = [ROW.match(line) for line in SOURCES.read_text("utf-8").splitlines()]
    return {row["file"]: row["blob"] for row in rows if row}


def test_git_blob_id_matches_git() -> None:
    # `printf 'hello\n' | git hash-object --stdin`
    assert git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_every_vendor_file_is_listed_and_every_listed_file_is_kept() -> None:
    kept = {
        path.relative_to(VENDOR_DIR).as_posix()
        for path in VENDOR_DIR.rglob("*")
        if path.is_file() and path != SOURCES
    }
    assert kept, "no vendor files found"
    assert set(listed()) == kept


def test_each_copy_is_the_upstream_file() -> None:
    changed = [
        name
        for name, blob in listed().items()
        if git_blob_id((VENDOR_DIR / name).read_bytes()) != blob
    ]
    assert changed == []
