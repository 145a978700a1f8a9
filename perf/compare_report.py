"""Tables and plot of the comparison matrix (perf/compare.py): the markdown report and the
gnuplot PNG, from the figures compare.py collected."""

import json
import os
import shutil
import subprocess
import sys


def log(msg):
    print("compare: " + msg, file=sys.stderr, flush=True)


def fmt_us(v):
    return "%.0f" % v if v >= 100 else "%.1f" % v


def ratio(a, b):
    return "%.2fx" % (a / b) if a and b else "-"


def md_matrix(ctx, targets, redis_modes):
    redis = {t["name"]: t for t in targets if t["name"] in redis_modes and t["status"] == "ok"}
    lines = []
    for w in ctx.workloads:
        lines += ["", "### %s (closed loop, %d connections)" % (w.title, ctx.conns), "",
                  "| target | req/s | spread | p50 us | p90 us | p99 us | p99.9 us | max us | "
                  "errors | " + " | ".join("vs " + m for m in redis_modes) + " |",
                  "|---" * (9 + len(redis_modes)) + "|"]
        for t in targets:
            if t["status"] != "ok" or not t["runs"].get(w.name):
                continue
            s = t["runs"][w.name]
            ratios = [ratio(s["rps"], redis[m]["runs"][w.name]["rps"])
                      if m in redis and redis[m]["runs"].get(w.name) else "-" for m in redis_modes]
            lines.append("| %s | %.0f | %.0f%% | %s | %s | %s | %s | %s | %d | %s |" % (
                t["name"], s["rps"], 100 * s.get("spread", 0), fmt_us(s["p50"]),
                fmt_us(s["p90"]), fmt_us(s["p99"]),
                fmt_us(s["p999"]), fmt_us(s["max"]), s["errors"], " | ".join(ratios)))
    return lines


def md_sweep(ctx, targets):
    lines = ["", "### Open loop: SET at a fixed rate (%d connections; latency from the intended "
             "send time)" % ctx.conns, "",
             "| target | offered req/s | achieved req/s | p50 us | p99 us | p99.9 us | max us | errors |",
             "|---|---|---|---|---|---|---|---|"]
    for t in targets:
        for s in t.get("sweep", []):
            lines.append("| %s | %.0f | %.0f | %s | %s | %s | %s | %d |" % (
                t["name"], s["offered"], s["rps"], fmt_us(s["p50"]), fmt_us(s["p99"]),
                fmt_us(s["p999"]), fmt_us(s["max"]), s["errors"]))
    return lines


def md_scaling(ctx, scaling):
    lines = ["", "### Connection scaling: N connections on one server loop, %d of them loaded "
             "(SET), the rest idle" % ctx.conns, "",
             "Bytes per connection: (server RSS once every connection has been open and idle "
             "for seconds, minus RSS before) / connections. RSS is VmRSS from /proc/PID/status: "
             "user memory only; socket buffers are kernel memory and not in it.", "",
             "| target | connections | open | req/s | p99 us | server RSS MiB (peak) | "
             "bytes per connection |",
             "|---|---|---|---|---|---|---|"]
    for sc in scaling:
        for s in sc["steps"]:
            lines.append("| %s | %d | %d | %.0f | %s | %s | %s |" % (
                sc["name"], s["conns"], s["open"], s["rps"], fmt_us(s["p99"]),
                "%.1f (%.1f)" % (s["rss_during"] / 2**20, s["rss_peak"] / 2**20)
                if s["rss_during"] else "-",
                "%.0f" % s["bytes_per_conn"] if s["bytes_per_conn"] is not None else "-"))
    return lines


def markdown(ctx, meta, targets, scaling, redis_modes):
    m = meta["machine"]
    lines = ["## Results of perf/compare.py", "",
             "- date: %s" % meta["date"],
             "- command: `%s`" % meta["command"],
             "- machine: %d cores (%s), %d MiB, Linux %s; servers and load generator share the "
             "cores, nothing pinned%s" % (m["cores"], m["model"], m["memory_mib"], m["kernel"],
                                          "" if not meta["pinned"] else " except: " + meta["pinned"]),
             "- other work on the machine: %.0f%% of its CPU before the run, %.0f%% after "
             "(2 s samples with nothing of the run going); it also shows in the spread column"
             % (100 * meta["busy"]["before"], 100 * meta["busy"]["after"]),
             "- load: spindle-bench, %d connections, %s s measured after %s s warm-up, "
             "32-byte values, %d keys, uniform; each closed-loop figure is the run of median "
             "throughput of %d (spread: (max - min) / median req/s)" % (
                 ctx.conns, ctx.duration, ctx.warmup, ctx.keyspace, ctx.repeat)]
    busiest = max(meta["busy"]["before"], meta["busy"]["after"])
    if busiest > 0.25:
        lines.append("- **the machine was busy with other work** (%.0f%% of its CPU): absolute "
                     "figures are lower bounds and ratios are rough; compare runs taken on an "
                     "idle machine" % (100 * busiest))
    for t in targets:
        if t["status"] != "ok":
            lines.append("- %s: %s: %s" % (t["name"], t["status"], t["reason"].splitlines()[0]))
    lines += md_matrix(ctx, targets, redis_modes)
    lines += md_sweep(ctx, targets)
    if scaling:
        lines += md_scaling(ctx, scaling)
    return "\n".join(lines) + "\n"


def spectrum(hist):
    """Latency by percentile from a histogram: rows (1 / (1 - q), latency ms) for plotting
    with a 'nines' axis, q taken at the middle of each bucket."""
    total = sum(c for _, c in hist)
    rows, seen = [], 0
    for high_ns, count in hist:
        q = (seen + count / 2) / total
        seen += count
        rows.append((1 / (1 - q), high_ns / 1e6))
    return rows


def plot(ctx, meta, targets, scaling):
    if not shutil.which("gnuplot"):
        log("gnuplot not installed: no plot")
        return None
    d = os.path.join(ctx.out, "plot")
    os.makedirs(d, exist_ok=True)
    sweeps, spectra, mems = [], [], []
    for t in targets:
        if t["status"] != "ok":
            continue
        if t["sweep"]:
            f = os.path.join(d, "sweep-%s.tsv" % t["name"])
            with open(f, "w") as out:
                for s in sorted(t["sweep"], key=lambda s: s["offered"]):
                    out.write("%f\t%f\t%f\n" % (s["rps"], s["p99"] / 1000, s["p50"] / 1000))
            sweeps.append((t["name"], f))
        run = os.path.join(ctx.out, "runs", "%s--set.json" % t["name"])
        if os.path.exists(run):
            with open(run) as src:
                hist = json.load(src)["histogram_ns"]
            if hist:
                f = os.path.join(d, "spectrum-%s.tsv" % t["name"])
                with open(f, "w") as out:
                    for x, y in spectrum(hist):
                        out.write("%f\t%f\n" % (x, y))
                spectra.append((t["name"], f))
    for sc in scaling or []:
        f = os.path.join(d, "scaling-%s.tsv" % sc["name"])
        with open(f, "w") as out:
            for s in sc["steps"]:
                out.write("%d\t%s\t%f\t%f\n" % (s["conns"], s["bytes_per_conn"]
                                                if s["bytes_per_conn"] is not None else "NaN",
                                                s["p99"] / 1000, s["rps"]))
        mems.append((sc["name"], f))
    png = os.path.join(ctx.out, "plot.png")
    script = gnuplot_script(meta, png, sweeps, spectra, mems)
    gp = os.path.join(d, "plot.gp")
    with open(gp, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", gp], capture_output=True)
    if r.returncode != 0:
        log("gnuplot failed: " + r.stderr.decode(errors="replace")[-400:])
        return None
    return png


def gp_plot(series, using, style):
    if not series:
        return ("set label 1 'no data' at graph 0.5, graph 0.5 center\nunset logscale\n"
                "unset key\nunset tics\nset xrange [0:1]\nset yrange [0:1]\nplot -1 notitle\n"
                "unset label 1\nset key\nset tics\nset autoscale xy\n")
    return "plot " + ", \\\n     ".join(
        "'%s' using %s with %s lw 2 lc rgb '%s' title '%s'" % (f, using, style, color_of(name),
                                                             name)
        for name, f in series) + "\n"


# One colour per target in every panel: spindle modes in cool colours, Redis modes in warm.
COLORS = {"spindle-memory": "#1f5fbf", "spindle-disk": "#12908e", "spindle-3node": "#6a3d9a",
          "redis": "#d62728", "redis-aof-always": "#ff7f0e", "redis-repl2-wait": "#8c564b"}


def color_of(name):
    return COLORS.get(name, "#333333")


def gnuplot_script(meta, png, sweeps, spectra, mems):
    m = meta["machine"]
    rows = 2 if mems else 1
    s = ["set terminal pngcairo size 1600,%d font ',11'" % (600 * rows),
         "set output '%s'" % png,
         "set grid", "set format y '%g'",
         "set key top left box opaque",
         "set multiplot layout %d,2 title '%s: %d cores, %s, Linux %s (%s)'" % (
             rows, "spindle against Redis", m["cores"], m["model"], m["kernel"], meta["date"]),
         "set title 'Open loop SET: p99 latency against throughput'",
         "set xlabel 'throughput (requests/s)'", "set ylabel 'p99 latency (ms)'",
         "set logscale xy", "set format x '%.0s%c'"]
    s.append(gp_plot(sweeps, "1:2", "linespoints pt 7"))
    s += ["set title 'SET, closed loop: latency by percentile'",
          "set xlabel 'percentile'", "set ylabel 'latency (ms)'", "set logscale xy",
          "set xtics ('50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, "
          "'99.999%%' 100000)", "set xrange [1:100000]"]
    s.append(gp_plot(spectra, "1:2", "lines"))
    if mems:
        s += ["unset xrange", "set xtics auto", "set format x '%.0s%c'",
              "set title 'Server memory per open connection'",
              "set xlabel 'connections'", "set ylabel 'bytes (RSS growth / connections)'",
              "set logscale x", "unset logscale y", "set yrange [0:*]"]
        s.append(gp_plot(mems, "1:2", "linespoints pt 7"))
        s += ["set title 'p99 latency of the loaded connections, the rest idle'",
              "set ylabel 'p99 latency (ms)'", "set logscale xy", "unset yrange"]
        s.append(gp_plot(mems, "1:3", "linespoints pt 7"))
    s.append("unset multiplot")
    return "\n".join(s) + "\n"
