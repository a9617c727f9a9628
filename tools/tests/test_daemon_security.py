"""CURVE with roles against the real reflexd (CONTRACT section 4, issue #12 sections 2-3): robot
keys on the policy socket, operator keys alone on the control socket, OpenSSH-style checks of
the key folders, keys read again on reload; and the resources a peer can make the daemon hold."""
import os
import re
import signal
import stat
import subprocess
import time

import numpy as np
import pytest
import zmq

from reflex_client import ControlClient, ReflexClient

from .harness import INSTRUCTION, REFLEXD, Daemon, RawDealer, observation, run_reflex, step_frames, stopped_cleanly

Z85_KEY = r"[0-9A-Za-z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}"


def keygen(where, name):
    result = run_reflex("keygen", "--out", where, "--name", name)
    assert result.returncode == 0, result.stderr
    return where / f"{name}.public", where / f"{name}.secret"


@pytest.fixture()
def keys(tmp_path):
    """server, robot and operator key pairs; robots/ and operators/ hold only the public halves."""
    secrets, robots, operators = tmp_path / "secrets", tmp_path / "robots", tmp_path / "operators"
    made = {}
    for name, where in (("server", secrets), ("robot", robots), ("operator", operators), ("stranger", secrets)):
        public, secret = keygen(where, name)
        assert re.fullmatch(Z85_KEY, public.read_text().strip())
        assert re.fullmatch(Z85_KEY, secret.read_text().strip())
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        if where != secrets:
            secret = secret.rename(secrets / secret.name)
        made[name] = dict(server_public_key=str(secrets / "server.public"), client_secret_key=str(secret),
                          client_public_key=str(public))
    made["dirs"] = dict(secrets=secrets, robots=robots, operators=operators)
    return made


def curve_daemon(keys) -> Daemon:
    d = keys["dirs"]
    return Daemon({"security": {"curve": {"enabled": True, "server_secret_key": str(d["secrets"] / "server.secret"),
                                          "authorized_keys": str(d["robots"]),
                                          "operator_keys": str(d["operators"])}}})


def start_curve(daemon: Daemon, robot: dict) -> None:
    """Starts and waits until the robot's key gets a pong (the harness's plain ping cannot)."""
    daemon.start(wait=False)
    for _ in range(100):
        assert daemon.proc.poll() is None, daemon.log()
        with ReflexClient(daemon.policy, timeout_ms=300, **robot) as client:
            try:
                assert client.ping()["type"] == "pong"
                return
            except TimeoutError:
                continue
    raise AssertionError(daemon.log())


def test_robots_step_and_only_operators_control(keys):
    daemon = curve_daemon(keys)
    try:
        start_curve(daemon, keys["robot"])
        with ReflexClient(daemon.policy, timeout_ms=5000, **keys["robot"]) as client:
            image, state = observation(0)
            _, info = client.step("curve-1", INSTRUCTION, image=image, state=state)
            assert info["type"] == "action"
        with ControlClient(daemon.control, timeout_ms=500, **keys["robot"]) as control:   # a robot key
            with pytest.raises(TimeoutError):
                control.stats()
        with ControlClient(daemon.control, timeout_ms=5000, **keys["operator"]) as control:
            assert control.stats()["steps"] == 1
        with ReflexClient(daemon.policy, timeout_ms=500, **keys["operator"]) as client:    # not a robot
            with pytest.raises(TimeoutError):
                client.ping()
        for other in (keys["stranger"], {}):                                               # unknown key, no CURVE
            with ReflexClient(daemon.policy, timeout_ms=500, **other) as client:
                with pytest.raises(TimeoutError):
                    client.ping()
        with ControlClient(daemon.control, timeout_ms=5000, **keys["operator"]) as control:
            assert control.stats()["curve_denied"] >= 3
        log = daemon.log()
        assert "CURVE client denied" in log and "socket=control" in log
        assert "CURVE client admitted" in log and "key=robot" in log and "key=operator" in log
        denied = [line for line in log.splitlines() if "CURVE client denied" in line]
        # keys known in the other role are named, with why; a stranger is shown by its public key
        assert any("key=robot" in x and "a robot key, not an operator key" in x and "socket=control" in x for x in denied), denied
        assert any("key=operator" in x and "an operator key, not a robot key" in x for x in denied), denied
        stranger = open(keys["stranger"]["client_public_key"]).read().strip()
        assert any(f"public_key={stranger}" in x and "unknown client key" in x for x in denied), denied
    finally:
        stopped_cleanly(daemon)


def test_a_revoked_key_is_refused_after_a_reload(keys):
    daemon = curve_daemon(keys)
    try:
        start_curve(daemon, keys["robot"])
        robot = dict(keys["robot"], client_public_key=open(keys["robot"]["client_public_key"]).read().strip())
        os.remove(keys["robot"]["client_public_key"])
        daemon.send_signal(signal.SIGHUP)
        daemon.wait_log("config reloaded")
        with ReflexClient(daemon.policy, timeout_ms=500, **robot) as client:
            with pytest.raises(TimeoutError):
                client.ping()
        assert "robots=0" in daemon.log()
    finally:
        stopped_cleanly(daemon)


def test_unsafe_key_files_are_skipped_by_name_and_an_unsafe_folder_stops_the_start(keys, tmp_path):
    d = keys["dirs"]
    elsewhere = tmp_path / "elsewhere.public"
    elsewhere.write_text(open(keys["stranger"]["client_public_key"]).read())
    (d["robots"] / "linked.public").symlink_to(elsewhere)
    (d["robots"] / "broken.public").write_text("not a key\n")
    writable = d["robots"] / "writable.public"
    writable.write_text(open(keys["stranger"]["client_public_key"]).read())
    writable.chmod(0o666)
    daemon = curve_daemon(keys)
    try:
        start_curve(daemon, keys["robot"])
        log = daemon.log()
        assert re.search(r"linked\.public: a symlink.*key file skipped", log), log
        assert re.search(r"broken\.public: not a 40-character Z85 key.*key file skipped", log), log
        assert re.search(r"writable\.public: writable by group or others.*key file skipped", log), log
        assert "robots=1" in log
    finally:
        stopped_cleanly(daemon)

    d["operators"].chmod(0o777)                       # anyone could add an operator key
    daemon = curve_daemon(keys)
    try:
        daemon.start(wait=False)
        assert daemon.proc.wait(timeout=30) == 78
        assert "operators: writable by group or others (mode 777)" in daemon.log()
    finally:
        d["operators"].chmod(0o755)
        daemon.cleanup()


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])


def test_a_far_oversize_frame_is_cut_off_before_it_is_held():
    """libzmq applies MAXMSGSIZE only to binds made after it is set: a 256 MiB frame was received
    whole (+256 MiB peak RSS) and answered `too_large`. Now the peer is dropped mid-frame."""
    daemon = Daemon({"limits": {"max_message_bytes": 1 << 20}}).start()
    try:
        before = peak_rss_kib(daemon.pid)
        frame = np.zeros(256 << 20, np.uint8)
        with RawDealer(daemon.policy) as dealer:
            dealer.send([b'{"v":1,"type":"ping","robot":"big","seq":1}', frame])
            with pytest.raises(TimeoutError):
                dealer.recv(timeout_ms=2000)
        del frame
        with daemon.client() as client:                # the service goes on for everyone else
            assert client.ping()["type"] == "pong"
        grown = peak_rss_kib(daemon.pid) - before
        assert grown < 32 * 1024, f"peak RSS grew by {grown} KiB"
    finally:
        stopped_cleanly(daemon)


def test_a_robot_that_reconnects_with_its_routing_id_is_served():
    """A robot rebooted while its old connection is half-open reconnects with the same routing id:
    without ROUTER_HANDOVER the daemon kept routing to the dead connection and the robot got no
    reply, ever."""
    daemon = Daemon().start()
    try:
        context = zmq.Context.instance()
        old = context.socket(zmq.DEALER)
        old.setsockopt(zmq.ROUTING_ID, b"arm-7")
        old.setsockopt(zmq.LINGER, 0)
        old.connect(daemon.policy)
        old.send_multipart(step_frames("arm-7", 1))
        assert old.poll(10_000)
        old.recv_multipart()                           # the old connection stays open, unused
        new = context.socket(zmq.DEALER)
        new.setsockopt(zmq.ROUTING_ID, b"arm-7")
        new.setsockopt(zmq.LINGER, 0)
        new.connect(daemon.policy)
        time.sleep(0.2)
        new.send_multipart(step_frames("arm-7", 2))
        assert new.poll(5_000), "the reconnected robot got no reply"
        assert b'"seq":2' in new.recv_multipart()[0]
        old.close()
        new.close()
    finally:
        stopped_cleanly(daemon)


def test_check_config_refuses_what_start_up_refuses(keys):
    """--check-config reads the key files and folders as start-up does (it said ok to a
    world-writable operator folder and a 0644 secret, which then failed the start with exit 78),
    and wants the trace file's folder to exist."""
    d = keys["dirs"]
    daemon = curve_daemon(keys)
    try:
        assert subprocess.run([str(REFLEXD), "--check-config", str(daemon.config_path)],
                              capture_output=True, text=True, timeout=60).returncode == 0
        secret = d["secrets"] / "server.secret"
        for unsafe, key, words in ((d["operators"], "operator_keys", "writable by group or others (mode 777)"),
                                   (secret, "server_secret_key", "must not be readable by group or others")):
            unsafe.chmod(0o777 if unsafe.is_dir() else 0o644)
            try:
                result = subprocess.run([str(REFLEXD), "--check-config", str(daemon.config_path)],
                                        capture_output=True, text=True, timeout=60)
            finally:
                unsafe.chmod(0o755 if unsafe.is_dir() else 0o600)
            assert result.returncode == 1, result
            assert f"security.curve.{key}: " in result.stderr and words in result.stderr, result.stderr
            assert re.match(rf"^{re.escape(str(daemon.config_path))}:\d+:\d+: ", result.stderr), result.stderr
        daemon.set_config({**daemon.config, "trace": {"path": str(d["secrets"] / "absent" / "trace.jsonl")}})
        result = subprocess.run([str(REFLEXD), "--check-config", str(daemon.config_path)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and "trace.path: no such directory" in result.stderr, result
    finally:
        daemon.cleanup()


def test_keygen_names_are_file_names_without_paths_or_spaces(tmp_path):
    for bad in ("../evil", "a b", ".hidden", "a/b", ""):
        result = run_reflex("keygen", "--out", tmp_path / "k", "--name", bad)
        assert result.returncode != 0 and "--name" in result.stderr, (bad, result)
    assert not (tmp_path / "evil.public").exists() and not (tmp_path / "k").exists()
    assert keygen(tmp_path / "k", "arm-1.v2_b")[0].exists()
