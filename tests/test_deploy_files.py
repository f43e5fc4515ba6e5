"""The deployment files in deploy/ and the commands in docs/deploy.md match synchub.

Every `synchub ...` command line they contain is parsed by the real CLI (a renamed
command or option fails here, not on a user's server); the compose file publishes
only on loopback, hard-codes no secret and migrates before anything starts; stop
timeouts leave running runs their shutdown grace. `docker compose config` and
`systemd-analyze verify` are run where those tools exist, and skipped otherwise:
they only parse, no Docker engine or systemd instance is needed.
"""

from __future__ import annotations

import configparser
import http.server
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from synchub.cli import app
from synchub.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
SUPERVISORD = DEPLOY / "supervisord.conf"
UNITS = DEPLOY / "systemd"
DOCS = ROOT / "docs" / "deploy.md"

SHUTDOWN_GRACE_S = max(
    float(Settings.model_fields["shutdown_grace"].default),
    float(Settings.model_fields["worker_shutdown_grace"].default),
)
KILL_GRACE_S = float(Settings.model_fields["kill_grace"].default)
SYNCHUB_SERVICES = {"migrate", "api", "scheduler-standby", "worker-1", "worker-2"}
SECRET_NAME = re.compile(r"PASSWORD|PASS$|SECRET|TOKEN|_KEY$|BASIC_AUTH", re.IGNORECASE)
#: a Fernet key, or anything else that looks like one
KEY_LIKE = re.compile(r"[A-Za-z0-9_-]{43}=")


# -- helpers ------------------------------------------------------------------------


class NotACommand(Exception):
    """synchub's CLI would refuse this command line."""


def cli_parse(argv: list[str]) -> None:
    """Parse `synchub ARGV` with the real CLI, without running it.

    Raises NotACommand when a command or an option does not exist or a value does
    not convert. (Typer may vendor its own click, so its classes and exceptions are
    recognised by shape: a group has `commands`, a usage error has exit code 2.)
    """
    command: Any = typer.main.get_command(app)
    args = list(argv)
    path = ["synchub"]
    while isinstance(getattr(command, "commands", None), dict):
        if args == ["--help"]:
            return
        if not args:
            raise NotACommand(f"`{' '.join(path)}` needs a subcommand")
        name = args.pop(0)
        sub = command.commands.get(name)
        if sub is None:
            raise NotACommand(f"`{' '.join(path)}` has no command {name!r}")
        command, path = sub, [*path, name]
    try:
        command.make_context(" ".join(path), args)
    except Exception as exc:
        if getattr(exc, "exit_code", None) == 2:
            raise NotACommand(f"synchub {' '.join(argv)}: {exc}") from exc
        raise


def seconds(value: str | int | float) -> float:
    """A duration as Compose (`45s`, `1m30s`) or systemd (`60s`, `2min`) writes it."""
    if isinstance(value, int | float):
        return float(value)
    units = {"h": 3600, "min": 60, "m": 60, "s": 1, "ms": 0.001, "": 1}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|min|h|m|s|)", value.strip())
    assert parts, f"unparsable duration {value!r}"
    return sum(float(n) * units[u] for n, u in parts)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def env_items(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def unit_values(path: Path, key: str) -> list[str]:
    """Every value of `key` in a systemd unit, continuation lines joined."""
    text = path.read_text().replace("\\\n", " ")
    return [
        line.split("=", 1)[1].strip()
        for line in text.splitlines()
        if line.strip().startswith(f"{key}=")
    ]


def unit_argv(exec_start: str) -> list[str]:
    """ExecStart of a unit as the argv synchub would get, with the instance and
    environment variables replaced by sample values."""
    line = exec_start.replace("%i", "default").replace("%I", "default").replace("%H", "host")
    line = re.sub(r"\$\{SYNCHUB_WORKER_CONCURRENCY\}", "2", line)
    line = re.sub(r"\$\{SYNCHUB_WORKER_QUEUES\}", "default,nas", line)
    assert "$" not in line, f"an environment variable the test does not know: {line}"
    return shlex.split(line)


def supervisord_programs() -> dict[str, configparser.SectionProxy]:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    parser.read_string(SUPERVISORD.read_text())
    return {s.split(":", 1)[1]: parser[s] for s in parser.sections() if s.startswith("program:")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- the CLI parser this file relies on ------------------------------------------------


def test_cli_parse_rejects_what_synchub_does_not_have() -> None:
    cli_parse(["worker", "--concurrency", "2", "--queues", "default,nas"])
    cli_parse(["db", "upgrade"])
    with pytest.raises(NotACommand):
        cli_parse(["wroker"])
    with pytest.raises(NotACommand):
        cli_parse(["worker", "--concurency", "2"])
    with pytest.raises(NotACommand):
        cli_parse(["worker", "--concurrency", "two"])
    with pytest.raises(NotACommand):
        cli_parse(["db"])


# -- docker-compose.yml ---------------------------------------------------------------


def test_compose_has_the_documented_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SYNCHUB_SERVICES | {
        "postgres",
        "redis",
        "rabbitmq",
        "flower",
    }
    assert compose["services"]["rabbitmq"]["profiles"] == ["rabbitmq"]


@pytest.mark.parametrize("name", sorted(SYNCHUB_SERVICES))
def test_compose_synchub_commands_are_real_commands(compose: dict[str, Any], name: str) -> None:
    command = compose["services"][name]["command"]
    assert isinstance(command, list), "exec form: no shell between Docker and synchub"
    assert command[0] == "synchub"
    cli_parse(command[1:])


def test_compose_runs_the_documented_processes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["synchub", "db", "upgrade"]
    assert services["api"]["command"] == ["synchub", "serve", "--no-workers"]
    assert services["scheduler-standby"]["command"] == ["synchub", "scheduler"]
    for worker in ("worker-1", "worker-2"):
        assert services[worker]["command"][:4] == ["synchub", "worker", "--concurrency", "2"]


def test_compose_flower_uses_synchub_celery_app(compose: dict[str, Any]) -> None:
    flower = compose["services"]["flower"]
    assert flower["command"][:4] == ["celery", "-A", "synchub.celery_app", "flower"]
    assert flower["build"]["target"] == "flower"
    import importlib.util

    assert importlib.util.find_spec("synchub.celery_app") is not None


def test_compose_every_synchub_process_waits_for_the_migration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["restart"] == "no"
    for name in SYNCHUB_SERVICES - {"migrate"}:
        after = services[name]["depends_on"]["migrate"]
        assert after["condition"] == "service_completed_successfully", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"]


def test_compose_shares_one_configuration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    envs = [env_items(services[name]) for name in sorted(SYNCHUB_SERVICES)]
    assert all(env == envs[0] for env in envs), "every synchub process: the same settings"
    env = envs[0]
    assert env["SYNCHUB_EXECUTOR"] == "celery"
    assert env["SYNCHUB_SECRET_KEY"].startswith("${SYNCHUB_SECRET_KEY:?")
    assert env["SYNCHUB_DATABASE_URL"].startswith("postgresql://")
    assert env["SYNCHUB_BROKER_URL"] == "${SYNCHUB_BROKER_URL:-redis://redis:6379/0}"
    assert env_items(services["flower"])["SYNCHUB_BROKER_URL"] == env["SYNCHUB_BROKER_URL"]


def test_compose_publishes_only_on_loopback(compose: dict[str, Any]) -> None:
    published = {
        name: service["ports"]
        for name, service in compose["services"].items()
        if "ports" in service
    }
    assert set(published) == {"api", "flower"}
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_compose_hard_codes_no_secret(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in env_items(service).items():
            if SECRET_NAME.search(key):
                assert "${" in value, f"{name}: {key} is written in the file"
            # ${SECRET:-default} would be a secret written in the file.
            for var, default in re.findall(r"\$\{(\w+):?-([^}]*)\}", value):
                if SECRET_NAME.search(var):
                    assert default == "", f"{name}: {var} has a default in {key}"
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert password.startswith("${"), f"{name}: {key} holds a password"
    assert not KEY_LIKE.search(COMPOSE.read_text())


def test_compose_refuses_to_start_without_the_secrets(compose: dict[str, Any]) -> None:
    env = env_items(compose["services"]["api"])
    assert env["SYNCHUB_SECRET_KEY"].startswith("${SYNCHUB_SECRET_KEY:?")
    assert "${POSTGRES_PASSWORD:?" in env["SYNCHUB_DATABASE_URL"]
    basic_auth = env_items(compose["services"]["flower"])["FLOWER_BASIC_AUTH"]
    assert "${FLOWER_PASSWORD:?" in basic_auth
    rabbitmq = compose["services"]["rabbitmq"]
    assert "RABBITMQ_DEFAULT_PASS" in " ".join(rabbitmq["entrypoint"]), "refuses an empty one"


def test_compose_stops_leave_runs_their_grace(compose: dict[str, Any]) -> None:
    for name in SYNCHUB_SERVICES - {"migrate"}:
        service = compose["services"][name]
        assert seconds(service["stop_grace_period"]) > SHUTDOWN_GRACE_S + KILL_GRACE_S, name
        assert service["init"] is True, f"{name}: a PID 1 that reaps orphaned rclone"


def test_compose_health_is_checked_only_where_http_is_served(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "/healthz" in " ".join(services["api"]["healthcheck"]["test"])
    for name in SYNCHUB_SERVICES - {"api"}:
        assert services[name]["healthcheck"] == {"disable": True}, name


def test_env_example_holds_no_secret() -> None:
    for example in (DEPLOY / "synchub.env.example", UNITS / "synchub.env.example"):
        for line in example.read_text().splitlines():
            line = line.lstrip("#").strip()
            if "=" not in line or " " in line.split("=", 1)[0]:
                continue
            key, value = line.split("=", 1)
            if SECRET_NAME.search(key):
                assert value == "", f"{example.name}: {key} has a value"
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert password.isupper() or password.startswith("<"), f"{example.name}: {key}"


def compose_command() -> list[str]:
    """`docker compose`, or a standalone Compose v2 `docker-compose`; skip without one."""
    candidates = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for command in candidates:
        try:
            version = subprocess.run(
                [*command, "version"], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        major = re.search(r"version v?(\d+)\.", version.stdout, re.IGNORECASE)
        if version.returncode == 0 and major and int(major[1]) >= 2:
            return command
    pytest.skip("no Docker Compose v2 (`docker compose` plugin or docker-compose v2)")


def run_compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    # The caller's own settings must not leak in: the shell wins over --env-file.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SYNCHUB_", "POSTGRES_", "FLOWER_", "RABBITMQ_", "COMPOSE_"))
    }
    argv = [*compose_command(), "-f", str(COMPOSE), "--env-file", str(env_file)]
    return subprocess.run(
        [*argv, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.fixture
def filled_env(tmp_path: Path) -> Path:
    values = {
        "SYNCHUB_SECRET_KEY": "dGVzdC1rZXk",
        "POSTGRES_PASSWORD": "pgpw",
        "FLOWER_PASSWORD": "flowerpw",
    }
    lines = []
    for line in (DEPLOY / "synchub.env.example").read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={values[key]}" if key in values else line)
    path = tmp_path / "compose.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_docker_compose_config_accepts_the_file(filled_env: Path) -> None:
    result = run_compose_config(filled_env)
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    assert "rabbitmq" not in model["services"], "RabbitMQ only with its profile"
    api = model["services"]["api"]
    assert api["environment"]["SYNCHUB_SECRET_KEY"] == "dGVzdC1rZXk"
    assert api["environment"]["SYNCHUB_DATABASE_URL"] == (
        "postgresql://synchub:pgpw@postgres:5432/synchub"
    )
    assert [p["host_ip"] for p in api["ports"]] == ["127.0.0.1"]
    assert model["services"]["flower"]["environment"]["FLOWER_BASIC_AUTH"] == "admin:flowerpw"


def test_docker_compose_config_switches_to_rabbitmq(filled_env: Path) -> None:
    with filled_env.open("a") as env:
        env.write(
            "COMPOSE_PROFILES=rabbitmq\nRABBITMQ_PASSWORD=rabbitpw\n"
            "SYNCHUB_BROKER_URL=amqp://synchub:rabbitpw@rabbitmq:5672//\n"
        )
    result = run_compose_config(filled_env)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"] == "rabbitpw"
    for name in (*SYNCHUB_SERVICES, "flower"):
        broker = services[name]["environment"]["SYNCHUB_BROKER_URL"]
        assert broker == "amqp://synchub:rabbitpw@rabbitmq:5672//", name


@pytest.mark.parametrize("missing", ["SYNCHUB_SECRET_KEY", "POSTGRES_PASSWORD", "FLOWER_PASSWORD"])
def test_docker_compose_config_refuses_a_missing_secret(filled_env: Path, missing: str) -> None:
    lines = filled_env.read_text().splitlines()
    filled_env.write_text("\n".join(x for x in lines if not x.startswith(f"{missing}=")) + "\n")
    result = run_compose_config(filled_env)
    assert result.returncode != 0
    assert missing in result.stderr


# -- Dockerfile -----------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def test_dockerfile_default_stage_serves_as_a_non_root_user() -> None:
    stage = final_stage()
    assert stage[0] == ("FROM", "base AS synchub")
    words = dict(stage)
    user = words["USER"].split(":")[0]
    assert user.isdigit() and int(user) != 0
    assert json.loads(words["CMD"]) == ["synchub", "serve"]
    cli_parse(json.loads(words["CMD"])[1:])
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(v for w, v in stage if w == "ENV")))
    assert env["SYNCHUB_HOME"] == "/data"
    assert env["SYNCHUB_HOST"] == "0.0.0.0"
    assert json.loads(words["VOLUME"]) == ["/data"]
    assert words["EXPOSE"] == "8080"


def test_dockerfile_base_is_slim_python_311() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim", text)
    installs = " ".join(v for w, v in dockerfile_instructions() if w == "RUN")
    assert not re.search(r"\b(gcc|build-essential|apt-get)\b", installs), "no compiler"


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", "data"} <= ignored
    for word, rest in dockerfile_instructions():
        if word == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert source not in ignored, source


def test_dockerfile_flower_stage_runs_flower_on_synchub_app() -> None:
    instructions = dockerfile_instructions()
    start = instructions.index(("FROM", "base AS flower"))
    cmd = next(v for w, v in instructions[start:] if w == "CMD")
    assert json.loads(cmd)[:4] == ["celery", "-A", "synchub.celery_app", "flower"]


@pytest.fixture
def healthz_server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_dockerfile_healthcheck_fails_when_down_and_passes_when_up(healthz_server: int) -> None:
    line = next(v for w, v in dockerfile_instructions() if w == "HEALTHCHECK")
    argv = json.loads(line[line.index("CMD") + 3 :])
    assert argv[0] == "python"
    argv[0] = sys.executable

    def check(port: int) -> int:
        env = {**os.environ, "SYNCHUB_PORT": str(port)}
        return subprocess.run(argv, env=env, capture_output=True, timeout=30).returncode

    assert check(free_port()) != 0
    assert check(healthz_server) == 0


# -- systemd units --------------------------------------------------------------------

UNIT_COMMANDS = {
    "synchub.service": ["serve"],
    "synchub-api.service": ["serve", "--no-scheduler", "--no-workers"],
    "synchub-scheduler.service": ["scheduler"],
    "synchub-worker@.service": ["worker"],
}


@pytest.mark.parametrize("unit", sorted(UNIT_COMMANDS))
def test_unit_runs_a_real_synchub_command(unit: str) -> None:
    path = UNITS / unit
    (exec_start,) = unit_values(path, "ExecStart")
    argv = unit_argv(exec_start)
    assert argv[0] == "/opt/synchub/bin/synchub"
    assert argv[1 : 1 + len(UNIT_COMMANDS[unit])] == UNIT_COMMANDS[unit]
    cli_parse(argv[1:])
    for pre in unit_values(path, "ExecStartPre"):
        cli_parse(unit_argv(pre)[1:])


@pytest.mark.parametrize("unit", sorted(UNIT_COMMANDS))
def test_unit_is_sandboxed_and_stops_gracefully(unit: str) -> None:
    path = UNITS / unit

    def one(key: str) -> str:
        (value,) = unit_values(path, key)
        return value

    assert one("User") == "synchub"
    assert "/etc/synchub/synchub.env" in unit_values(path, "EnvironmentFile")
    assert one("Restart") == "on-failure"
    assert one("NoNewPrivileges") == "yes"
    assert one("ProtectSystem") == "strict"
    assert "/var/lib/synchub" in unit_values(path, "ReadWritePaths")
    assert one("PrivateTmp") == "yes"
    assert one("KillMode") == "mixed", "SIGTERM to synchub, not to every rclone"
    assert seconds(one("TimeoutStopSec")) > SHUTDOWN_GRACE_S + KILL_GRACE_S


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at this environment's synchub.
    synchub = str(Path(sys.executable).parent / "synchub")
    if not Path(synchub).exists():
        synchub = shutil.which("synchub") or synchub
    assert Path(synchub).exists(), "synchub is installed in the test environment"
    for unit in UNIT_COMMANDS:
        text = (UNITS / unit).read_text().replace("/opt/synchub/bin/synchub", synchub)
        (tmp_path / unit).write_text(text)
    names = [n.replace("@.service", "@default.service") for n in sorted(UNIT_COMMANDS)]
    result = subprocess.run(
        [analyze, "verify", *(str(tmp_path / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0 and "Failed to initialize manager" in result.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {result.stderr.strip()}")
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if str(tmp_path) in line or "synchub" in line
    ]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


# -- supervisord.conf -----------------------------------------------------------------


def test_supervisord_runs_api_with_scheduler_and_a_worker() -> None:
    programs = supervisord_programs()
    assert shlex.split(programs["api"]["command"]) == ["synchub", "serve", "--no-workers"]
    assert shlex.split(programs["worker"]["command"])[:2] == ["synchub", "worker"]
    for name in ("api", "worker"):
        cli_parse(shlex.split(programs[name]["command"])[1:])
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    parser.read_string(SUPERVISORD.read_text())
    assert parser["supervisord"]["nodaemon"] == "true"
    assert 'SYNCHUB_EXECUTOR="celery"' in parser["supervisord"]["environment"]


def test_supervisord_logs_to_stdout_and_stops_gracefully() -> None:
    for name, program in supervisord_programs().items():
        assert program["stdout_logfile"] == "/dev/stdout", name
        assert program["stdout_logfile_maxbytes"] == "0", name
        assert program["redirect_stderr"] == "true", name
        if name != "redis":
            assert float(program["stopwaitsecs"]) > SHUTDOWN_GRACE_S + KILL_GRACE_S, name
            assert program["stopsignal"] == "TERM", name


# -- docs/deploy.md -------------------------------------------------------------------

#: a token before `synchub` that makes it a user or group name, not the command
NOT_THE_COMMAND = {"-u", "--user", "-g", "--group", "-o", "--owner", "-U", "-t", "--name"}
#: `synchub-cli` is the docs' shell function: synchub as the service user
COMMAND_NAMES = {"synchub", "synchub-cli"}
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "&", "2>&1"}


def doc_commands() -> list[list[str]]:
    """Every `synchub ...` command line in the ```sh blocks of docs/deploy.md, but
    those whose arguments come from the shell ("$@")."""
    text = DOCS.read_text()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("#"):
                continue
            try:
                words = shlex.split(line)
            except ValueError:
                continue
            for i, word in enumerate(words):
                named = word in COMMAND_NAMES or word.endswith("/bin/synchub")
                if not named or (i and words[i - 1] in NOT_THE_COMMAND):
                    continue
                if words[i + 1 : i + 2] and words[i + 1] in COMMAND_NAMES:
                    continue  # `docker run IMAGE synchub ...`: the image has synchub's name
                args = []
                for arg in words[i + 1 :]:
                    if arg in SHELL_OPERATORS or arg.startswith((">", "2>", "$(")):
                        break
                    args.append(arg)
                if args and not any(arg.startswith("$") for arg in args):
                    commands.append(args)
                break
    return commands


def test_docs_exist_and_show_commands() -> None:
    commands = doc_commands()
    assert len(commands) >= 10
    shown = {c[0] for c in commands}
    assert {"init", "serve", "scheduler", "worker", "db"} <= shown


@pytest.mark.parametrize("argv", doc_commands(), ids=lambda argv: " ".join(argv))
def test_docs_synchub_commands_are_real(argv: list[str]) -> None:
    cli_parse(argv)
