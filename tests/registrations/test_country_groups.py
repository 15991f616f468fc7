"""The country-group data shipped in registrations/data: complete, consistent, sourced."""

from __future__ import annotations

import pycountry

from registrations import data

ISO_CODES = {country.alpha_2 for country in pycountry.countries}


def test_every_iso_country_has_an_m49_region_except_antarctica_and_taiwan():
    areas = data.m49_areas()

    assert set(areas) <= ISO_CODES
    assert ISO_CODES - set(areas) == {"AQ", "TW"}
    assert {a.region for a in areas.values()} == {"Africa", "Americas", "Asia", "Europe", "Oceania"}
    assert areas["SN"].intermediate_region == "Western Africa"
    assert areas["BR"].subregion == "Latin America and the Caribbean"
    assert areas["JE"].intermediate_region == "Channel Islands"


def test_group_lists_hold_valid_codes_and_the_expected_sizes():
    assert data.ldc() <= ISO_CODES
    assert data.lldc() <= ISO_CODES
    assert data.sids() <= ISO_CODES
    assert (len(data.ldc()), len(data.lldc())) == (44, 32)
    assert len(data.sids()) == 58  # 38 UN Member States + 20 associate members
    # Countries in two groups: landlocked LDCs, island LDCs.
    assert {"NP", "ML", "ET"} <= data.ldc() & data.lldc()
    assert {"HT", "KI", "TV", "SB", "TL", "KM", "GW"} <= data.ldc() & data.sids()
    assert "BT" not in data.ldc()  # graduated in December 2023


def test_every_data_file_names_its_source():
    for name in ("m49_regions.csv", "ldc.txt", "lldc.txt", "sids.txt"):
        header = (data.DATA_DIR / name).read_text(encoding="utf-8").splitlines()[:4]
        assert any("Source:" in line for line in header), name
        assert any("un.org" in line for line in header), name
