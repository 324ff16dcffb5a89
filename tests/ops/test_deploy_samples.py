"""The deployment samples in docs/deploy are parsed and checked against each other and the code: systemd
units, the nginx site, Prometheus' scrape configuration and alert rules, the environment file. When the
tools are installed, ``nginx -t`` and ``systemd-analyze verify`` check them for real."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings, TelegramConfig, WhatsAppConfig
from bot.ops.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"
INSTANCES = (1, 2, 3)


# --- systemd -----------------------------------------------------------------------------------------


def unit(name: str) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit file: section -> [(key, value)] in order (keys may repeat, unlike configparser)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate((DEPLOY / name).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{name}:{number}: a setting outside any section"
        key, sep, value = line.partition("=")
        assert sep and key.strip() and not line.endswith("\\"), f"{name}:{number}: not key=value: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [value for k, value in section if k == key]


def environment(section: list[tuple[str, str]], instance: int) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in values(section, "Environment"):
        name, _, value = line.partition("=")
        env[name] = value.replace("%i", str(instance))
    return env


@pytest.mark.parametrize("name", ["sikesal.service", "sikesal@.service"])
def test_the_systemd_units_run_sikesal_hardened(name: str) -> None:
    sections = unit(name)
    assert set(sections) == {"Unit", "Service", "Install"}
    service = sections["Service"]
    assert values(service, "Type") == ["simple"]
    (exec_start,) = values(service, "ExecStart")
    assert exec_start == "/opt/sikesal/.venv/bin/sikesal run"
    assert "/etc/sikesal/env" in values(service, "EnvironmentFile")
    assert values(service, "Restart") == ["always"]
    assert values(service, "User") == ["sikesal"]
    for key, expected in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                          ("PrivateTmp", "yes")):
        assert values(service, key) == [expected], key
    assert values(service, "ReadWritePaths") == ["/var/lib/sikesal"], "writes only to the data directory"
    assert values(sections["Install"], "WantedBy") == ["multi-user.target"]
    assert "network-online.target" in values(sections["Unit"], "Wants")


def template_ports() -> tuple[list[int], list[int]]:
    """The webhook and metrics ports of instances 1..3 of sikesal@.service."""
    service = unit("sikesal@.service")["Service"]
    http, metrics = [], []
    for n in INSTANCES:
        env = environment(service, n)
        http.append(int(env["SIKESAL_HTTP_PORT"]))
        metrics.append(int(env["SIKESAL_METRICS_PORT"]))
    return http, metrics


def test_the_template_gives_every_instance_its_own_ports_on_localhost() -> None:
    service = unit("sikesal@.service")["Service"]
    http, metrics = template_ports()
    assert http == [8081, 8082, 8083] and metrics == [9471, 9472, 9473]
    env = environment(service, 1)
    assert env["SIKESAL_HTTP_HOST"] == env["SIKESAL_METRICS_HOST"] == "127.0.0.1", "only the proxy is public"
    assert "-/etc/sikesal/%i.env" in values(service, "EnvironmentFile"), "optional per-instance overrides"


def test_the_environment_sample_names_only_known_variables() -> None:
    known = {field.alias for field in Settings.model_fields.values() if field.alias} | {"SIKESAL_REDIS_URL"}
    text = (DEPLOY / "env.example").read_text(encoding="utf-8")
    names = re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE)
    assert "TELEGRAM_BOT_TOKEN" in names and "DATABASE_URL" in names
    assert set(names) <= known, set(names) - known
    assert "SIKESAL_DATA_DIR=/var/lib/sikesal" in text, "the directory the units may write to"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_finds_nothing_wrong(tmp_path: Path) -> None:
    copies = []
    for name in ("sikesal.service", "sikesal@.service"):
        text = (DEPLOY / name).read_text(encoding="utf-8")
        # the venv does not exist here; verify checks that ExecStart is executable
        (tmp_path / name).write_text(text.replace("/opt/sikesal/.venv/bin/sikesal", "/bin/true"), encoding="utf-8")
        copies.append(str(tmp_path / name))
    done = subprocess.run(["systemd-analyze", "verify", *copies], capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "sikesal" in line]
    assert done.returncode == 0 and not problems, problems


# --- nginx -------------------------------------------------------------------------------------------


Block = list[tuple[list[str], Any]]  # (directive words, children or None)


def nginx_tree(text: str) -> Block:
    """A tiny nginx parser: directives ending in ';' and blocks in braces (no quoting tricks used)."""
    text = re.sub(r"#[^\n]*", "", text)
    tokens = re.findall(r"[{};]|[^\s{};]+", text)
    stack: list[Block] = [[]]
    words: list[str] = []
    for token in tokens:
        if token == "{":
            child: Block = []
            stack[-1].append((words, child))
            stack.append(child)
            words = []
        elif token == "}":
            assert not words, f"directive without ';' before '}}': {words}"
            assert len(stack) > 1, "a '}' too many"
            stack.pop()
        elif token == ";":
            stack[-1].append((words, None))
            words = []
        else:
            words.append(token)
    assert len(stack) == 1, "unbalanced braces: a '{' is not closed"
    assert not words, f"trailing directive without ';': {words}"
    return stack[0]


def find(block: Block, name: str) -> list[tuple[list[str], Any]]:
    return [(words, children) for words, children in block if words and words[0] == name]


def directive(block: Block, name: str) -> list[list[str]]:
    return [words[1:] for words, children in find(block, name) if children is None]


def test_the_nginx_site_proxies_only_the_public_paths_to_every_process() -> None:
    tree = nginx_tree((DEPLOY / "nginx.conf").read_text(encoding="utf-8"))
    ((upstream_words, upstream),) = find(tree, "upstream")
    name = upstream_words[1]
    servers = [words[0] for words in directive(upstream, "server")]
    http_ports, _ = template_ports()
    assert servers == [f"127.0.0.1:{port}" for port in http_ports], "the instances of sikesal@.service"

    tls = [children for _, children in find(tree, "server") if ["443", "ssl", "http2"] in directive(children, "listen")]
    assert len(tls) == 1
    server = tls[0]
    assert directive(server, "ssl_certificate") and directive(server, "ssl_certificate_key")
    headers = {words[0]: words[1] for words in directive(server, "proxy_set_header")}
    assert headers["Host"] == "$host"
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme"

    locations = {" ".join(words[1:]): children for words, children in find(server, "location")}
    proxied = {where for where, children in locations.items() if directive(children, "proxy_pass")}
    assert proxied == {f"= {TelegramConfig().webhook_path}", "/twilio/", "/media/", "/export/", "/dashboard/",
                       "/open311/"}, "nothing else is public"
    # a sign-in or a dashboard action is a POST that must never be replayed on another process
    for where in ("/dashboard/", "/open311/"):
        assert directive(locations[where], "proxy_next_upstream") == [["error", "timeout"]]
    # signed photo links (bot.media_links) and data copies (bot.export_links) are read, never posted to
    assert [words[1:] for words, _ in find(locations["/media/"], "limit_except")] == [["GET"]]
    assert [words[1:] for words, _ in find(locations["/export/"], "limit_except")] == [["GET"]]
    for where in proxied:
        assert directive(locations[where], "proxy_pass") == [[f"http://{name}"]]
    whatsapp = WhatsAppConfig()
    assert whatsapp.webhook_path.startswith("/twilio/") and whatsapp.status_path.startswith("/twilio/")
    assert directive(locations["= /metrics"], "return") == [["404"]]
    assert directive(locations["/"], "return") == [["404"]]


def test_unbalanced_nginx_is_caught() -> None:
    with pytest.raises(AssertionError, match="unbalanced"):
        nginx_tree("http { server { listen 80; }")
    with pytest.raises(AssertionError, match="too many"):
        nginx_tree("server { listen 80; } }")


@pytest.mark.skipif(shutil.which("nginx") is None or shutil.which("openssl") is None,
                    reason="nginx (apt-get install nginx-light) and openssl are needed for nginx -t")
def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=sikesal.test"], check=True, capture_output=True, timeout=60)
    site = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    site = re.sub(r"access_log\s+\S+;", f"access_log {tmp_path}/access.log;", site)
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    done = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-e", f"{tmp_path}/error.log", "-c",
                           str(tmp_path / "nginx.conf")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


# --- Prometheus --------------------------------------------------------------------------------------


def test_prometheus_scrapes_every_process() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "sikesal"]
    targets = [target for group in job["static_configs"] for target in group["targets"]]
    assert len(targets) >= 2
    _, metrics_ports = template_ports()
    assert targets == [f"127.0.0.1:{port}" for port in metrics_ports], "the instances of sikesal@.service"
    assert job.get("metrics_path", "/metrics") == "/metrics"
    for rules in config["rule_files"]:
        assert (DEPLOY / rules).is_file()


def test_the_alert_rules_use_metrics_that_exist() -> None:
    body, _ = Metrics().exposition()
    exposed = set(re.findall(r"^(sikesal_[a-z_]+?)(?:\{| )", body.decode(), flags=re.MULTILINE))
    rules = yaml.safe_load((DEPLOY / "sikesal-alerts.yml").read_text(encoding="utf-8"))
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert exprs
    for expr in exprs:
        for name in re.findall(r"\bsikesal_[a-z_]+", expr):
            assert name in exposed, f"{name} in {expr!r} is not a SiKesal metric"
