"""`make bench` / `python -m bench.run [--only floor,agenda] [--quick]`.

Starts the production-shaped stack (bench/stack.py), runs the scenarios (bench/scenarios/),
writes bench/results/<scenario>.json and prints a Markdown table. Stops everything it started,
also on Ctrl-C and on errors.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.scenarios import ORDER, Context, Skip
from bench.stack import ROOT, Stack, StackConfig

RESULTS = ROOT / "bench" / "results"
HTTP_SCENARIOS = {"agenda", "signup", "checkin"}


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
    }


def drain_outbox(stack: Stack, timeout: float) -> dict:
    """Wait until the workers have sent what the previous scenario enqueued, so its email
    work does not slow down the next scenario's measurement."""
    from notifications.models import Notification

    started = time.monotonic()
    pending = Notification.objects.filter(status__in=["pending", "sending"]).count()
    while pending and time.monotonic() - started < timeout:
        stack.check_alive()
        time.sleep(0.5)
        pending = Notification.objects.filter(status__in=["pending", "sending"]).count()
    return {"left_pending": pending, "waited_s": round(time.monotonic() - started, 1)}


def fmt(value, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}{suffix}" if value >= 10 else f"{value:.2f}{suffix}"
    return f"{value}{suffix}"


def table(results: dict[str, dict]) -> str:
    lines = [
        "| scenario | figure | value | p50 ms | p99 ms | ratio | CPU ms/req (cost ratio) | target | ok |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for name, result in results.items():
        if "skipped" in result:
            lines.append(f"| {name} | skipped: {result['skipped']} | | | | | | | |")
            continue
        if "error" in result:
            lines.append(f"| {name} | error: {result['error'].splitlines()[-1][:120]} | | | | | | | ✗ |")
            continue
        for fig in result.get("figures", []):
            ratio = fig.get("ratio")
            ratio_text = f"{ratio:.0%}" if isinstance(ratio, float) else "–"
            if ratio is not None and fig.get("ratio_to"):
                ratio_text += f" of {fig['ratio_to']}"
            elif ratio is not None:
                ratio_text += f" of floor {fig['floor']:,.0f}/s" if fig.get("floor") else " of floor"
            extra = []
            for key in ("split", "outcomes", "time_to_last_s", "errors", "queries_per_scan"):
                if key in fig and fig[key] not in (None, 0, {}):
                    value = fig[key]
                    if isinstance(value, dict):
                        value = ", ".join(f"{k} {v}" for k, v in value.items())
                    extra.append(f"{key.replace('_', ' ')}: {value}")
            metric = fig["metric"] + (f" ({'; '.join(extra)})" if extra else "")
            cpu_text = fmt(fig.get("cpu_ms"))
            if isinstance(fig.get("cost_ratio"), float):
                cpu_text += f" ({fig['cost_ratio']:.0%})"
            lines.append(
                f"| {name} | {metric} | {fmt(fig.get('value'))} | {fmt(fig.get('p50_ms'))} | "
                f"{fmt(fig.get('p99_ms'))} | {ratio_text} | {cpu_text} | {fig.get('target', '')} | "
                f"{'✓' if fig.get('ok') else '✗'} |"
            )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated scenarios (default: all)")
    parser.add_argument("--quick", action="store_true", help="about a tenth of the load, for development")
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("BENCH_WEB_WORKERS", "3")))
    parser.add_argument("--web-threads", type=int, default=int(os.environ.get("BENCH_WEB_THREADS", "4")))
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=int(os.environ.get("BENCH_WORKER_CONCURRENCY", "1")),
        help="prefork children per Celery worker (default 1: two worker processes in all)",
    )
    parser.add_argument("--database", default="convene_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--pg-admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--var-dir", default="/tmp/convene-bench")
    parser.add_argument(
        "--profile",
        default="",
        help="afterwards, profile paths in-process with pyinstrument (comma-separated): "
        "signup, checkin, agenda, agenda_ics, floor, badge_pdf",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()] or list(ORDER)
    unknown = [s for s in wanted if s not in ORDER]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(ORDER)}", file=sys.stderr)
        return 2
    if HTTP_SCENARIOS & set(wanted) and "floor" not in wanted:
        wanted.insert(0, "floor")  # every HTTP figure is a ratio to the floor of this run
    wanted = [s for s in ORDER if s in wanted]

    config = StackConfig(
        pg_admin_url=args.pg_admin_url,
        database=args.database,
        redis_url=args.redis_url,
        web_workers=max(2, min(4, args.web_workers)),
        web_threads=args.web_threads,
        celery_concurrency=max(1, args.worker_concurrency),
        var_dir=Path(args.var_dir),
    )
    stack = Stack(config)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # Also when started in the background, where a shell may have set SIGINT to be ignored.
    signal.signal(signal.SIGINT, on_term)
    results: dict[str, dict] = {}
    meta = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
        "stack": {
            "gunicorn_workers": config.web_workers,
            "gunicorn_threads": config.web_threads,
            "worker_class": "gthread",
            "celery_worker_processes": config.celery_workers,
            "celery_concurrency": config.celery_concurrency,
            "database": config.database,
            "redis": config.redis_url,
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        print(f"bench: preparing the stack in {config.var_dir} …", file=sys.stderr)
        stack.prepare()
        os.environ.update(stack.env)
        # The harness's own Django (seeding, in-process profiles) keeps stdout for the table.
        os.environ["LOG_LEVEL"] = "WARNING"
        import django

        django.setup()
        stack.launch()
        ctx = Context(stack=stack, quick=args.quick, port=stack.web_port)
        for name in wanted:
            module = importlib.import_module(f"bench.scenarios.{name}")
            print(f"bench: {name} …", file=sys.stderr)
            t0 = time.monotonic()
            try:
                result = module.run(ctx)
            except Skip as exc:
                result = {"skipped": str(exc)}
            except KeyboardInterrupt:
                raise
            except Exception:
                result = {"error": traceback.format_exc()}
            result["scenario_s"] = round(time.monotonic() - t0, 1)
            if name in {"signup", "checkin", "fanout"}:
                result["drain"] = drain_outbox(stack, timeout=120 if args.quick else 600)
            result["meta"] = meta
            results[name] = result
            (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
            print(f"bench: {name} done in {result['scenario_s']} s", file=sys.stderr)
        if args.profile:
            from bench import profile

            for path in [p.strip() for p in args.profile.split(",") if p.strip()]:
                out = profile.run(path, RESULTS, quick=args.quick)
                print(f"bench: profile of {path} written to {out}", file=sys.stderr)
    except KeyboardInterrupt:
        print("bench: interrupted, stopping the stack", file=sys.stderr)
        return 130
    finally:
        stack.stop()
    rendered = table(results)
    header = (
        f"Convene bench {meta['started_at']}{' (quick)' if args.quick else ''} — "
        f"{meta['machine']['cpu']}, {meta['machine']['cores']} cores; gunicorn {config.web_workers}×"
        f"{config.web_threads} gthread, {config.celery_workers} Celery workers × "
        f"{config.celery_concurrency} process{'es' if config.celery_concurrency > 1 else ''}, "
        "PostgreSQL + Redis on loopback"
    )
    (RESULTS / "table.md").write_text(header + "\n\n" + rendered + "\n")
    print(header + "\n")
    print(rendered)
    failed = [n for n, r in results.items() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
