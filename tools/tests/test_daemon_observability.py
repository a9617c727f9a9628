"""Observability of a real reflexd (issue 14): /metrics scraped over HTTP and checked by
Prometheus's own `promtool check metrics`; the per-step trace; `reflexctl top` in a real
terminal (tmux, 80x24); a scraper that never finishes its request does not slow the steps."""
import json
import math
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from reflex_client import ReflexError

from .harness import EXITS, INSTRUCTION, REFLEX, REPO, Daemon, RawDealer, observation, run_reflex, step_frames

PROMTOOL = shutil.which("promtool")
TMUX = shutil.which("tmux")


def metrics_url(daemon) -> str:
    log = daemon.wait_log("/metrics")
    return re.search(r"url=(http://\S+/metrics)", log).group(1)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.read().decode()


def samples(text: str) -> dict:
    """{(name, frozenset(labels.items())): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
        assert m, f"not a sample line: {line!r}"
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def total(s: dict, name: str, **labels) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in s.items() if n == name and want <= set(ls))


def step(client, robot, seed):
    image, state = observation(seed)
    return client.step(robot, INSTRUCTION, image=image, state=state)


def test_metrics_scrape_is_valid_exposition_and_counts_what_happened(start_daemon):
    assert PROMTOOL, "promtool not installed (tools/setup installs Debian's prometheus package)"
    daemon = start_daemon({"metrics": {"listen": "127.0.0.1:0"}, "budget": {"average_fraction": 0.7, "deadline_ms": 40},
                           "scheduler": {"mode": "fixed"}, "limits": {"session_idle_s": 1.0}})
    url = metrics_url(daemon)
    assert url.startswith("http://127.0.0.1:")
    idle = samples(scrape(url))                 # before any step: no realised compute, not a realised 0
    assert math.isnan(total(idle, "reflexd_budget_realised_fraction"))
    assert math.isnan(total(idle, "reflexd_budget_realised_gflops"))
    with daemon.client() as client, daemon.control_client() as control, RawDealer(daemon.policy) as dealer:
        exits = [step(client, "met-a", t)[1]["exit"] for t in range(6)] + [step(client, "met-b", 9)[1]["exit"]]
        dealer.request([b"{"])                                  # bad_header
        dealer.request(step_frames("met-a", 1)[:2])             # bad_tensor
        control.pause()
        with pytest.raises(ReflexError):
            step(client, "met-a", 50)                           # paused
        stats = control.stats()
        text = scrape(url)

        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0 and check.stdout.strip() == "" and check.stderr.strip() == "", check

        s = samples(text)
        assert total(s, "reflexd_steps_total") == 7 == stats["steps"]
        for e in range(1, EXITS + 1):
            assert total(s, "reflexd_steps_total", exit=str(e)) == exits.count(e) == stats["exit_histogram"][e - 1]
        for reason, n in stats["reasons"].items():
            assert total(s, "reflexd_steps_total", reason=reason) == n
        assert total(s, "reflexd_request_errors_total", code="bad_header") == 1
        assert total(s, "reflexd_request_errors_total", code="bad_tensor") == 1
        assert total(s, "reflexd_request_errors_total", code="paused") == 1
        assert total(s, "reflexd_request_errors_total", code="stale") == 0     # every code is there from the start
        assert total(s, "reflexd_step_duration_seconds_count", stage="total") == 7
        assert total(s, "reflexd_step_duration_seconds_count", stage="queue") == 7
        assert total(s, "reflexd_step_duration_seconds_count", stage="infer") == 7
        assert ("reflexd_step_duration_seconds_bucket", frozenset({"stage": "total", "le": "0.04"}.items())) in s
        assert total(s, "reflexd_deadline_misses_total") == stats["deadline_misses"]
        assert total(s, "reflexd_probe_steps_total") == stats["probes"] == 0
        assert total(s, "reflexd_budget_target_fraction") == 0.7
        assert total(s, "reflexd_budget_realised_fraction") == pytest.approx(stats["mean_fraction"])
        assert total(s, "reflexd_budget_deadline_seconds") == 0.04
        assert total(s, "reflexd_budget_window_steps") == stats["window_steps"] == 7
        for i, t in enumerate(stats["thresholds"]):
            key = ("reflexd_exit_threshold", frozenset({"exit": str(i + 1)}.items()))
            assert (s[key] == pytest.approx(t)) if t is not None else key not in s
        assert total(s, "reflexd_loaded_exits") == EXITS and total(s, "reflexd_model_exits") == EXITS
        assert total(s, "reflexd_resident_model_bytes") == stats["resident_model_bytes"]
        assert total(s, "reflexd_sessions") == 2 and total(s, "reflexd_paused") == 1
        assert total(s, "reflexd_curve_denials_total") == 0
        assert total(s, "reflexd_model_info", model=stats["model"], sha256=stats["model_sha256"]) == 1
        assert total(s, "reflexd_build_info") == 1
        assert total(s, "reflexd_robot_steps_total", robot="met-a") == 6
        assert total(s, "reflexd_robot_steps_total", robot="met-b") == 1

        control.resume()
        assert total(samples(scrape(url)), "reflexd_paused") == 0
        # Sessions idle past session_idle_s go, and their per-robot series with them.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and control.stats()["sessions"]:
            time.sleep(0.2)
        s = samples(scrape(url))
        assert total(s, "reflexd_sessions") == 0
        assert not any(name.startswith("reflexd_robot_") for name, _ in s)
        assert control.stats()["robots"] == {}

    # Only GET /metrics is served.
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(url.replace("/metrics", "/"), timeout=10)
    assert error.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"), timeout=10)
    assert error.value.code == 405


def test_a_scraper_that_never_finishes_does_not_delay_steps(start_daemon):
    daemon = start_daemon({"metrics": {"listen": "127.0.0.1:0"}})
    host, port = re.match(r"http://([\d.]+):(\d+)/", metrics_url(daemon)).groups()
    stuck = [socket.create_connection((host, int(port)), timeout=15) for _ in range(8)]
    try:
        for s in stuck:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")        # never ends its headers
        sent = time.monotonic()
        with daemon.client(timeout_ms=2000) as client:
            for t in range(20):
                _, info = step(client, "slow-scrape", t)
                assert info["type"] == "action"
        # A well-behaved scrape is still answered beside them.
        assert "reflexd_steps_total" in scrape(metrics_url(daemon))
        # Bounded: 16 connections at most; one more is closed at once, and quiet ones are closed
        # after 10 s.
        stuck += [socket.create_connection((host, int(port)), timeout=15) for _ in range(8)]
        time.sleep(0.2)
        extra = socket.create_connection((host, int(port)), timeout=10)
        assert extra.recv(100) == b""
        extra.close()
        assert stuck[0].recv(100) == b""                      # closed by the daemon when idle
        assert 9.5 < time.monotonic() - sent < 14
        assert "reflexd_steps_total" in scrape(metrics_url(daemon))
        # And they do not hold up a stop (CONTRACT 3: exit 0 within 2 s of SIGTERM).
        started = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - started < 2.0
    finally:
        for s in stuck:
            s.close()


def test_metrics_off_when_absent_and_a_taken_port_is_a_start_error(start_daemon):
    daemon = start_daemon()
    assert daemon.stats()["metrics_listen"] is None and daemon.stats()["trace"] is None
    assert "/metrics" not in daemon.log()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        blocked = Daemon({"metrics": {"listen": f"127.0.0.1:{port}"}}).start(wait=False)
        try:
            assert blocked.proc.wait(30) == 78                  # EX_CONFIG, as for any bind failure
            assert "metrics.listen" in blocked.log() and "Address already in use" in blocked.log()
        finally:
            blocked.stop()
            blocked.cleanup()
    finally:
        taken.close()


def test_trace_has_one_line_per_step_with_its_decision(start_daemon, tmp_path):
    path = tmp_path / "trace.jsonl"
    daemon = start_daemon({"trace": {"path": str(path), "max_bytes": 4096, "keep": 2},
                           "budget": {"average_fraction": 0.7, "deadline_ms": 40}, "scheduler": {"mode": "fixed"}})
    with daemon.client() as client:
        replies = [step(client, f"tr-{t % 2}", t)[1] for t in range(40)]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and daemon.stats()["trace"]["written"] < 40:
        time.sleep(0.05)
    assert daemon.stats()["trace"] == {"written": 40, "dropped": 0}
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["trace.jsonl", "trace.jsonl.1", "trace.jsonl.2"]          # rotated by size, 2 kept
    assert all((tmp_path / f).stat().st_size <= 4096 for f in files)
    lines = [json.loads(l) for f in reversed(files) for l in (tmp_path / f).read_text().splitlines()]
    kept = {(l["robot"], l["seq"]): l for l in lines}
    assert len(kept) == len(lines) and 0 < len(lines) <= 40
    for r in replies:
        line = kept.get((r["robot"], r["seq"]))
        if line is None:
            continue                                        # in a rotated-out file
        assert line["exit"] == r["exit"] and line["reason"] == r["reason"]
        assert line["gflops"] == pytest.approx(r["gflops"])
        assert len(line["distances"]) == r["exit"] and len(line["thresholds"]) == EXITS
        assert line["thresholds"][-1] is None and line["target_fraction"] == 0.7 and line["deadline_ms"] == 40
        assert line["queue_us"] <= line["total_us"] and line["infer_us"] <= line["total_us"]
    assert lines[-1]["robot"] == replies[-1]["robot"] and lines[-1]["seq"] == replies[-1]["seq"]

    # The plot tool reads the live and rotated files and writes a PNG.
    png = tmp_path / "trace.png"
    done = subprocess.run([sys.executable, "-m", "reflex_trace.plot", *map(str, tmp_path.glob("trace.jsonl*")), "--out", str(png)],
                          capture_output=True, text=True, timeout=120, cwd=REPO / "tools")
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"{len(lines)} steps, 2 robots" in done.stdout


def test_top_shows_robots_budget_and_exits_in_80x24_and_quits_on_q(start_daemon):
    assert TMUX, "tmux not installed (tools/setup installs it)"
    daemon = start_daemon({"budget": {"average_fraction": 0.7, "deadline_ms": 40}, "scheduler": {"mode": "fixed"}})
    session = f"reflex-top-{daemon.pid}"
    with daemon.client() as client:
        for t in range(5):
            step(client, "top-a", t)
            step(client, "top-b", 100 + t)
        subprocess.run([TMUX, "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                        f"{REFLEX} top --endpoint {daemon.control}"], check=True)
        try:
            screen = ""
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                step(client, "top-a", 7)
                time.sleep(0.3)
                screen = subprocess.run([TMUX, "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
                if "top-b" in screen and re.search(r"top-a\s+\d+\.\d", screen):
                    break
            lines = screen.splitlines()
            assert len(lines) <= 24 and all(len(l) <= 80 for l in lines), screen
            assert "reflexd tiny" in screen and "serving" in screen
            assert "budget  target 0.70" in screen and "deadline 40.0 ms" in screen
            assert re.search(r"thresholds\s+e1 ", screen)
            assert "exits since start" in screen and re.search(rf"^\s+{EXITS}\s", screen, re.M)
            assert re.search(r"^top-a\s+\d+\.\d\s+\d\.\d\d\s+(threshold|last|deadline)\s", screen, re.M), screen
            assert re.search(r"^top-b\s", screen, re.M) and "q quits" in screen
            # --once: one plain frame, no terminal control, for scripts and logs.
            once = run_reflex("top", "--once", "--interval", "0.2", "--endpoint", daemon.control)
            assert once.returncode == 0, once.stderr
            assert "\x1b" not in once.stdout and "top-a" in once.stdout and "budget  target 0.70" in once.stdout
            assert len(once.stdout.splitlines()) <= 24 and all(len(l) <= 80 for l in once.stdout.splitlines())
            assert "q quits" not in once.stdout and once.stdout.splitlines()[-1].strip()   # no footer, no padding
            dead = run_reflex("top", "--once", "--timeout-ms", "300", "--endpoint", f"ipc://{daemon.dir}/nobody")
            assert dead.returncode == 1 and "Usage" not in dead.stderr and "no reply" in dead.stderr, dead
            subprocess.run([TMUX, "send-keys", "-t", session, "q"], check=True)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and subprocess.run([TMUX, "has-session", "-t", session]).returncode == 0:
                time.sleep(0.1)
            assert subprocess.run([TMUX, "has-session", "-t", session], capture_output=True).returncode != 0, "top did not quit on q"
        finally:
            subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True)


def test_prometheus_scrapes_reflexd_and_answers_every_dashboard_query(start_daemon, tmp_path):
    """The scrape config of docs/OPERATIONS.md in a real Prometheus server, and every query of
    etc/grafana-reflexd.json evaluated by it."""
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus not installed (tools/setup installs Debian's prometheus package)"
    daemon = start_daemon({"metrics": {"listen": "127.0.0.1:0"}, "budget": {"average_fraction": 0.7, "deadline_ms": 40}})
    target = re.match(r"http://([\d.:]+)/metrics", metrics_url(daemon)).group(1)
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: reflexd\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        web = f"127.0.0.1:{s.getsockname()[1]}"
    server = subprocess.Popen([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                               f"--web.listen-address={web}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def query(expr):
        url = f"http://{web}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "success", (expr, answer)
        return answer["data"]["result"]

    try:
        with daemon.client() as client:
            deadline = time.monotonic() + 60
            seen = []
            while time.monotonic() < deadline:
                for t in range(10):
                    step(client, f"prom-{t % 2}", t)
                time.sleep(0.5)
                try:
                    seen = query('reflexd_steps_total{job="reflexd"}')
                    up = query('up{job="reflexd"}')
                except OSError:
                    continue                                # the server is still starting
                if seen and up and up[0]["value"][1] == "1" and len(query("reflexd_step_duration_seconds_count")) == 3:
                    break
            assert seen, "Prometheus never scraped reflexd"
        dashboard = json.loads((REPO / "etc" / "grafana-reflexd.json").read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        assert len(exprs) >= 10
        for expr in exprs:
            query(expr.replace("$__rate_interval", "30s").replace("$instance", ".*"))
        assert float(query("max(reflexd_budget_target_fraction)")[0]["value"][1]) == 0.7
        assert float(query("max(reflexd_budget_deadline_seconds)")[0]["value"][1]) == 0.04
    finally:
        server.terminate()
        server.wait(20)


def test_curve_denials_are_counted_in_the_metrics(tmp_path):
    from reflex_client import ReflexClient

    from .harness import stopped_cleanly

    keys, clients = tmp_path / "keys", tmp_path / "clients"
    for name, where in (("server", keys), ("robot", keys), ("stranger", keys)):
        assert run_reflex("keygen", "--out", where, "--name", name).returncode == 0
    clients.mkdir()
    operators = tmp_path / "operators"
    operators.mkdir()
    (keys / "robot.public").rename(clients / "robot.public")
    daemon = Daemon({"metrics": {"listen": "127.0.0.1:0"},
                     "security": {"curve": {"enabled": True, "server_secret_key": str(keys / "server.secret"),
                                            "authorized_keys": str(clients), "operator_keys": str(operators)}}})
    try:
        daemon.start(wait=False)
        url = metrics_url(daemon)
        assert total(samples(scrape(url)), "reflexd_curve_denials_total") == 0
        stranger = dict(server_public_key=str(keys / "server.public"), client_secret_key=str(keys / "stranger.secret"),
                        client_public_key=str(keys / "stranger.public"))
        with ReflexClient(daemon.policy, timeout_ms=500, **stranger) as client:
            with pytest.raises(TimeoutError):
                client.ping()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and total(samples(scrape(url)), "reflexd_curve_denials_total") < 1:
            time.sleep(0.1)
        assert total(samples(scrape(url)), "reflexd_curve_denials_total") >= 1
        assert "CURVE client denied" in daemon.log()
    finally:
        stopped_cleanly(daemon)
