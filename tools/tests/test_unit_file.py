"""The systemd unit (issue #12 section 7): limits on memory, tasks, files, core dumps and the log
rate, and `systemd-analyze verify` finds nothing wrong with it (against the built reflexd)."""
import configparser
import shutil
import subprocess

from .harness import REFLEXD, REPO

UNIT = REPO / "systemd" / "reflexd.service"


def service_section() -> dict:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(UNIT.read_text())
    return dict(parser["Service"])


def test_the_unit_caps_what_the_daemon_may_hold():
    service = service_section()
    assert service["MemoryMax"] == "1G" and service["MemorySwapMax"] == "0"
    assert int(service["TasksMax"]) <= 128
    assert int(service["LimitNOFILE"]) <= 65536
    assert service["LimitCORE"] == "0"
    assert service["LogRateLimitIntervalSec"] and int(service["LogRateLimitBurst"]) > 0
    assert service["RestartPreventExitStatus"] == "78" and service["Restart"] == "on-failure"


def test_systemd_analyze_verify_accepts_it(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian's systemd package) is part of the test set-up"
    unit = tmp_path / "reflexd.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/reflexd", str(REFLEXD)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if line.strip() and "Documentation=" not in line and "file:///usr/local/share/doc" not in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr
