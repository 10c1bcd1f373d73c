"""A minimal writer of bbolt (etcd-io/bbolt, ex-BoltDB) database files, in pure Python.

Enough to build a Trivy vulnerability DB for tests without a Go toolchain. It writes a fresh file
in one go, the way bbolt itself lays out a database:

    page 0, 1   meta pages (magic 0xED0CDAED, version 2, page size, root bucket, freelist page,
                high-water page id, txid, FNV-1a 64 checksum of the meta fields before it)
    page 2      an empty freelist page
    page 3..    one leaf page per bucket (with overflow pages when its entries exceed a page)

Every bucket, however small, gets its own leaf page (a "non-inline" bucket): that is always valid
to read, while bbolt's inline buckets have size and nesting rules. Keys in a page are sorted
bytewise, as bbolt's cursor binary search needs. All integers are little-endian (the layout bbolt
uses on amd64 and arm64).

    write_bbolt(path, {b"bucket": {b"key": b"value", b"nested": {b"k": b"v"}}})

A value is `bytes` (a key/value pair) or a `dict` (a nested bucket); `str` keys and values are
encoded as UTF-8. The top level may only hold buckets, as in bbolt.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Union

PAGE_SIZE = 4096
MAGIC = 0xED0CDAED
VERSION = 2

BRANCH_PAGE = 0x01
LEAF_PAGE = 0x02
META_PAGE = 0x04
FREELIST_PAGE = 0x10
BUCKET_LEAF_FLAG = 0x01

PAGE_HEADER = struct.Struct("<QHHI")  # id, flags, count, overflow
LEAF_ELEMENT = struct.Struct("<IIII")  # flags, pos (from the element itself), ksize, vsize
BUCKET_HEADER = struct.Struct("<QQ")  # root page id, sequence
META_FIELDS = struct.Struct("<IIII QQ QQQ")  # magic .. txid (the bytes the checksum covers)

Tree = Mapping[Union[bytes, str], Union[bytes, str, "Tree"]]  # noqa: UP007 (recursive alias)


def _b(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class _Writer:
    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self.pages: dict[int, bytes] = {}  # first page id -> bytes (a multiple of the page size)
        self.next_id = 3  # 0, 1: meta; 2: freelist

    def _alloc(self, data: bytearray, flags: int, count: int) -> int:
        npages = max(1, -(-len(data) // self.page_size))
        pgid = self.next_id
        self.next_id += npages
        PAGE_HEADER.pack_into(data, 0, pgid, flags, count, npages - 1)
        data.extend(b"\0" * (npages * self.page_size - len(data)))
        self.pages[pgid] = bytes(data)
        return pgid

    def bucket(self, tree: Tree) -> int:
        """Write a bucket's leaf page (nested buckets first); return its page id."""
        items: list[tuple[bytes, int, bytes]] = []  # key, flags, value
        for key, value in tree.items():
            k = _b(key)
            if not k:
                raise ValueError("bbolt keys must not be empty")
            if isinstance(value, Mapping):
                items.append((k, BUCKET_LEAF_FLAG, BUCKET_HEADER.pack(self.bucket(value), 0)))
            else:
                items.append((k, 0, _b(value)))
        items.sort(key=lambda item: item[0])
        if len({k for k, _, _ in items}) != len(items):
            raise ValueError("duplicate key in a bucket")

        count = len(items)
        if count > 0xFFFF:
            raise ValueError("too many keys in one bucket for this writer")
        header = PAGE_HEADER.size
        data = bytearray(header + LEAF_ELEMENT.size * count)
        for i, (k, flags, v) in enumerate(items):
            elem = header + LEAF_ELEMENT.size * i
            LEAF_ELEMENT.pack_into(data, elem, flags, len(data) - elem, len(k), len(v))
            data += k + v
        return self._alloc(data, LEAF_PAGE, count)

    def meta(self, pgid: int, root: int, high_water: int, txid: int) -> bytes:
        fields = META_FIELDS.pack(MAGIC, VERSION, self.page_size, 0, root, 0, 2, high_water, txid)
        page = bytearray(self.page_size)
        PAGE_HEADER.pack_into(page, 0, pgid, META_PAGE, 0, 0)
        body = fields + struct.pack("<Q", _fnv1a64(fields))
        page[PAGE_HEADER.size : PAGE_HEADER.size + len(body)] = body
        return bytes(page)


def encode_bbolt(tree: Tree, *, page_size: int = PAGE_SIZE) -> bytes:
    """The bytes of a bbolt database holding `tree` (top level: bucket name -> bucket)."""
    for name, value in tree.items():
        if not isinstance(value, Mapping):
            raise TypeError(f"top-level entry {name!r} must be a bucket (a mapping)")
    w = _Writer(page_size)
    root = w.bucket(tree)
    high_water = w.next_id
    freelist = bytearray(page_size)
    PAGE_HEADER.pack_into(freelist, 0, 2, FREELIST_PAGE, 0, 0)
    out = bytearray()
    out += w.meta(0, root, high_water, txid=0)
    out += w.meta(1, root, high_water, txid=1)
    out += freelist
    for pgid in sorted(w.pages):
        assert len(out) == pgid * page_size
        out += w.pages[pgid]
    assert len(out) == high_water * page_size
    return bytes(out)


def write_bbolt(path: str | os.PathLike[str], tree: Tree, *, page_size: int = PAGE_SIZE) -> Path:
    """Write `tree` as a bbolt database file at `path` (replacing it atomically)."""
    path = Path(path)
    data = encode_bbolt(tree, page_size=page_size)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def read_bbolt(path: str | os.PathLike[str]) -> dict[bytes, object]:
    """Read a bbolt file back into nested dicts (leaf and branch pages, inline buckets).

    For checking what `write_bbolt` wrote (and for peeking into small real DBs); not a validator.
    """
    data = Path(path).read_bytes()

    def meta(pgid: int, page_size: int) -> tuple[int, int] | None:
        off = pgid * page_size + PAGE_HEADER.size
        fields = data[off : off + META_FIELDS.size]
        (checksum,) = struct.unpack_from("<Q", data, off + META_FIELDS.size)
        magic, version, _psize, _, root, _, _, _, txid = META_FIELDS.unpack(fields)
        if magic != MAGIC or version != VERSION or checksum != _fnv1a64(fields):
            return None
        return txid, root

    (page_size,) = struct.unpack_from("<I", data, PAGE_HEADER.size + 8)
    metas = [m for m in (meta(0, page_size), meta(1, page_size)) if m]
    if not metas:
        raise ValueError("no valid bbolt meta page")
    _, root = max(metas)

    def page_entries(buf: bytes, base: int):
        _, flags, count, _ = PAGE_HEADER.unpack_from(buf, base)
        for i in range(count):
            elem = base + PAGE_HEADER.size + LEAF_ELEMENT.size * i
            if flags & BRANCH_PAGE:
                pos, ksize, child = struct.unpack_from("<IIQ", buf, elem)
                yield from page_entries(data, child * page_size)
            elif flags & LEAF_PAGE:
                eflags, pos, ksize, vsize = LEAF_ELEMENT.unpack_from(buf, elem)
                k = buf[elem + pos : elem + pos + ksize]
                v = buf[elem + pos + ksize : elem + pos + ksize + vsize]
                yield k, eflags, v
            else:
                raise ValueError(f"unexpected page flags {flags:#x}")

    def bucket(buf: bytes, base: int) -> dict[bytes, object]:
        out: dict[bytes, object] = {}
        for k, eflags, v in page_entries(buf, base):
            if eflags & BUCKET_LEAF_FLAG:
                sub_root, _ = BUCKET_HEADER.unpack_from(v, 0)
                if sub_root == 0:  # inline bucket: its page follows the header
                    out[k] = bucket(v, BUCKET_HEADER.size)
                else:
                    out[k] = bucket(data, sub_root * page_size)
            else:
                out[k] = v
        return out

    return bucket(data, root * page_size)
