"""Entry badges drawn from plain data: the QR code (PNG, SVG) and a printable A6 PDF.

Pure functions, no database and no settings: the signed token comes from
`registrations.badge_tokens.issue_badge_token`; this module only draws it. The QR holds the token
and nothing else (no personal data); the PDF shows the person's name in their own script
(Arabic shaped right to left, Chinese...) with fonts shipped as files by registry packages.
"""

from __future__ import annotations

import copy
import io
import logging
import os
import struct
import tempfile
import unicodedata
import warnings
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import zxingcpp
from PIL import Image

# Medium error correction survives a worn or badly printed badge. zxing-cpp (C++) encodes in
# a fraction of the time a pure-Python encoder takes, and picks the smallest version and the
# mode itself: an upper-case base45/base32 token goes in alphanumeric mode.
_ERROR_CORRECTION = "M"
# fontTools logs every subsetting step at INFO: noise in the worker's log, and slow.
logging.getLogger("fontTools").setLevel(logging.WARNING)
QUIET_ZONE = 4  # modules of white around the code, as the standard asks


class FontsMissing(RuntimeError):
    """The badge fonts are not installed (they come from PyPI packages in pyproject.toml)."""


class MissingGlyphs(ValueError):
    """Some characters have no glyph in the shipped fonts: the badge would print empty boxes."""

    def __init__(self, characters: list[str]):
        self.characters = characters
        super().__init__("no glyph for " + ", ".join(f"U+{ord(c):04X}" for c in characters))


def _qr_image(token: str) -> Image.Image:
    """One pixel per module, quiet zone included, 8-bit grey (0 dark, 255 light)."""
    if not token or len(token) > 512:
        raise ValueError("a badge token is 1 to 512 characters")
    code = zxingcpp.create_barcode(token, zxingcpp.BarcodeFormat.QRCode, ec_level=_ERROR_CORRECTION)
    modules = memoryview(code.to_image(scale=1, add_quiet_zones=False))
    height, width = modules.shape[:2]
    image = Image.new("L", (width + 2 * QUIET_ZONE, height + 2 * QUIET_ZONE), 255)
    image.paste(Image.frombuffer("L", (width, height), modules, "raw", "L", 0, 1), (QUIET_ZONE, QUIET_ZONE))
    return image


def qr_matrix(token: str) -> list[list[bool]]:
    """The QR modules for `token` (True = dark), quiet zone included."""
    image = _qr_image(token)
    size = image.width
    pixels = image.tobytes()
    return [[pixels[y * size + x] < 128 for x in range(size)] for y in range(size)]


def qr_png(token: str, *, box_size: int = 6) -> bytes:
    """A black-on-white 1-bit PNG of the QR code, `box_size` pixels per module."""
    if not 1 <= box_size <= 64:
        raise ValueError("box_size is 1 to 64 pixels per module")
    modules = _qr_image(token).convert("1")  # one pixel per module, quiet zone included
    rows = [row for row in _scaled_rows(modules, box_size) for _ in range(box_size)]
    return _png_1bit(modules.width * box_size, rows)


@lru_cache(maxsize=8)
def _spread_bits(scale: int) -> tuple[int, ...]:
    """For each byte, its 8 bits with each repeated `scale` times (an int of 8 × scale bits)."""
    ones = (1 << scale) - 1
    table = []
    for byte in range(256):
        value = 0
        for bit in range(7, -1, -1):
            value = (value << scale) | (ones if byte >> bit & 1 else 0)
        table.append(value)
    return tuple(table)


def _scaled_rows(modules: Image.Image, scale: int) -> list[bytes]:
    """The packed 1-bit rows of `modules` (mode "1") scaled `scale` times, one row per module
    row: a quarter of the time Pillow's resize and tobytes take for the same rows."""
    width, height = modules.size
    packed, stride = modules.tobytes(), (width + 7) // 8
    spread = _spread_bits(scale)
    row_bytes = (width * scale + 7) // 8
    # The spread row holds the padding of the module row too, `scale` times over: cut what
    # goes past the scaled row's last byte.
    extra = stride * 8 * scale - row_bytes * 8
    rows = []
    for y in range(height):
        value = 0
        for byte in packed[y * stride : (y + 1) * stride]:
            value = (value << (8 * scale)) | spread[byte]
        rows.append((value >> extra).to_bytes(row_bytes, "big"))
    return rows


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _png_1bit(width: int, rows: list[bytes]) -> bytes:
    """The smallest kind of PNG (PNG spec, ISO/IEC 15948): 1-bit greyscale, not interlaced,
    unfiltered, one IDAT. `rows` are packed as Pillow packs a mode "1" image (1 = white, most
    significant bit first), which is PNG's own packing. Pillow writes the same pixels, but its
    encoder sets up zlib's largest tables for every image, and every confirmation carries one."""
    # Each row starts with its filter type, 0 (none): a QR's long runs compress well without.
    scanlines = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, len(rows), 1, 0, 0, 0, 0)  # 1 bit, greyscale, deflate
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(scanlines, 1))
        + _png_chunk(b"IEND", b"")
    )


def qr_svg(token: str, *, module_px: int = 4) -> bytes:
    """The QR code as a small SVG: one path, one unit per module."""
    matrix = qr_matrix(token)
    size = len(matrix)
    parts = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                parts.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    pixels = size * module_px
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{pixels}" height="{pixels}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>\n'
    ).encode()


# --- The printable badge --------------------------------------------------------------------


@dataclass(frozen=True)
class BadgeData:
    token: str
    full_name: str
    organisation: str
    category_label: str
    category_colour: str  # "#RRGGBB"
    event_title: str
    date_text: str
    venue: str
    attendance_label: str = ""


@dataclass(frozen=True)
class _Font:
    family: str
    path: Path  # what HarfBuzz shapes with: the full font
    collection_index: int = 0
    embed_path: Path | None = None  # same glyphs without layout tables: what gets subset and embedded


@lru_cache(maxsize=1)
def badge_fonts() -> dict[str, _Font]:
    """Noto Sans (Latin, Cyrillic, Greek), Noto Sans Arabic and Noto Sans CJK SC, found inside
    their Python packages, so a fresh `make install` is all a machine needs."""
    try:
        import fontpkg_noto_sans
        import fontpkg_noto_sans_arabic
        import noto_cjk_sans_otc
    except ImportError as exc:
        raise FontsMissing(
            f"badge fonts are not installed ({exc.name}): run `make install` "
            "(packages fontpkg-noto-sans, fontpkg-noto-sans-arabic, noto-cjk-sans-otc)"
        ) from exc
    latin = fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"
    arabic = fontpkg_noto_sans_arabic.ROOT / "files" / "NotoSansArabic[wdth,wght].ttf"
    cjk = Path(str(noto_cjk_sans_otc.FONT_PATH))
    for path in (latin, arabic, cjk):
        if not path.is_file():
            raise FontsMissing(f"badge font file missing: {path}; reinstall the font packages")
    return {
        "latin": _Font("NotoSans", *_static_instance(latin)),
        "arabic": _Font("NotoSansArabic", *_static_instance(arabic)),
        # Names and dates in common characters use a 7,800-glyph cut of the font (a sixth of a
        # second less per badge); any other character brings in the whole face.
        "cjk": _Font("NotoSansSC", _cjk_common(cjk, _cjk_index(cjk))),
        "cjk_full": _Font("NotoSansSCFull", cjk, _cjk_index(cjk)),
    }


def _cjk_common_characters() -> list[int]:
    """The 7,445 characters of GB 2312 (the 6,763 common hanzi with punctuation, kana,
    Cyrillic, Greek...) plus Latin, general punctuation and full-width forms."""
    found = set(range(0x20, 0x250)) | set(range(0x2000, 0x2070)) | set(range(0x3000, 0x3040))
    found |= set(range(0xFF00, 0xFFF0))
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                found.add(ord(bytes([high, low]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return sorted(found)


def _cjk_common(path: Path, index: int) -> Path:
    """Noto Sans CJK SC cut down to the common characters, as a standalone font: fpdf2 then
    subsets 7,800 glyphs, not 65,000. Shaping and embedding both use it (CJK needs no
    contextual shaping), so its layout tables go too. Made once per machine (~5 s)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    stat = path.stat()
    target = _font_cache() / f"NotoSansSC-{stat.st_size}-{int(stat.st_mtime)}-{index}-common.otf"
    if target.is_file():
        return target
    font = TTFont(str(path), fontNumber=index)
    options = subset.Options()
    options.layout_features = []
    options.drop_tables += list(_LAYOUT_TABLES) + ["VORG", "vhea", "vmtx"]
    options.notdef_outline = True
    options.recommended_glyphs = True
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_cjk_common_characters())
    subsetter.subset(font)
    _save_atomically(font, target)
    return target


def _font_cache() -> Path:
    cache = Path(tempfile.gettempdir()) / f"convene-fonts-{os.getuid()}"
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    return cache


# Tables only text layout reads. HarfBuzz shapes with them; the embedded subset never has them
# (fpdf2 drops them), but fontTools still decodes them while subsetting: half a badge's time.
_LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH")


def _static_instance(path: Path) -> tuple[Path, int, Path]:
    """(shaping font, collection index, embedding font) for a variable font: its Regular
    instance, and the same without layout tables (same glyph order, so HarfBuzz's glyph ids
    fit both). Made once per machine in the temp dir from the packaged file, whose size and
    mtime are in the names (an upgraded package makes new ones); written atomically, since
    several workers may get here at once. Subsetting a static font, not a variable one, and
    skipping the layout tables make each badge about three times cheaper."""
    from fontTools.ttLib import TTFont
    from fontTools.varLib import instancer

    stat = path.stat()
    cache = _font_cache()
    stem = f"{path.stem.split('[')[0]}-{stat.st_size}-{int(stat.st_mtime)}-regular"
    shaping, embedding = cache / f"{stem}.ttf", cache / f"{stem}-embed.ttf"
    if shaping.is_file() and embedding.is_file():
        return shaping, 0, embedding
    font = TTFont(str(path))
    if "fvar" in font:
        axes = {axis.axisTag: axis.defaultValue for axis in font["fvar"].axes}
        axes.update({tag: value for tag, value in (("wght", 400), ("wdth", 100)) if tag in axes})
        instancer.instantiateVariableFont(font, axes, inplace=True, static=True)
    _save_atomically(font, shaping)
    for tag in _LAYOUT_TABLES:
        if tag in font:
            del font[tag]
    _save_atomically(font, embedding)
    return shaping, 0, embedding


def _save_atomically(font, target: Path) -> None:
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    font.save(str(partial))
    os.replace(partial, target)


def _cjk_index(path: Path) -> int:
    """The face of the collection drawn for Chinese: Noto Sans CJK SC (simplified)."""
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(path), lazy=True)
    try:
        for index, font in enumerate(collection.fonts):
            if "SC" in font["name"].getDebugName(1).split():
                return index
    finally:
        collection.close()
    return 0


def _scripts(text: str) -> set[str]:
    found = set()
    for char in text:
        code = ord(char)
        if 0x0600 <= code <= 0x08FF or 0xFB50 <= code <= 0xFEFF:
            found.add("arabic")
        elif (
            0x2E80 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF
        ) or 0x20000 <= code <= 0x3FFFF:
            found.add("cjk")
    return found


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    if len(value) != 6:
        return (80, 80, 80)
    return tuple(int(value[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def badge_pdf(data: BadgeData) -> bytes:
    """An A6 portrait badge: category band, event title, name, organisation, QR, date, venue.

    Raises MissingGlyphs when a character of the text has no glyph in the shipped fonts, rather
    than printing an empty box on someone's badge."""
    from fpdf import FPDF

    fonts = badge_fonts()
    texts = [
        data.full_name,
        data.organisation,
        data.category_label,
        data.event_title,
        data.date_text,
        data.venue,
        data.attendance_label,
    ]
    texts = [unicodedata.normalize("NFC", t or "") for t in texts]
    needed = set().union(*(_scripts(t) for t in texts))

    pdf = FPDF(orientation="P", unit="mm", format=(105, 148))  # A6
    pdf.set_auto_page_break(False)
    pdf.set_margins(8, 8, 8)
    pdf.set_creator("Convene")
    pdf.set_title(f"Badge: {texts[0]}")
    # Fonts a badge does not use are not even opened: the CJK collection is 19 MB.
    cjk_key = "cjk"
    if "cjk" in needed:
        common = _font_prototype(fonts["cjk"]).cmap
        if any(ord(c) not in common for t in texts for c in t if _scripts(c)):
            cjk_key = "cjk_full"
    used = ["latin", *(key for key in ("arabic", cjk_key) if key.split("_")[0] in needed)]
    for key in used:
        _add_font(pdf, fonts[key])
    families = [fonts[key].family for key in used]
    _check_glyphs(texts, [pdf.fonts[family.lower()].cmap for family in families])
    pdf.set_text_shaping(True)
    pdf.set_fallback_fonts(families[1:] or [], exact_match=False)

    def font_for(text: str) -> str:
        scripts = _scripts(text)
        if "arabic" in scripts:
            return fonts["arabic"].family
        if "cjk" in scripts:
            return fonts[cjk_key].family
        return fonts["latin"].family

    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    # Category band across the top, its label in white.
    red, green, blue = _hex_rgb(data.category_colour)
    pdf.set_fill_color(red, green, blue)
    pdf.rect(0, 0, pdf.w, 16, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(pdf.l_margin, 4)
    label = texts[2].upper() if texts[2].isascii() else texts[2]
    _cell(pdf, font_for(label), 12, label, width, align="C", height=8)

    pdf.set_text_color(60, 60, 60)
    pdf.set_xy(pdf.l_margin, 20)
    _cell(pdf, font_for(texts[3]), 9, texts[3], width, align="C", height=4.5, multi=True)

    pdf.set_text_color(0, 0, 0)
    pdf.set_y(max(pdf.get_y() + 4, 34))
    name_size = 22 if len(texts[0]) <= 22 else 16
    _cell(pdf, font_for(texts[0]), name_size, texts[0], width, align="C", height=name_size * 0.45, multi=True)
    if texts[1]:
        pdf.set_y(pdf.get_y() + 1)
        pdf.set_text_color(60, 60, 60)
        _cell(pdf, font_for(texts[1]), 11, texts[1], width, align="C", height=5, multi=True)

    # The QR, 46 mm square, above the footer.
    qr_size = 46
    qr_top = pdf.h - 8 - 22 - qr_size
    png = qr_png(data.token, box_size=8)
    pdf.image(io.BytesIO(png), x=(pdf.w - qr_size) / 2, y=qr_top, w=qr_size, h=qr_size)

    pdf.set_text_color(40, 40, 40)
    pdf.set_xy(pdf.l_margin, pdf.h - 8 - 20)
    footer = [t for t in (texts[6], texts[4], texts[5]) if t]
    for line in footer:
        _cell(pdf, font_for(line), 8.5, line, width, align="C", height=4.2, multi=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fpdf2 notes about font subsetting, not about content
        return bytes(pdf.output())


@lru_cache(maxsize=8)
def _font_prototype(font: _Font):
    """fpdf2 reads a font's cmap and every glyph width when it is added (~40 ms for Noto Sans,
    far more for the CJK collection). That part never changes: read it once per process."""
    from fpdf import FPDF

    scratch = FPDF()
    scratch.add_font(font.family, "", str(font.path), collection_font_number=font.collection_index)
    prototype = scratch.fonts[font.family.lower()]
    prototype.hbfont  # noqa: B018 - load the HarfBuzz face now; it is only ever read
    return prototype


def _add_font(pdf, font: _Font) -> None:
    """`pdf.add_font`, from the per-process prototype. What a document changes (the subset of
    glyphs it uses; the fontTools object that subsetting prunes in place) is made afresh."""
    from fontTools.ttLib import TTFont
    from fpdf.fonts import SubsetMap

    clone = copy.copy(_font_prototype(font))
    clone.i = len(pdf.fonts) + 1
    clone.ttfont = TTFont(
        str(font.embed_path or font.path), recalcTimestamp=False, fontNumber=font.collection_index, lazy=True
    )
    clone.missing_glyphs = []
    clone.biggest_size_pt = 0
    clone.subset = SubsetMap(clone)
    pdf.fonts[font.family.lower()] = clone
    if clone.is_cff and clone.is_cid_keyed:
        pdf._set_min_pdf_version("1.6")  # as add_font does for CID-keyed CFF fonts


def _check_glyphs(texts: list[str], cmaps: list) -> None:
    # HarfBuzz draws a missing character as .notdef without telling anyone: check first.
    missing = []
    for char in dict.fromkeys("".join(texts)):
        if char.isspace() or unicodedata.category(char) in {"Cf", "Cc", "Mn"}:
            continue
        if not any(ord(char) in cmap for cmap in cmaps):
            missing.append(char)
    if missing:
        raise MissingGlyphs(missing)


def _cell(pdf, family: str, size: float, text: str, width: float, *, align: str, height: float, multi=False):
    pdf.set_font(family, size=size)
    if multi:
        pdf.multi_cell(width, height, text, align=align, new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.cell(width, height, text, align=align, new_x="LMARGIN", new_y="NEXT")
