"""badge: QR badges rendered per second in one process (PNG, SVG, PDF) by the pure builders of
notifications/badges.py, each from a distinct, really signed token."""

from __future__ import annotations

import time

from bench.scenarios import Context, Skip

NAME = "badge"
TARGET_PNG = 200.0
NAMES = ["Amina Diallo", "أمينة ديالو", "李明", "Иван Петров", "José Ramírez", "Nguyễn Thị Lan"]


def _rate(render, items: list, budget_s: float) -> tuple[float, int, int]:
    render(items[0])  # warm caches (fonts, QR tables) outside the measurement
    count = 0
    size = 0
    started = time.perf_counter()
    for item in items:
        size += len(render(item))
        count += 1
        if time.perf_counter() - started > budget_s:
            break
    elapsed = time.perf_counter() - started
    return count / elapsed, count, size // max(count, 1)


def run(ctx: Context) -> dict:
    try:
        from notifications import badges
        from registrations.badge_tokens import issue_badge_token
    except ImportError as exc:
        raise Skip(f"no badge builders yet ({exc})")
    for name in ("qr_png", "qr_svg", "badge_pdf", "BadgeData"):
        if not hasattr(badges, name):
            raise Skip(f"notifications.badges has no {name}")

    n = ctx.scale(1000, 100)
    tokens = [issue_badge_token(event_id=7, registration_id=10_000 + i, counter=1) for i in range(n)]
    datas = [
        badges.BadgeData(
            token=token,
            full_name=NAMES[i % len(NAMES)],
            organisation="Ministry of Planning",
            category_label="Member State",
            category_colour="#1F77B4",
            event_title="A Better Tomorrow with South-South Cooperation",
            date_text="12 September, 10:00–13:00",
            venue="United Nations Headquarters, New York",
            attendance_label="In person",
        )
        for i, token in enumerate(tokens)
    ]
    budget = ctx.scale(20, 5)
    png, png_n, png_bytes = _rate(badges.qr_png, tokens, budget)
    svg, svg_n, svg_bytes = _rate(badges.qr_svg, tokens, budget)
    pdf, pdf_n, pdf_bytes = _rate(badges.badge_pdf, datas[: max(50, n // 4)], budget)
    return {
        "png": {"per_s": round(png, 1), "rendered": png_n, "mean_bytes": png_bytes},
        "svg": {"per_s": round(svg, 1), "rendered": svg_n, "mean_bytes": svg_bytes},
        "pdf": {"per_s": round(pdf, 1), "rendered": pdf_n, "mean_bytes": pdf_bytes},
        "figures": [
            {
                "metric": "QR PNG badges/s (1 process)",
                "value": round(png, 1),
                "target": ">= 200/s",
                "ok": png >= TARGET_PNG,
            },
            {"metric": "QR SVG badges/s (1 process)", "value": round(svg, 1), "ok": True},
            {"metric": "A6 PDF badges/s (1 process, 6 scripts)", "value": round(pdf, 1), "ok": True},
        ],
    }
