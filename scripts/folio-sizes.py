#!/usr/bin/env python3
"""How the page cache holds files: the sizes of the folios (the kernel's cache units) over each
file's cached pages, and how many of those pages are dirty. Needs root (/proc/kpageflags, and
the frame numbers in /proc/self/pagemap). Reads the cache's state only: the file is mapped and
only pages `mincore` reports cached are touched, so nothing is read from the disk.

    sudo scripts/folio-sizes.py DATA_DIR/log/state/data.mdb DATA_DIR/projection.g000002.sqlite

Used for "Large folios at a million keys" in docs/performance.md.
"""
import collections
import ctypes
import mmap
import os
import struct
import sys

PAGE = mmap.PAGESIZE
KPF_DIRTY, KPF_COMPOUND_HEAD, KPF_COMPOUND_TAIL = 4, 15, 16
libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


def folio_sizes(path):
    """Returns (pages in the file, cached pages, dirty pages, Counter of folio size in pages)."""
    size = os.path.getsize(path)
    pages = (size + PAGE - 1) // PAGE
    if size == 0:
        return 0, 0, 0, collections.Counter()
    fd = os.open(path, os.O_RDONLY)
    base = None
    try:
        base = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if base in (None, ctypes.c_void_p(-1).value):
            base = None
            raise OSError(ctypes.get_errno(), "mmap " + path)
        vector = ctypes.create_string_buffer(pages)
        if libc.mincore(ctypes.c_void_p(base), size, vector) != 0:
            raise OSError(ctypes.get_errno(), "mincore " + path)
        cached = [i for i in range(pages) if vector.raw[i] & 1]
        memory = (ctypes.c_char * size).from_address(base)
        for i in cached:  # map each cached page (a minor fault) so pagemap knows its frame
            memory[i * PAGE]
        sizes, dirty, run = collections.Counter(), 0, 0
        with open("/proc/self/pagemap", "rb", buffering=0) as pagemap, open("/proc/kpageflags", "rb", buffering=0) as kpageflags:
            for i in cached:
                pagemap.seek((base // PAGE + i) * 8)
                entry = struct.unpack("<Q", pagemap.read(8))[0]
                if not entry >> 63:  # not present after all
                    continue
                kpageflags.seek((entry & ((1 << 55) - 1)) * 8)
                flags = struct.unpack("<Q", kpageflags.read(8))[0]
                dirty += (flags >> KPF_DIRTY) & 1
                if (flags >> KPF_COMPOUND_TAIL) & 1 and run:
                    run += 1
                    continue
                if run:
                    sizes[run] += 1
                run = 1
            if run:
                sizes[run] += 1
        return pages, len(cached), dirty, sizes
    finally:
        if base:
            libc.munmap(ctypes.c_void_p(base), size)
        os.close(fd)


def main(paths):
    if not paths:
        print(__doc__.strip())
        return 2
    for path in paths:
        pages, cached, dirty, sizes = folio_sizes(path)
        print(f"{path}: {pages} pages, {cached} cached, {dirty} dirty")
        total = sum(size * count for size, count in sizes.items()) or 1
        for size in sorted(sizes):
            print(f"  {size * PAGE // 1024:>6} KiB folios: {sizes[size]:>8} ({100.0 * size * sizes[size] / total:5.1f} % of the cached pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
