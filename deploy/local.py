"""Run N identical replicas behind nginx on this machine (the deployment recipe on loopback).

``python -m deploy.local --replicas 2 --port 8600`` starts the replicas on the next free ports, renders
deploy/nginx.conf for them and runs Debian's nginx in the foreground-free ``-p <tmp>`` mode; Ctrl-C stops
everything. tests/test_deploy.py uses the same functions.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.load import free_port, start_server, wait_healthy
from deploy.warm import warm

DEPLOY = Path(__file__).resolve().parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def render_conf(replica_ports: list[int], listen: int, prefix: Path) -> Path:
    """deploy/nginx.conf with these ports, wrapped in a main config that keeps every file under ``prefix``."""
    site = (DEPLOY / "nginx.conf").read_text()
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=0;\n" for p in replica_ports)
    site = re.sub(r"(    server 127\.0\.0\.1:\d+ max_fails=0;\n)+", servers, site)
    site = site.replace("listen 8600;", f"listen 127.0.0.1:{listen};")
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "site.conf").write_text(site)
    main = f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/site.conf;
}}
"""
    conf = prefix / "nginx.conf"
    conf.write_text(main)
    return conf


def start_nginx(conf: Path) -> subprocess.Popen:
    subprocess.run([NGINX, "-t", "-q", "-c", str(conf), "-p", str(conf.parent)], check=True, capture_output=True)
    return subprocess.Popen([NGINX, "-c", str(conf), "-p", str(conf.parent), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def start(replicas: int, listen: int, prefix: Path, stats_dir: Path | None = None, warm_up: bool = False):
    """(nginx process, replica processes, stats files): replicas first, then the proxy, all healthy.

    ``warm_up``: open every page on each replica directly (not through the proxy, which would pick one).
    """
    ports = [free_port() for _ in range(replicas)]
    stats = [str((stats_dir or prefix) / f"stats-{p}.json") for p in ports]
    # behind the proxy: the workshop rate limit reads the address nginx saw (app/workshop/codes.client_address)
    procs = [start_server(p, s, env={"INTERP_TRUST_PROXY": "1"}) for p, s in zip(ports, stats)]
    if warm_up:
        for p in ports:
            asyncio.run(warm(f"http://127.0.0.1:{p}"))
    proxy = start_nginx(render_conf(ports, listen, prefix))
    wait_healthy(f"http://127.0.0.1:{listen}", proxy)
    return proxy, procs, stats


def stop(proxy, procs) -> None:
    for p in [proxy, *procs]:
        p.terminate()
    for p in [proxy, *procs]:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--port", type=int, default=8600)
    ap.add_argument("--cold", action="store_true", help="skip the warm-up visit of every page on each replica")
    a = ap.parse_args()
    prefix = Path(tempfile.mkdtemp(prefix="interp-nginx-"))
    proxy, procs, _ = start(a.replicas, a.port, prefix, warm_up=not a.cold)
    print(f"http://127.0.0.1:{a.port}  ({a.replicas} replicas: pids {[p.pid for p in procs]}; nginx files in {prefix})")
    try:
        while all(p.poll() is None for p in [proxy, *procs]):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop(proxy, procs)


if __name__ == "__main__":
    main()
