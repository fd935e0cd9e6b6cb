"""Bangban benchmarks: each result is a ratio to a baseline measured in the
same run, on the same machine, so the numbers travel between machines.

    python bench/run.py [--repeat N] [--only startup,check]

1. start-up: ``create_app()`` in a fresh process (demo catalog; synthetic
   5,000-item catalog) vs. a fresh process that only imports the stack.
2. ``metadata check`` of the 5,000-item catalog vs. PyYAML's CSafeLoader
   parsing the same files.
3. ``catalog``: every page and API that lists items, and ``metadata sync``
   of one changed item, at 5,000 items vs. about 100, on SQLite and
   PostgreSQL (bench/catalog_bench.py; target <= 1.3x each).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synth import write_catalog  # noqa: E402

STACK = ("import flask, flask_admin, flask_admin.contrib.peewee, flask_babel, flask_login, flask_wtf, "
         "peewee, playhouse.migrations, pluggy, marshmallow, jinja2, yaml, argon2, click, babel, "
         "flask_limiter, pyotp, cryptography.hazmat.primitives.ciphers.aead")
APP = "from core import create_app; create_app()"
APP_GUIDES = ("from core import create_app; app = create_app(); "
              "assert app.test_client().get('/guides').status_code == 200")


def run_python(code, env, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_process(code, env):
    """(wall seconds, CPU seconds) of a fresh ``python -c code``: the CPU
    time is the child's own (user + system), which a busy machine does not
    inflate the way it inflates the wall clock."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, code)
    return wall, usage.ru_utime + usage.ru_stime


def interleaved_processes(cases, rounds):
    """Medians of (wall, CPU) per case, the cases run in turn in each round."""
    walls = [[] for _ in cases]
    cpus = [[] for _ in cases]
    for _ in range(rounds):
        for i, (code, env) in enumerate(cases):
            wall, cpu = one_process(code, env)
            walls[i].append(wall)
            cpus[i].append(cpu)
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(walls, cpus)]


def byte_compile():
    """Byte-compile the app's own sources (core, plugins) into their
    ``__pycache__`` folders, as an install does (pip writes the bytecode of
    what it installs) and as the first start of a source checkout does: the
    stack's modules come from the bytecode pip wrote, so the app's must too,
    or every start of a child run with ``PYTHONDONTWRITEBYTECODE`` (as CI
    and these machines set it) would compile ~80 modules from source, a cost
    no server meets after its first start (about 0.3x of the ratio)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "core", "plugins"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def bangban(env, *args):
    subprocess.run([sys.executable, "-m", "core.cli", *args], check=True, env=env, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def bench_startup(tmp: Path, repeat: int):
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("BANGBAN_")}
    demo_env = {**base_env, "BANGBAN_DATA_DIR": str(tmp / "demo"), "BANGBAN_PLUGINS": "wushen,bank_partnership"}
    bangban(demo_env, "demo")
    big_env = {**demo_env, "BANGBAN_DATA_DIR": str(tmp / "big")}
    synth = write_catalog(tmp / "synth", 5000)
    bangban(big_env, "metadata", "sync", str(ROOT / "metadata" / "core"), str(synth))
    byte_compile()
    empty = run_python("pass", base_env, repeat)
    stack = run_python(STACK, base_env, repeat)
    demo = run_python(APP, demo_env, repeat)
    big = run_python(APP, big_env, repeat)
    demo_guides = run_python(APP_GUIDES, demo_env, repeat)
    big_guides = run_python(APP_GUIDES, big_env, repeat)
    print(f"start-up (median of {repeat} fresh processes)")
    print(f"  python -c pass              {empty * 1000:8.1f} ms")
    print(f"  bare import of the stack    {stack * 1000:8.1f} ms   baseline 1.00x")
    print(f"  create_app, demo catalog    {demo * 1000:8.1f} ms   {demo / stack:5.2f}x  (target <= 1.5x)")
    print(f"  create_app, 5,000 items     {big * 1000:8.1f} ms   {big / stack:5.2f}x  (target <= 1.5x)")
    print(f"  + first /guides, demo       {demo_guides * 1000:8.1f} ms   {demo_guides / stack:5.2f}x")
    print(f"  + first /guides, 5,000      {big_guides * 1000:8.1f} ms   {big_guides / stack:5.2f}x  "
          f"({big_guides / demo_guides:.2f}x the demo's)")
    print(f"  net of interpreter start:   demo {(demo - empty) / (stack - empty):5.2f}x, "
          f"5,000 items {(big - empty) / (stack - empty):5.2f}x")
    return {"demo": demo / stack, "big": big / stack, "big_guides": big_guides / stack}


def bench_check(tmp: Path, repeat: int):
    import yaml

    from core.metadata.loader import load

    synth = write_catalog(tmp / "synth-check", 5000)
    files = sorted(synth.glob("*.yaml"))

    def parse():
        for f in files:
            with open(f, "rb") as fh:
                yaml.load(fh, Loader=yaml.CSafeLoader)  # noqa: S506 - the C *safe* loader

    def check():
        load([synth])

    parse_t = min(_time(parse) for _ in range(repeat))
    check_t = min(_time(check) for _ in range(repeat))
    print(f"metadata check, 5,000 items in {len(files)} files (best of {repeat})")
    print(f"  CSafeLoader parse only      {parse_t * 1000:8.1f} ms   baseline 1.00x")
    print(f"  metadata check (full)       {check_t * 1000:8.1f} ms   {check_t / parse_t:5.2f}x  (target <= 2x)")
    return {"check": check_t / parse_t}


def _time(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(ctx):
    """Rows for bench/run.py (section "startup"), goals of issue 13:
    start-up with 5,000 items <= 1.3x the stack's import, ``metadata check``
    of 5,000 items <= 1.8x PyYAML's C parser. Start-up: fresh processes,
    the stack's import and ``create_app()`` + first ``GET /guides`` in turn
    (interleaved rounds), medians of the children's CPU time (the wall
    clock is printed too), the app's sources byte-compiled first as an
    install does (:func:`byte_compile`). Check: parse and check in turn, medians of this
    process's CPU time."""
    from bench.report import Row

    count = 500 if ctx.quick else 5000
    rounds = 3 if ctx.quick else max(ctx.repeat, 7)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("BANGBAN_")}
    env = {**base_env, "BANGBAN_DATA_DIR": str(ctx.tmp / "startup-big"), "BANGBAN_PLUGINS": "wushen,bank_partnership"}
    synth = write_catalog(ctx.tmp / "startup-synth", count)
    bangban(env, "migrate")
    bangban(env, "metadata", "sync", str(ROOT / "metadata" / "core"), str(synth))
    byte_compile()
    (stack_w, stack_c), (app_w, app_c), (guides_w, guides_c) = interleaved_processes(
        [(STACK, base_env), (APP, env), (APP_GUIDES, env)], rounds)
    rows = [Row(f"start-up with {count:,} items vs stack import", "-", app_c / stack_c, "<= 1.3x",
                app_c / stack_c <= 1.3,
                f"CPU {app_c * 1000:.0f} ms vs {stack_c * 1000:.0f} ms (wall {app_w * 1000:.0f} vs "
                f"{stack_w * 1000:.0f} ms); with the first GET /guides {guides_c / stack_c:.2f}x"),
            ]
    import yaml

    from core.metadata.loader import load

    files = sorted(synth.glob("*.yaml"))

    def parse():
        for f in files:
            with open(f, "rb") as fh:
                yaml.load(fh, Loader=yaml.CSafeLoader)  # noqa: S506 - the C *safe* loader

    def check():
        load([synth])

    parse_t, check_t = _interleaved_cpu([parse, check], rounds)
    rows.append(Row(f"metadata check of {count:,} items vs C parser", "-", check_t / parse_t, "<= 1.8x",
                    check_t / parse_t <= 1.8, f"CPU {check_t * 1000:.0f} ms vs {parse_t * 1000:.0f} ms"))
    return rows


def _interleaved_cpu(fns, rounds):
    times = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.process_time()
            fn()
            times[i].append(time.process_time() - start)
    return [statistics.median(t) for t in times]
