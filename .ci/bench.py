#!/usr/bin/env python3
"""The local half of the benchmark suite (`.ci/bench` runs it): openfeedback wrap against
util-linux `script`, run alternately so that both see the same machine load.

  bench.py local  --bin BIN --work DIR --json OUT [--runs N] [--mb MB] [--gb-mb MB]
                  [--gb-runs N] [--startup-runs N] [--fidelity-runs N] [--fidelity-mb MB]
                  [--only SECTION,...]
  bench.py report --json FILE [--json FILE ...] --md OUT

Sections (each records the load average before and after it):

- throughput: `wrap -- cat FILE` vs `script -q -c "cat FILE" /dev/null`, stdin from /dev/null
  (wrap headless: screen model and built-in patterns on), stdout to /dev/null. Wall time and
  peak RSS (GNU time's %M) per run; throughput = file size / wall time.
- gigabyte: the same with `cat FILE FILE ...` writing about 1 GB, for the peak RSS after 1 GB.
- startup: time from spawning to the first byte of `printf x` read from stdout (a pipe).
- idle: `wrap -- sleep` (and `script -c sleep`); after 3 s, 10 s of per-thread context
  switches (/proc/PID/task/*/status) and CPU ticks (/proc/PID/task/*/stat utime+stime);
  peak RSS (VmHWM) split into anonymous and file-backed pages.
- fidelity: tests/agents/flood.py writes a file of random bytes in raw mode and exits at once;
  wrap's stdout (a pipe) is hashed and compared with the file, N runs each at two sizes.
- timer: how late this machine wakes a bare sleep of the settle window (no openfeedback
  involved), as a baseline for the latency rows: on a VM the hypervisor can delay any wake-up.

Only the standard library is used. Every number is a median over the runs unless said.
"""

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20


def load():
    return [round(x, 2) for x in os.getloadavg()]


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# inputs


def text_file(path, size):
    """Agent-like text: words, colours, bold, UTF-8, lines of varied length. Deterministic."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return path
    rnd = random.Random(1)
    words = ["alpha", "beta", "\x1b[31mred\x1b[0m", "gamma", "delta", "épsilon", "ζeta",
             "\x1b[1mbold\x1b[22m", "src/wrap/bridge.rs:42", "ok", "Compiling", "warning:"]
    block = bytearray()
    while len(block) < 4 * MIB:
        line = " ".join(rnd.choice(words) for _ in range(rnd.randint(3, 18)))
        block += (line + "\n").encode()
    with open(path + ".tmp", "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    os.replace(path + ".tmp", path)
    return path


def random_file(path, size, seed):
    """Every byte value (escape sequences, invalid UTF-8, NULs): the harshest input."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return path
    rnd = random.Random(seed)
    with open(path + ".tmp", "wb") as f:
        left = size
        while left > 0:
            n = min(left, 4 * MIB)
            f.write(rnd.randbytes(n))
            left -= n
    os.replace(path + ".tmp", path)
    return path


# --------------------------------------------------------------------------------------------
# running things


class Runner:
    def __init__(self, binary, work):
        self.binary = os.path.abspath(binary)
        self.work = os.path.abspath(work)
        self.home = os.path.join(self.work, "home")
        for d in ["home", "config", "data"]:
            os.makedirs(os.path.join(self.work, d), exist_ok=True)
        # No config: the defaults (the web provider, only started when a prompt is sent).
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.home,
            "XDG_CONFIG_HOME": os.path.join(self.work, "config"),
            "XDG_DATA_HOME": os.path.join(self.work, "data"),
            "LANG": "C.UTF-8",
        }
        self.log_file = os.path.join(self.work, "wrap.log")
        # A Telegram configuration (nothing is sent before a prompt, so the address is moot).
        self.telegram = os.path.join(self.work, "telegram.toml")
        with open(self.telegram, "w") as f:
            f.write('default_provider = "telegram"\n[telegram]\n'
                    'bot_token = "123456:bench-token-not-used"\nchat_id = 1\n'
                    'api_base = "http://127.0.0.1:9"\n')

    def wrap(self, *command, config=None):
        extra = ["--config", config] if config else []
        return [self.binary, "wrap", *extra, "--log-file", self.log_file, "--", *command]

    @staticmethod
    def script(shell_command):
        return ["script", "-q", "-c", shell_command, "/dev/null"]

    def timed(self, argv, stdout=subprocess.DEVNULL):
        """Run to completion: (wall seconds, peak RSS KiB, CPU seconds, exit code).

        GNU time measures: a child forked from this Python process would inherit Python's
        peak RSS (Linux keeps the larger of the old and new images' peaks across exec), while
        a child of `time` only inherits that of `time`, about 2 MiB."""
        stats = os.path.join(self.work, "time.out")
        t0 = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-o", stats, "-f", "%M %U %S %x", *argv],
                             stdin=subprocess.DEVNULL, stdout=stdout,
                             stderr=subprocess.DEVNULL, env=self.env, cwd=self.work)
        p.wait()
        wall = time.perf_counter() - t0
        with open(stats) as f:
            rss, user, sys_, code = f.read().split()[-4:]
        return wall, int(rss), float(user) + float(sys_), int(code)


def median(xs):
    return statistics.median(xs) if xs else None


def alternate(runs, pairs):
    """Run each (name, thunk) of `pairs` in turn, `runs` times: a b a b ... (the order flips
    every round, so neither side always runs on a warmer cache)."""
    results = {name: [] for name, _ in pairs}
    for i in range(runs):
        order = pairs if i % 2 == 0 else list(reversed(pairs))
        for name, thunk in order:
            results[name].append(thunk())
    return results


# --------------------------------------------------------------------------------------------
# sections


def throughput(r, args, section, files, total_bytes, runs):
    cat = "cat " + " ".join(files)
    res = alternate(runs, [
        ("script", lambda: r.timed(Runner.script(cat))),
        ("wrap", lambda: r.timed(r.wrap("cat", *files))),
    ])
    out = {"bytes": total_bytes, "runs": runs}
    for name, xs in res.items():
        bad = [x[3] for x in xs if x[3] != 0]
        if bad:
            raise SystemExit(f"{section}: {name} exited with {bad}")
        out[name] = {
            "wall_s": [round(x[0], 3) for x in xs],
            "maxrss_kib": [x[1] for x in xs],
            "cpu_s": [round(x[2], 3) for x in xs],
            "median_wall_s": round(median([x[0] for x in xs]), 3),
            "median_mb_s": round(total_bytes / median([x[0] for x in xs]) / 1e6, 1),
            "median_maxrss_kib": median([x[1] for x in xs]),
            "max_maxrss_kib": max(x[1] for x in xs),
            "median_cpu_s": round(median([x[2] for x in xs]), 3),
        }
    out["ratio"] = round(out["script"]["median_wall_s"] / out["wrap"]["median_wall_s"], 3)
    return out


def first_byte(r, argv):
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=r.env, cwd=r.work)
    b = p.stdout.read(1)
    t1 = time.perf_counter()
    p.stdout.read()
    p.wait()
    if b != b"x":
        raise SystemExit(f"startup: {argv[0]} printed {b!r} first")
    return t1 - t0


def startup(r, runs):
    res = alternate(runs, [
        ("script", lambda: first_byte(r, Runner.script("printf x"))),
        ("wrap", lambda: first_byte(r, r.wrap("printf", "x"))),
        ("wrap_telegram", lambda: first_byte(r, r.wrap("printf", "x", config=r.telegram))),
    ])
    out = {"runs": runs}
    for name, xs in res.items():
        out[name] = {"ms": [round(x * 1e3, 2) for x in xs],
                     "median_ms": round(median(xs) * 1e3, 2)}
    out["ratio"] = round(out["wrap"]["median_ms"] / out["script"]["median_ms"], 3)
    out["ratio_telegram"] = round(
        out["wrap_telegram"]["median_ms"] / out["script"]["median_ms"], 3)
    return out


def task_counters(pid):
    """{tid: (name, context switches, CPU ticks)}"""
    out = {}
    base = f"/proc/{pid}/task"
    for tid in os.listdir(base):
        try:
            with open(f"{base}/{tid}/status") as f:
                status = f.read()
            with open(f"{base}/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        switches = 0
        name = "?"
        for line in status.splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                switches += int(line.split()[1])
            if line.startswith("Name:"):
                name = line.split(None, 1)[1].strip()
        fields = stat[stat.rindex(")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])
        out[tid] = (name, switches, ticks)
    return out


def memory(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "Threads"):
                out[key] = int(line.split()[1])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def idle_once(r, argv, window):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=r.env, cwd=r.work)
    time.sleep(3)
    a = task_counters(p.pid)
    time.sleep(window)
    b = task_counters(p.pid)
    mem = memory(p.pid)
    p.wait()
    switches = sum(b[t][1] - a[t][1] for t in b if t in a)
    ticks = sum(b[t][2] - a[t][2] for t in b if t in a)
    busy = sorted({b[t][0] for t in b if t in a and b[t][1] != a[t][1]})
    return {"switches": switches, "wakeups_per_s": round(switches / window, 2),
            "cpu_ticks": ticks, "threads_waking": busy, **mem}


def idle(r, runs, window):
    sleep = str(window + 5)
    res = alternate(runs, [
        ("script", lambda: idle_once(r, Runner.script(f"sleep {sleep}"), window)),
        ("wrap", lambda: idle_once(r, r.wrap("sleep", sleep), window)),
        ("wrap_telegram",
         lambda: idle_once(r, r.wrap("sleep", sleep, config=r.telegram), window)),
    ])
    out = {"runs": runs, "window_s": window}
    for name, xs in res.items():
        out[name] = {
            "samples": xs,
            "median_wakeups_per_s": median([x["wakeups_per_s"] for x in xs]),
            "max_wakeups_per_s": max(x["wakeups_per_s"] for x in xs),
            "max_cpu_ticks": max(x["cpu_ticks"] for x in xs),
            "median_hwm_kib": median([x["VmHWM"] for x in xs]),
            "median_anon_kib": median([x["RssAnon"] for x in xs]),
            "median_file_kib": median([x["RssFile"] for x in xs]),
        }
    return out


def fidelity_once(r, path, expect):
    p = subprocess.Popen(r.wrap("python3", os.path.join(ROOT, "tests/agents/flood.py"), path),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=r.env, cwd=r.work)
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = p.stdout.read(MIB)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    code = p.wait()
    return code == 0 and n == expect[1] and h.hexdigest() == expect[0], n, code


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MIB):
            h.update(chunk)
    return h.hexdigest(), os.path.getsize(path)


def fidelity(r, args, runs):
    out = {"runs": runs}
    for mb in sorted({args.fidelity_small_mb, args.fidelity_mb}):
        path = random_file(os.path.join(r.work, f"random{mb}.bin"), mb * MIB, mb)
        expect = digest(path)
        ok = 0
        failures = []
        t0 = time.perf_counter()
        for _ in range(runs):
            same, n, code = fidelity_once(r, path, expect)
            ok += same
            if not same:
                failures.append({"bytes": n, "exit": code})
        out[f"{mb}MiB"] = {"identical": ok, "runs": runs, "failures": failures,
                           "seconds": round(time.perf_counter() - t0, 1)}
    return out


# --------------------------------------------------------------------------------------------


def timer(runs, ms):
    late = []
    for _ in range(runs):
        t = time.perf_counter()
        time.sleep(ms / 1000)
        late.append((time.perf_counter() - t) * 1000 - ms)
    late.sort()
    return {
        "runs": runs, "sleep_ms": ms,
        "median_late_ms": round(median(late), 3),
        "p99_late_ms": round(late[min(len(late) - 1, len(late) * 99 // 100)], 3),
        "max_late_ms": round(late[-1], 3),
        "over_2_ms": sum(x > 2 for x in late),
        "over_5_ms": sum(x > 5 for x in late),
    }


def cmd_local(args):
    r = Runner(args.bin, args.work)
    only = set(args.only.split(",")) if args.only else None
    want = lambda s: only is None or s in only  # noqa: E731
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "kernel": platform.release(),
            "script": subprocess.run(["script", "--version"], capture_output=True,
                                     text=True).stdout.strip(),
        },
        "load_start": load(),
    }
    sections = {}
    if want("throughput"):
        log(f"throughput: {args.mb} MB, {args.runs} runs each, alternating")
        f = text_file(os.path.join(r.work, f"text{args.mb}.bin"), args.mb * MIB)
        before = load()
        sections["throughput"] = throughput(r, args, "throughput", [f], args.mb * MIB, args.runs)
        sections["throughput"]["load"] = [before, load()]
    if want("gigabyte"):
        f = text_file(os.path.join(r.work, f"text{args.mb}.bin"), args.mb * MIB)
        copies = max(1, round(args.gb_mb / args.mb))
        log(f"gigabyte: {copies} x {args.mb} MB, {args.gb_runs} runs each, alternating")
        before = load()
        sections["gigabyte"] = throughput(r, args, "gigabyte", [f] * copies,
                                          copies * args.mb * MIB, args.gb_runs)
        sections["gigabyte"]["load"] = [before, load()]
    if want("startup"):
        log(f"startup: {args.startup_runs} runs each")
        before = load()
        sections["startup"] = startup(r, args.startup_runs)
        sections["startup"]["load"] = [before, load()]
    if want("idle"):
        log(f"idle: {args.idle_runs} runs each, {args.idle_window} s windows")
        before = load()
        sections["idle"] = idle(r, args.idle_runs, args.idle_window)
        sections["idle"]["load"] = [before, load()]
    if want("fidelity"):
        log(f"fidelity: {args.fidelity_runs} runs at {args.fidelity_small_mb} and "
            f"{args.fidelity_mb} MiB")
        before = load()
        sections["fidelity"] = fidelity(r, args, args.fidelity_runs)
        sections["fidelity"]["load"] = [before, load()]
    if want("timer"):
        log(f"timer: {args.timer_runs} sleeps of {args.timer_ms} ms")
        before = load()
        sections["timer"] = timer(args.timer_runs, args.timer_ms)
        sections["timer"]["load"] = [before, load()]
    result["sections"] = sections
    result["load_end"] = load()
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# --------------------------------------------------------------------------------------------
# the report


def mib(kib):
    return f"{kib / 1024:.1f} MiB" if kib is not None else "-"


def fmt_load(pair):
    (a, b) = pair
    return f"{a[0]}→{b[0]}"


def cmd_report(args):
    local, remote = {}, {}
    for path in args.json:
        with open(path) as f:
            data = json.load(f)
        (remote if data.get("kind") == "latency" else local).update(data)
    s = local.get("sections", {})
    rows = []

    def row(target, measured, ratio, goal, how):
        rows.append(f"| {target} | {measured} | {ratio} | {goal} | {how} |")

    if "throughput" in s:
        t = s["throughput"]
        row(f"Passthrough, {t['bytes'] // MIB} MiB text",
            f"wrap {t['wrap']['median_mb_s']} MB/s, script {t['script']['median_mb_s']} MB/s",
            f"**{t['ratio']}x**", "≥ 0.9x",
            f"median wall time of {t['runs']} alternating runs each, `cat FILE` to /dev/null, "
            f"stdin /dev/null (headless; screen model and patterns on); load {fmt_load(t['load'])}")
        row("Peak RSS, passthrough", f"wrap {mib(t['wrap']['max_maxrss_kib'])}, script "
            f"{mib(t['script']['max_maxrss_kib'])}", "", "",
            "largest peak RSS (GNU time %M) over the runs")
        row("CPU time, passthrough", f"wrap {t['wrap']['median_cpu_s']} s, script "
            f"{t['script']['median_cpu_s']} s", "", "", "median user+sys of the whole tree")
    if "gigabyte" in s:
        g = s["gigabyte"]
        row(f"Peak RSS after {g['bytes'] // MIB} MiB of output",
            f"wrap {mib(g['wrap']['max_maxrss_kib'])} (median "
            f"{mib(g['wrap']['median_maxrss_kib'])}), script {mib(g['script']['max_maxrss_kib'])}",
            "", "< 16 MiB",
            f"GNU time %M of `wrap -- cat FILE…`, {g['runs']} runs; load {fmt_load(g['load'])}")
        row(f"Passthrough, {g['bytes'] // MIB} MiB", f"wrap {g['wrap']['median_mb_s']} MB/s, "
            f"script {g['script']['median_mb_s']} MB/s", f"**{g['ratio']}x**", "≥ 0.9x",
            "same runs as the line above")
    if "startup" in s:
        u = s["startup"]
        row("Startup to the agent's first byte", f"wrap {u['wrap']['median_ms']} ms, script "
            f"{u['script']['median_ms']} ms", f"**{u['ratio']}x**", "≤ 2x",
            f"spawn → first byte of `printf x` on a stdout pipe, median of {u['runs']} "
            f"alternating runs, no config (web provider); load {fmt_load(u['load'])}")
        if "wrap_telegram" in u:
            row("Startup, Telegram configured", f"wrap {u['wrap_telegram']['median_ms']} ms",
                f"**{u['ratio_telegram']}x**", "≤ 2x", "same runs, with a Telegram config")
    if "idle" in s:
        i = s["idle"]
        w = i["wrap"]
        row("Idle wakeups (agent silent, nothing pending)",
            f"wrap {w['max_wakeups_per_s']}/s, {w['max_cpu_ticks']} CPU ticks; script "
            f"{i['script']['max_wakeups_per_s']}/s", "", "0/s, 0 CPU",
            f"context switches of every thread (/proc/PID/task/*/status) over "
            f"{i['window_s']} s after 3 s, worst of {i['runs']} runs")
        row("Idle peak RSS", f"wrap {mib(w['median_hwm_kib'])} (anon "
            f"{mib(w['median_anon_kib'])}, file {mib(w['median_file_kib'])}); script "
            f"{mib(i['script']['median_hwm_kib'])}", "", "< 10 MiB",
            "VmHWM, RssAnon, RssFile of /proc/PID/status at the end of the window; no config")
        if "wrap_telegram" in i:
            t = i["wrap_telegram"]
            row("Idle, Telegram configured", f"{t['max_wakeups_per_s']}/s, "
                f"{t['max_cpu_ticks']} CPU ticks; peak RSS {mib(t['median_hwm_kib'])} (anon "
                f"{mib(t['median_anon_kib'])}, file {mib(t['median_file_kib'])})", "",
                "0/s; < 10 MiB", "same windows, with a Telegram config")
    if "fidelity" in s:
        fd = s["fidelity"]
        for key, v in fd.items():
            if key.endswith("MiB"):
                row(f"Fidelity, {key} random bytes, agent exits at once",
                    f"{v['identical']}/{v['runs']} byte-identical", "", "all",
                    "tests/agents/flood.py (raw mode, `os._exit` after the last write); "
                    "sha256 and length of wrap's stdout")
    if "timer" in s:
        tm = s["timer"]
        row(f"This machine: a bare {tm['sleep_ms']} ms sleep wakes late by",
            f"median {tm['median_late_ms']} ms, p99 {tm['p99_late_ms']} ms, max "
            f"{tm['max_late_ms']} ms; {tm['over_2_ms']} of {tm['runs']} over 2 ms, "
            f"{tm['over_5_ms']} over 5 ms", "", "",
            "Python `time.sleep`, no openfeedback involved: the floor under the latency rows; "
            f"load {fmt_load(tm['load'])}")
    if remote:
        d = remote.get("detection", {})
        if d:
            row("Detection: agent's last byte → request at the fake Telegram",
                f"median {d['median_ms']} ms, max {d['max_ms']} ms (settle {d['settle_ms']} ms)",
                f"settle + {round(d['median_ms'] - d['settle_ms'], 1)} ms", "≤ settle + 5 ms",
                f"{d['samples']} prompts; the agent stamps CLOCK_REALTIME after its write, "
                f"the fake stamps the sendMessage request on arrival")
        k = remote.get("keys", {})
        if k:
            row("Answer: click delivered → keys read by the agent",
                f"median {k['median_ms']} ms, max {k['max_ms']} ms", "", "< 10 ms",
                f"{k['samples']} prompts; the test stamps the click, the agent stamps the "
                "line it read")
        p = remote.get("long_poll", {})
        if p:
            row("Long polls while a request is pending",
                f"{p['polls']} getUpdates in {p['window_s']} s (one per "
                f"{p['mean_interval_s']} s)", "", "one per 25-50 s",
                "getUpdates calls counted on the fake Telegram")
            if "wrap_wakeups_per_s" in p:
                row("Wakeups while a request is pending", f"{p['wrap_wakeups_per_s']}/s", "",
                    "", "context switches of every wrap thread over the same window")
    m = local.get("machine", {})
    lines = [
        "| target | measured | ratio | goal | how |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Machine: {m.get('cpus')} CPUs ({m.get('cpu')}), Linux {m.get('kernel')}, "
        f"{m.get('script')}; load average (1 min) {local.get('load_start', ['?'])[0]} at the "
        f"start, {local.get('load_end', ['?'])[0]} at the end.",
    ]
    text = "\n".join(lines) + "\n"
    with open(args.md, "w") as f:
        f.write(text)
    print(text)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("local")
    a.add_argument("--bin", required=True)
    a.add_argument("--work", required=True)
    a.add_argument("--json", required=True)
    a.add_argument("--runs", type=int, default=7)
    a.add_argument("--mb", type=int, default=200)
    a.add_argument("--gb-mb", type=int, default=1000)
    a.add_argument("--gb-runs", type=int, default=3)
    a.add_argument("--startup-runs", type=int, default=20)
    a.add_argument("--idle-runs", type=int, default=3)
    a.add_argument("--idle-window", type=int, default=10)
    a.add_argument("--fidelity-runs", type=int, default=20)
    a.add_argument("--fidelity-mb", type=int, default=200)
    a.add_argument("--fidelity-small-mb", type=int, default=8)
    a.add_argument("--timer-runs", type=int, default=300)
    a.add_argument("--timer-ms", type=int, default=200)
    a.add_argument("--only")
    b = sub.add_parser("report")
    b.add_argument("--json", action="append", required=True)
    b.add_argument("--md", required=True)
    args = p.parse_args()
    if args.cmd == "local":
        if shutil.which("script") is None:
            raise SystemExit("bench: util-linux `script` is needed")
        if not os.access("/usr/bin/time", os.X_OK):
            raise SystemExit("bench: GNU time (/usr/bin/time) is needed")
        cmd_local(args)
    else:
        cmd_report(args)


if __name__ == "__main__":
    main()
