"""The Python distribution (tools/pyproject.toml) in the shape the house issue asks: the client
alone needs only pyzmq and numpy, the tooling comes as extras, every console script resolves."""
import json
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def project():
    return tomllib.loads(PYPROJECT.read_text())["project"]


def test_the_client_depends_on_pyzmq_and_numpy_only():
    names = sorted(d.split(">")[0].split("=")[0].split("<")[0].strip() for d in project()["dependencies"])
    assert names == ["numpy", "pyzmq"]
    assert project()["name"] == "reflexd-client"


def test_importing_the_client_loads_no_third_party_module_but_zmq_and_numpy():
    # the heavy tooling packages are made unimportable (an import of one raises): the client must not need them
    code = """
import sys, json
for blocked in ("torch", "metaworld", "mujoco", "matplotlib", "onnx", "onnxruntime", "safetensors"):
    sys.modules[blocked] = None
import reflex_client
from reflex_client import ReflexClient, ControlClient, ActionSubscriber, ChunkedPolicy
top = {name.split(".")[0] for name, module in sys.modules.items() if module is not None}
# leading "_" and cython_runtime: the interpreter's, site's and extension modules' own helpers
print(json.dumps(sorted(n for n in top - set(sys.stdlib_module_names) if not n.startswith("_") and n != "cython_runtime")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(json.loads(out.stdout)) <= {"reflex_client", "zmq", "numpy"}


def test_extras_name_the_tooling_packages():
    extras = project()["optional-dependencies"]
    assert {"model", "sim", "test", "all"} <= set(extras)
    assert any(d.startswith("torch") for d in extras["model"])
    assert any(d.startswith("metaworld") for d in extras["sim"])


def test_every_console_script_resolves_to_a_callable_main():
    declared = project()["scripts"]
    installed = {ep.name: ep for ep in metadata.entry_points(group="console_scripts")
                 if ep.dist is not None and ep.dist.name == "reflexd-client"}
    assert set(declared) == set(installed), "tools/setup installs tools/ editable; rerun it after editing"
    for name, ep in installed.items():
        assert ep.value == declared[name]
        assert callable(ep.load()), name
