"""The dynamic dependencies of an ELF file (DT_NEEDED, DT_SONAME), read from its program headers: readelf -d."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_SONAME = 0, 1, 5, 14


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(4) == b"\x7fELF"
    except OSError:
        return False


def _read(file: BinaryIO, offset: int, size: int) -> bytes:
    file.seek(offset)
    data = file.read(size)
    assert len(data) == size, f"{file.name}: truncated ELF"
    return data


def dynamic(path: Path) -> tuple[list[str], str | None]:
    """(NEEDED libraries, SONAME) of a 64-bit little-endian ELF; ([], None) for a static one."""
    with path.open("rb") as file:
        ident = _read(file, 0, 16)
        assert ident[4] == 2 and ident[5] == 1, f"{path}: not ELF64 little-endian"
        (phoff,) = struct.unpack_from("<Q", _read(file, 0x20, 8))
        phentsize, phnum = struct.unpack_from("<HH", _read(file, 0x36, 4))
        loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
        dyn: tuple[int, int] | None = None
        for index in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
                "<IIQQQQ", _read(file, phoff + index * phentsize, 40)
            )
            if p_type == PT_LOAD:
                loads.append((p_vaddr, p_offset, p_filesz))
            elif p_type == PT_DYNAMIC:
                dyn = (p_offset, p_filesz)
        if dyn is None:
            return [], None
        entries = _read(file, dyn[0], dyn[1])
        tags: list[tuple[int, int]] = []
        for offset in range(0, len(entries) - 15, 16):
            tag, value = struct.unpack_from("<qQ", entries, offset)
            if tag == DT_NULL:
                break
            tags.append((tag, value))
        strtab_vaddr = next(value for tag, value in tags if tag == DT_STRTAB)
        strtab = next(off + strtab_vaddr - va for va, off, size in loads if va <= strtab_vaddr < va + size)

        def string(at: int) -> str:
            file.seek(strtab + at)
            raw = b""
            while not raw.endswith(b"\0"):
                chunk = file.read(256)
                assert chunk, f"{path}: unterminated string"
                raw += chunk
                if b"\0" in chunk:
                    break
            return raw.split(b"\0", 1)[0].decode()

        needed = [string(value) for tag, value in tags if tag == DT_NEEDED]
        sonames = [string(value) for tag, value in tags if tag == DT_SONAME]
        return needed, (sonames[0] if sonames else None)
