"""The Storage contract (hub/storage/base.py), run against every backend.

Each test states a promise of the Protocol's docstrings and checks it from the outside: through
the Protocol, and through ``backend.leftovers()`` (what is physically stored) where "nothing is
stored" is the promise.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Iterator

import pytest

from hub.storage import BlobNotFound, Storage
from hub.storage.base import CHUNK
from hub.storage.s3 import MIN_PART_SIZE
from tests.storage.backends import BACKENDS, Backend

MiB = 1024 * 1024


class Refused(Exception):
    """What a failing before_commit raises (like a digest mismatch)."""


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def pieces(data: bytes, sizes: Iterable[int]) -> Iterator[bytes]:
    """``data`` as chunks of the given sizes (the last one takes the rest), lazily: a
    generator, as the web layer passes request bodies."""
    at = 0
    for size in sizes:
        yield data[at : at + size]
        at += size
    if at < len(data):
        yield data[at:]


def read_all(storage: Storage, key: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join(storage.read(key, offset, length))


# Odd sizes on purpose: straddling 5 MiB part boundaries, and one chunk bigger than two parts
# (a client may send a body in any shape). 12 MiB + 12345 bytes in all.
MULTIPART_TOTAL = 12 * MiB + 12345
MULTIPART_CHUNKS = [1, 4093, MiB + 7, 10_400_001, 65_537, 3]


def multipart_storage(backend: Backend) -> Storage:
    """S3 at its smallest part size, so ~12 MiB takes three parts; others as they come."""
    return backend.make(part_size=MIN_PART_SIZE)


# --- write / read -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 1000, CHUNK + 17])
def test_write_then_read_round_trip(storage: Storage, size: int) -> None:
    data = payload(size)
    assert storage.write("blobs/sha256/ab/abc", pieces(data, [7, 300, 5000])) == size
    assert read_all(storage, "blobs/sha256/ab/abc") == data
    assert storage.size("blobs/sha256/ab/abc") == size
    assert storage.exists("blobs/sha256/ab/abc")


def test_write_accepts_any_iterable(storage: Storage) -> None:
    assert storage.write("k/list", [b"ab", b"", b"cd"]) == 4
    assert storage.write("k/tuple", (b"x",)) == 1
    assert storage.write("k/empty", []) == 0
    assert read_all(storage, "k/list") == b"abcd"
    assert read_all(storage, "k/tuple") == b"x"
    assert read_all(storage, "k/empty") == b""
    assert storage.size("k/empty") == 0


def test_read_streams_in_chunks(storage: Storage) -> None:
    data = payload(3 * CHUNK + 5)
    storage.write("big", [data])
    chunks = list(storage.read("big"))
    assert b"".join(chunks) == data
    # bytes move as iterators of chunks, never one blob-sized bytes object
    assert len(chunks) > 1 and all(len(c) <= CHUNK for c in chunks)


def test_read_offset_and_length(storage: Storage) -> None:
    data = payload(2 * CHUNK + 123, seed=1)
    n = len(data)
    storage.write("blob", pieces(data, [CHUNK - 1, 2]))
    cases: list[tuple[int, int | None]] = [
        (0, None),
        (0, 10),
        (10, None),
        (10, 20),
        (0, 0),
        (5, 0),
        (CHUNK - 1, 2),  # across a chunk boundary
        (CHUNK, CHUNK + 1),
        (n - 1, None),
        (n - 1, 1),
        (n - 1, 10),  # length past the end: what there is
        (0, n + 100),
        (n, None),  # at the end: nothing
        (n, 5),
        (n + 100, None),  # past the end: nothing
        (n + 100, 3),
        (n, 0),
    ]
    for offset, length in cases:
        want = data[offset:] if length is None else data[offset : offset + length]
        got = read_all(storage, "blob", offset, length)
        assert got == want, f"read(offset={offset}, length={length}): {len(got)} bytes"


def test_read_of_empty_object_with_ranges(storage: Storage) -> None:
    storage.write("empty", [])
    for offset, length in [(0, None), (0, 0), (0, 5), (3, None), (3, 1)]:
        assert read_all(storage, "empty", offset, length) == b"", (offset, length)


@pytest.mark.parametrize(("offset", "length"), [(0, None), (5, None), (0, 0), (3, 4), (0, 1)])
def test_read_missing_raises_before_any_byte(
    storage: Storage, offset: int, length: int | None
) -> None:
    storage.write("present", [b"x"])
    # raised by the call itself, not on first iteration: the web layer must be able to answer
    # 404 before it starts a 200 response
    with pytest.raises(BlobNotFound) as caught:
        storage.read("absent", offset, length)
    assert caught.value.key == "absent"


def test_size_and_exists(storage: Storage) -> None:
    storage.write("a/b", [b"12345"])
    assert storage.size("a/b") == 5
    assert storage.exists("a/b")
    assert not storage.exists("a/c")
    assert not storage.exists("a")  # a folder of keys is not an object
    with pytest.raises(BlobNotFound) as caught:
        storage.size("a/c")
    assert caught.value.key == "a/c"


@pytest.mark.parametrize("key", ["a", "a/b/c"])
def test_folders_and_paths_through_objects_are_not_objects(storage: Storage, key: str) -> None:
    # "a" holds keys but is no object; "a/b/c" would go through the object "a/b". Everywhere
    # they are simply missing keys, consistent with exists().
    storage.write("a/b", [b"12345"])
    assert not storage.exists(key)
    with pytest.raises(BlobNotFound):
        storage.size(key)
    with pytest.raises(BlobNotFound):
        storage.read(key)
    storage.delete(key)  # a missing key: not an error
    assert read_all(storage, "a/b") == b"12345"


# --- delete / prefixes --------------------------------------------------------------------


def test_delete(storage: Storage) -> None:
    storage.write("a/1", [b"one"])
    storage.write("a/2", [b"two"])
    storage.delete("a/1")
    assert not storage.exists("a/1")
    with pytest.raises(BlobNotFound):
        storage.read("a/1")
    with pytest.raises(BlobNotFound):
        storage.size("a/1")
    assert read_all(storage, "a/2") == b"two"
    # deleting what is not there is not an error, twice over
    storage.delete("a/1")
    storage.delete("never/written")


KEYS = [
    "blobs/sha256/ab/abcdef",
    "blobs/sha256/00/00ff",
    "uploads/u1/00000000",
    "uploads/u1/00000001",
    "uploads/u1/00000010",
    "uploads/u10/00000000",
    "uploads/u2/00000000",
    "uploads/u1-x/00000000",
]


def write_shuffled(storage: Storage, keys: list[str]) -> None:
    shuffled = list(keys)
    random.Random(7).shuffle(shuffled)
    for key in shuffled:
        storage.write(key, [key.encode()])


def test_list_prefix_is_lexical(storage: Storage) -> None:
    write_shuffled(storage, KEYS)
    assert list(storage.list_prefix("")) == sorted(KEYS)
    assert list(storage.list_prefix("uploads/")) == sorted(k for k in KEYS if k[0] == "u")
    # a folder prefix: uploads/u1/ is not uploads/u10/ nor uploads/u1-x/
    assert list(storage.list_prefix("uploads/u1/")) == [
        "uploads/u1/00000000",
        "uploads/u1/00000001",
        "uploads/u1/00000010",
    ]
    assert list(storage.list_prefix("blobs/sha256/")) == [
        "blobs/sha256/00/00ff",
        "blobs/sha256/ab/abcdef",
    ]
    assert list(storage.list_prefix("nothing/here/")) == []


def test_delete_prefix(storage: Storage) -> None:
    write_shuffled(storage, KEYS)
    storage.delete_prefix("uploads/u1/")
    left = [k for k in KEYS if not k.startswith("uploads/u1/")]
    assert list(storage.list_prefix("")) == sorted(left)
    for key in left:
        assert read_all(storage, key) == key.encode()
    assert not storage.exists("uploads/u1/00000000")
    # a prefix with nothing under it is not an error, even twice
    storage.delete_prefix("uploads/u1/")
    storage.delete_prefix("no/such/folder/")
    storage.delete_prefix("uploads/")
    assert list(storage.list_prefix("")) == sorted(k for k in KEYS if k.startswith("blobs/"))


def test_delete_prefix_spares_an_object_named_like_the_folder(storage: Storage) -> None:
    storage.write("a/2", [b"object"])
    storage.write("a/20/x", [b"neighbour"])
    storage.delete_prefix("a/2/")  # neither key starts with "a/2/"
    assert list(storage.list_prefix("")) == ["a/2", "a/20/x"]


# --- before_commit and atomicity ----------------------------------------------------------


def test_before_commit_sees_every_byte_before_the_object_is_visible(storage: Storage) -> None:
    data = payload(CHUNK + 99, seed=2)
    consumed = []

    def body() -> Iterator[bytes]:
        yield from pieces(data, [1000, 70_000])
        consumed.append(True)

    seen: list[tuple[int, bool, bool]] = []

    def before_commit(size: int) -> None:
        seen.append((size, bool(consumed), storage.exists("k")))

    assert storage.write("k", body(), before_commit) == len(data)
    # called once, with the full size, after the input was drained, while "k" was not visible
    assert seen == [(len(data), True, False)]
    assert read_all(storage, "k") == data


@pytest.mark.parametrize("shape", ["single", "multipart"])
def test_failing_before_commit_stores_nothing(backend: Backend, shape: str) -> None:
    storage = multipart_storage(backend) if shape == "multipart" else backend.make()
    storage.write("other/keep", [b"unrelated"])
    before = backend.leftovers()
    if shape == "multipart":
        data, chunks = payload(MULTIPART_TOTAL, seed=3), MULTIPART_CHUNKS
    else:
        data, chunks = payload(100_000, seed=3), [10, 20_000]
    sizes: list[int] = []
    error = Refused("digest mismatch")

    def before_commit(size: int) -> None:
        sizes.append(size)
        raise error

    with pytest.raises(Refused) as caught:
        storage.write("blobs/sha256/de/deadbeef", pieces(data, chunks), before_commit)
    assert caught.value is error  # propagated as is, not wrapped
    assert sizes == [len(data)]
    assert not storage.exists("blobs/sha256/de/deadbeef")
    with pytest.raises(BlobNotFound):
        storage.read("blobs/sha256/de/deadbeef")
    with pytest.raises(BlobNotFound):
        storage.size("blobs/sha256/de/deadbeef")
    assert list(storage.list_prefix("")) == ["other/keep"]
    # nothing stored out of sight either: no temporary file, no unfinished multipart upload
    assert backend.leftovers() == before


@pytest.mark.parametrize("shape", ["single", "multipart"])
def test_failing_overwrite_keeps_the_old_object(backend: Backend, shape: str) -> None:
    storage = multipart_storage(backend) if shape == "multipart" else backend.make()
    old = payload(5000, seed=4)
    storage.write("k", [old])
    before = backend.leftovers()
    new = payload(MULTIPART_TOTAL if shape == "multipart" else 6000, seed=5)

    def refuse(size: int) -> None:
        raise Refused()

    with pytest.raises(Refused):
        storage.write("k", pieces(new, MULTIPART_CHUNKS), refuse)
    assert read_all(storage, "k") == old
    assert storage.size("k") == len(old)
    assert backend.leftovers() == before


def test_overwrite_replaces_whole_object_at_commit(storage: Storage) -> None:
    old, new = payload(CHUNK + 1, seed=6), payload(3000, seed=7)
    storage.write("k", pieces(old, [100]))
    during: list[bytes] = []

    def before_commit(size: int) -> None:
        # until the commit, readers see the old object, whole
        during.append(read_all(storage, "k"))

    assert storage.write("k", pieces(new, [1]), before_commit) == len(new)
    assert during == [old]
    assert read_all(storage, "k") == new
    assert storage.size("k") == len(new)
    assert list(storage.list_prefix("")) == ["k"]


# moto's in-process S3 is not thread-safe: concurrent PUTs to one key fail inside moto (a
# replaced key's buffer is closed under the other request). SeaweedFS covers S3 here.
@pytest.mark.parametrize("backend", [name for name in BACKENDS if name != "s3-moto"], indirect=True)
def test_concurrent_writers_never_interleave(backend: Backend) -> None:
    storage = backend.make()
    bodies = [payload(CHUNK + 4321, seed=10 + n) for n in range(3)]
    start = threading.Barrier(len(bodies))
    errors: list[BaseException] = []

    def writer(data: bytes) -> None:
        try:
            start.wait(10)
            storage.write("same", pieces(data, [4096] * 64))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    # one writer wins whole; never a mix of two bodies
    assert read_all(storage, "same") in bodies
    assert list(storage.list_prefix("")) == ["same"]


def test_multipart_sized_write(backend: Backend) -> None:
    storage = multipart_storage(backend)
    data = payload(MULTIPART_TOTAL, seed=8)
    sizes: list[int] = []
    written = storage.write("blobs/sha256/12/1234", pieces(data, MULTIPART_CHUNKS), sizes.append)
    assert written == len(data)
    assert sizes == [len(data)]
    assert storage.size("blobs/sha256/12/1234") == len(data)
    assert read_all(storage, "blobs/sha256/12/1234") == data
    # ranges across the 5 MiB part boundaries
    for offset, length in [(5 * MiB - 3, 7), (10 * MiB - 1, 2), (MULTIPART_TOTAL - 10, None)]:
        got = read_all(storage, "blobs/sha256/12/1234", offset, length)
        assert got == (data[offset:] if length is None else data[offset : offset + length])
    assert list(storage.list_prefix("")) == ["blobs/sha256/12/1234"]


@pytest.mark.parametrize("size", [MIN_PART_SIZE, 2 * MIN_PART_SIZE])
def test_write_of_exactly_whole_parts(backend: Backend, size: int) -> None:
    storage = multipart_storage(backend)
    data = payload(size, seed=9)
    sizes: list[int] = []
    assert storage.write("k", pieces(data, [MiB] * 20), sizes.append) == size
    assert sizes == [size]
    assert read_all(storage, "k") == data


def test_write_without_forcing_to_disk_is_still_atomic(storage: Storage) -> None:
    data = payload(CHUNK + 17, seed=50)
    seen: list[bool] = []
    written = storage.write(
        "uploads/d/00000000",
        pieces(data, [CHUNK]),
        lambda size: seen.append(storage.exists("uploads/d/00000000")),
        durable=False,
    )
    assert written == len(data) and seen == [False]
    assert read_all(storage, "uploads/d/00000000") == data

# --- compose --------------------------------------------------------------------------------

# On S3 the first shape is copied on the server (parts of at least 5 MiB but the last), the
# second streams through the hub (small parts); a single source is one CopyObject there.
COMPOSE_SHAPES = {
    "large parts": [MIN_PART_SIZE + 1, MIN_PART_SIZE, 777],
    "small parts": [10, 0, 20_000, 3],
    "one part": [MIN_PART_SIZE + 3],
    "empty": [0],
}


@pytest.mark.parametrize("shape", COMPOSE_SHAPES)
def test_compose_concatenates_in_order_and_keeps_the_sources(storage: Storage, shape: str) -> None:
    parts = [payload(size, seed=20 + n) for n, size in enumerate(COMPOSE_SHAPES[shape])]
    keys = [f"uploads/u/{n:08d}" for n in range(len(parts))]
    for key, part in zip(keys, parts, strict=True):
        storage.write(key, [part])
    seen: list[tuple[int, bool]] = []

    def before_commit(size: int) -> None:
        seen.append((size, storage.exists("blobs/sha256/ab/abc")))

    whole = b"".join(parts)
    assert storage.compose("blobs/sha256/ab/abc", keys, before_commit) == len(whole)
    assert seen == [(len(whole), False)]  # once, with the size, before the object was visible
    assert read_all(storage, "blobs/sha256/ab/abc") == whole
    assert storage.size("blobs/sha256/ab/abc") == len(whole)
    assert [read_all(storage, key) for key in keys] == parts


@pytest.mark.parametrize("shape", ["large parts", "small parts", "one part"])
def test_failing_compose_stores_nothing(backend: Backend, shape: str) -> None:
    storage = backend.make()
    keys = [f"uploads/v/{n:08d}" for n in range(len(COMPOSE_SHAPES[shape]))]
    for n, (key, size) in enumerate(zip(keys, COMPOSE_SHAPES[shape], strict=True)):
        storage.write(key, [payload(size, seed=30 + n)])
    before = backend.leftovers()

    def refuse(size: int) -> None:
        raise Refused()

    with pytest.raises(Refused):
        storage.compose("blobs/sha256/cd/cde", keys, refuse)
    assert not storage.exists("blobs/sha256/cd/cde")
    assert backend.leftovers() == before  # no temporary file, no unfinished multipart upload


def test_compose_with_a_missing_source_raises_blob_not_found(backend: Backend) -> None:
    storage = backend.make()
    storage.write("uploads/w/00000000", [payload(MIN_PART_SIZE, seed=40)])
    before = backend.leftovers()
    called: list[int] = []
    with pytest.raises(BlobNotFound):
        storage.compose(
            "blobs/sha256/ef/efg", ["uploads/w/00000000", "uploads/w/00000001"], called.append
        )
    assert called == [] and not storage.exists("blobs/sha256/ef/efg")
    assert backend.leftovers() == before


# --- redirects and health -----------------------------------------------------------------


def test_no_redirect_unless_asked(backend: Backend) -> None:
    storage = backend.make(redirect=False)
    storage.write("blobs/x", [b"streamed"])
    assert storage.redirect_url("blobs/x") is None


def test_redirect_url_serves_the_bytes(backend: Backend) -> None:
    storage = backend.make(redirect=True)
    data = payload(CHUNK + 5, seed=11)
    storage.write("blobs/sha256/aa/aabb", pieces(data, [CHUNK]))
    url = storage.redirect_url("blobs/sha256/aa/aabb", expires_in=60)
    if not backend.is_s3:
        assert url is None  # only S3 can hand out a URL; everything else streams
        return
    assert url is not None and url.startswith(("http://", "https://"))
    assert backend.fetch is not None
    assert backend.fetch(url) == data


def test_check_passes_on_a_usable_backend(storage: Storage) -> None:
    storage.check()
