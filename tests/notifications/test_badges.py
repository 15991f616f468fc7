"""Badges: the QR decodes to a token that verifies, read by zxing-cpp and by jsQR (the scanner
page's decoder, from another project, so an encoder bug zxing-cpp happened to forgive in its own
output would still show); the printed PDF carries the person's name in their own script with
every glyph."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from notifications.badges import BadgeData, MissingGlyphs, badge_pdf, qr_matrix, qr_png, qr_svg
from registrations.badge_tokens import InvalidBadgeToken, issue_badge_token, verify_badge_token

EVENT_TITLE = "A Better Tomorrow with South-South Cooperation"
JSQR = Path(__file__).resolve().parents[2] / "node_modules" / "jsqr" / "dist" / "jsQR.js"
# Reads {"width", "height", "rgba": base64} on stdin, prints the decoded text (or null) as JSON.
_JSQR_SCRIPT = """
const jsQR = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { width, height, rgba } = JSON.parse(input);
  const found = jsQR(new Uint8ClampedArray(Buffer.from(rgba, "base64")), width, height);
  process.stdout.write(JSON.stringify(found ? found.data : null));
});
"""


def decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def badge(name: str, organisation: str = "", **kwargs) -> BadgeData:
    defaults = dict(
        token=issue_badge_token(event_id=7, registration_id=1234, counter=1),
        full_name=name,
        organisation=organisation,
        category_label="Member State",
        category_colour="#1F5FA8",
        event_title=EVENT_TITLE,
        date_text="Thursday 12 September, 10:00–13:00 New York (EDT)",
        venue="United Nations Headquarters, New York",
        attendance_label="In person",
    )
    return BadgeData(**{**defaults, **kwargs})


def render_pdf(data: bytes) -> tuple[str, Image.Image, pypdfium2.PdfPage]:
    document = pypdfium2.PdfDocument(data)
    assert len(document) == 1
    page = document[0]
    text = page.get_textpage().get_text_range()
    return text, page.render(scale=3).to_pil(), page


def test_qr_png_decodes_to_a_token_that_verifies():
    token = issue_badge_token(event_id=7, registration_id=1234, counter=3)

    png = qr_png(token)

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert decode(image) == [token]
    payload = verify_badge_token(decode(image)[0])
    assert (payload.event_id, payload.registration_id, payload.counter) == (7, 1234, 3)


def decode_with_jsqr(image: Image.Image) -> str | None:
    node = shutil.which("node")
    if node is None or not JSQR.exists():
        pytest.skip("needs Node.js and jsQR (`make jsdeps`; `make test` installs it)")
    rgba = image.convert("RGBA")
    request = {"width": rgba.width, "height": rgba.height, "rgba": base64.b64encode(rgba.tobytes()).decode()}
    result = subprocess.run(
        [node, "-e", _JSQR_SCRIPT, str(JSQR)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("registration_id", [1, 1234, 2**31 - 1])
def test_qr_png_decodes_with_a_second_independent_decoder(registration_id):
    token = issue_badge_token(event_id=7, registration_id=registration_id, counter=2)

    decoded = decode_with_jsqr(Image.open(io.BytesIO(qr_png(token))))

    assert decoded == token
    assert verify_badge_token(decoded).registration_id == registration_id


def test_qr_png_size_follows_box_size_and_quiet_zone():
    token = issue_badge_token(event_id=1, registration_id=1, counter=1)
    modules = len(qr_matrix(token))

    image = Image.open(io.BytesIO(qr_png(token, box_size=5)))

    assert image.size == (modules * 5, modules * 5)
    # The quiet zone: the outer four modules are white all round.
    assert image.getpixel((0, 0)) == 255 and image.getpixel((4 * 5 - 1, 4 * 5 - 1)) == 255
    # Base45 fits QR alphanumeric mode: a ~105 character token needs no more than version 6.
    assert modules <= 41 + 2 * 4


@pytest.mark.parametrize("box_size", [1, 3, 6, 8])
def test_qr_png_has_the_pixels_pillow_would_write_and_a_valid_structure(box_size):
    from notifications.badges import _qr_image

    token = issue_badge_token(event_id=3, registration_id=12345, counter=2)
    png = qr_png(token, box_size=box_size)
    image = _qr_image(token).convert("1")
    image = image.resize((image.width * box_size, image.height * box_size), Image.Resampling.NEAREST)
    stock = io.BytesIO()
    image.save(stock, format="PNG")

    # Pillow checks every chunk's CRC while it reads, and the zlib stream to its end.
    ours = Image.open(io.BytesIO(png))
    ours.load()
    assert (ours.format, ours.mode, ours.size) == ("PNG", "1", image.size)
    assert ours.tobytes() == Image.open(stock).tobytes()
    assert ours.info.get("interlace", 0) == 0


def test_a_damaged_qr_png_is_refused_by_the_reader():
    png = bytearray(qr_png(issue_badge_token(event_id=3, registration_id=1, counter=1)))
    png[-20] ^= 0xFF  # inside the IDAT chunk: its CRC no longer matches

    with pytest.raises((SyntaxError, OSError)):
        Image.open(io.BytesIO(bytes(png))).load()


def test_qr_png_holds_no_personal_data():
    token = issue_badge_token(event_id=7, registration_id=99, counter=1)

    (text,) = decode(Image.open(io.BytesIO(qr_png(token))))

    assert text == token
    assert "@" not in text and "example" not in text.lower()


def test_tampered_token_in_qr_does_not_verify():
    token = issue_badge_token(event_id=7, registration_id=1234, counter=1)
    tampered = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")

    (text,) = decode(Image.open(io.BytesIO(qr_png(tampered))))

    with pytest.raises(InvalidBadgeToken):
        verify_badge_token(text)


def test_qr_svg_is_valid_svg_that_decodes():
    token = issue_badge_token(event_id=2, registration_id=5, counter=1)

    svg = qr_svg(token)

    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # Rasterise the path by hand (no SVG renderer installed): each "M x y h w v1 h-w z" is a run.
    import re

    size = len(qr_matrix(token))
    path = root.find("{http://www.w3.org/2000/svg}path").get("d")
    image = Image.new("L", (size, size), 255)
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)", path):
        for dx in range(int(width)):
            image.putpixel((int(x) + dx, int(y)), 0)
    assert decode(image.resize((size * 6, size * 6), Image.Resampling.NEAREST)) == [token]


def test_qr_rejects_empty_token():
    with pytest.raises(ValueError):
        qr_png("")


@pytest.mark.parametrize(
    ("name", "organisation"),
    [
        ("Amina Diallo", "Ministère du Plan et de la Coopération"),
        ("Анна Петрова", "Министерство иностранных дел"),
        ("王小明", "中国国际发展合作署"),
        ("José Ñúñez-García", "Agencia Española de Cooperación"),
    ],
)
def test_badge_pdf_has_name_organisation_and_readable_qr(name, organisation):
    data = badge(name, organisation)

    pdf = badge_pdf(data)

    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    text, image, page = render_pdf(pdf)
    assert name in text
    assert organisation in text
    assert EVENT_TITLE in text
    assert "United Nations Headquarters, New York" in text
    # A6 portrait: 105 × 148 mm in points.
    width, height = page.get_size()
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (105, 148)
    # The printed QR, read back from the rendered page, is the signed token.
    assert decode(image) == [data.token]
    verify_badge_token(data.token)


def test_badge_pdf_arabic_name_is_shaped_right_to_left():
    data = badge("فاطمة الزهراء", "وزارة التخطيط")

    pdf = badge_pdf(data)

    _text, image, _page = render_pdf(pdf)
    assert decode(image) == [data.token]
    # The Arabic font is embedded (a subset of Noto Sans Arabic), and HarfBuzz chose the
    # contextual forms: the glyphs drawn are not the isolated forms of the code points.
    assert b"NotoSansArabic" in pdf
    import uharfbuzz as hb

    from notifications.badges import badge_fonts

    font_file = badge_fonts()["arabic"].path.read_bytes()
    face = hb.Face(font_file)
    font = hb.Font(face)
    buffer = hb.Buffer()
    buffer.add_str("فاطمة")
    buffer.guess_segment_properties()
    hb.shape(font, buffer, {})
    shaped = [info.codepoint for info in buffer.glyph_infos]
    isolated = [font.get_nominal_glyph(ord(c)) for c in "فاطمة"]
    assert buffer.direction == "rtl"
    assert shaped != isolated[::-1]  # joined forms, not the nominal (isolated) glyphs


def test_badge_pdf_embeds_the_fonts_it_uses_and_only_those():
    latin = badge_pdf(badge("Amina Diallo"))
    chinese = badge_pdf(badge("王小明"))

    assert b"NotoSans" in latin and b"NotoSansCJK" not in latin and b"NotoSansArabic" not in latin
    assert b"FontFile" in latin  # embedded, not referenced
    assert b"NotoSansCJK" in chinese


def test_badge_pdf_refuses_characters_it_cannot_draw():
    with pytest.raises(MissingGlyphs) as raised:
        badge_pdf(badge("Ada \U0001f600 \u16a0"))

    assert raised.value.characters == ["\U0001f600", "\u16a0"]


def test_badge_pdf_category_band_uses_the_category_colour():
    _text, image, _page = render_pdf(badge_pdf(badge("Amina Diallo", category_colour="#C0392B")))

    red, green, blue = image.convert("RGB").getpixel((10, 10))
    assert max(abs(red - 0xC0), abs(green - 0x39), abs(blue - 0x2B)) <= 2


def test_static_font_instance_is_made_on_a_fresh_machine(tmp_path, monkeypatch):
    import tempfile

    from fontTools.ttLib import TTFont

    from notifications import badges

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    source = badges.badge_fonts()["latin"].path
    import fontpkg_noto_sans

    variable = fontpkg_noto_sans.ROOT / "files" / "NotoSans[wdth,wght].ttf"

    made, _index, embedded = badges._static_instance(variable)

    assert made.parent.parent == tmp_path and made.is_file() and embedded.is_file()
    assert "fvar" not in TTFont(str(made)) and "fvar" in TTFont(str(variable))
    # Shaping keeps the layout tables; the embedded copy has the same glyphs without them.
    assert "GPOS" in TTFont(str(made)) and "GPOS" not in TTFont(str(embedded))
    assert TTFont(str(made)).getGlyphOrder() == TTFont(str(embedded)).getGlyphOrder()
    assert badges._static_instance(variable) == (made, 0, embedded)  # made once, then reused
    assert source.name == made.name


def test_missing_font_package_gives_a_clear_error(monkeypatch):
    import sys

    from notifications import badges

    badges.badge_fonts.cache_clear()
    monkeypatch.setitem(sys.modules, "noto_cjk_sans_otc", None)  # as if not installed
    try:
        with pytest.raises(badges.FontsMissing, match="make install"):
            badges.badge_fonts()
    finally:
        monkeypatch.undo()
        badges.badge_fonts.cache_clear()


def test_badge_pdf_chinese_name_beyond_the_common_set_uses_the_whole_font():
    # 堃 (U+5803) is a name character outside GB 2312, so outside the common cut of the font.
    data = badge("王堃", "中国国际发展合作署")

    pdf = badge_pdf(data)

    text, image, _page = render_pdf(pdf)
    assert "王堃" in text
    assert decode(image) == [data.token]
