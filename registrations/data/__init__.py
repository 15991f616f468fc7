"""Country groups for the participation summary, read from the data files next to this module
(sources named in README.md and in each file's header)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class M49Area:
    region_code: str
    region: str
    subregion_code: str
    subregion: str
    intermediate_region_code: str
    intermediate_region: str


def _data_lines(name: str) -> list[str]:
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def m49_areas() -> dict[str, M49Area]:
    reader = csv.DictReader(_data_lines("m49_regions.csv"))
    return {
        row["iso_alpha2"]: M49Area(
            region_code=row["region_code"],
            region=row["region"],
            subregion_code=row["subregion_code"],
            subregion=row["subregion"],
            intermediate_region_code=row["intermediate_region_code"],
            intermediate_region=row["intermediate_region"],
        )
        for row in reader
    }


def _code_list(name: str) -> frozenset[str]:
    return frozenset(line.split(maxsplit=1)[0] for line in _data_lines(name))


@lru_cache(maxsize=1)
def ldc() -> frozenset[str]:
    return _code_list("ldc.txt")


@lru_cache(maxsize=1)
def lldc() -> frozenset[str]:
    return _code_list("lldc.txt")


@lru_cache(maxsize=1)
def sids() -> frozenset[str]:
    return _code_list("sids.txt")
