"""The fleet's resolvers, as consumers of embargo's RPZ zone (DESIGN.md
section 7): Unbound, BIND 9 and PowerDNS Recursor, each started by a test in
the foreground on a 127.0.0.1 port, as a secondary of the zone and forwarding
every other lookup to the tests' nsd.

Each class writes its whole config into its own directory (no system
paths, pid files or control sockets that two instances could share), starts
the server, waits until it answers a lookup that nsd serves, and stops it
with SIGTERM (SIGKILL when it lingers).
"""

import shutil
import signal
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from e2e_util import READY_TIMEOUT, STOP_TIMEOUT, free_port

RPZ_ZONE = "rpz.embargo."
READY_NAME = "ready.e2e.test."        # nsd answers A 192.0.2.2
READY_ADDR = "192.0.2.2"


class Tsig:
    """A TSIG key as embargo's `rpz.tsig` entries spell it."""

    def __init__(self, name, secret, algorithm="hmac-sha256"):
        self.name = name
        self.secret = secret          # base64
        self.algorithm = algorithm

    def yaml(self):
        return (f"    - name: {self.name}\n"
                f"      algorithm: {self.algorithm}\n"
                f'      secret: "{self.secret}"\n')


def _which(name, fallback):
    return shutil.which(name) or fallback


class Server:
    """One server process in the foreground; subclasses write the config
    and name the command line."""

    label = "server"
    ready_timeout = READY_TIMEOUT

    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.proc = None
        self.log_path = self.dir / f"{self.label}.log"
        self._log = None
        self.started_at = None

    # to override -------------------------------------------------------
    def write(self):
        raise NotImplementedError

    def argv(self):
        raise NotImplementedError

    def ready(self):
        """True once the server answers with nsd's address."""
        return a_addrs(self.query(READY_NAME, timeout=0.5)) == [READY_ADDR]

    # lifecycle ----------------------------------------------------------
    def start(self):
        self.write()
        self._log = open(self.log_path, "wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        deadline = time.monotonic() + self.ready_timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.stop()
                raise AssertionError(f"{self.label} exited with {rc} before answering\n"
                                     f"{self.diagnostics()}")
            try:
                if self.ready():
                    return self
            except (dns.exception.DNSException, OSError) as e:
                last = e
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{self.label} did not answer within {self.ready_timeout}s "
                             f"({last!r})\n{self.diagnostics()}")

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()
            self._log = None
        return self.proc.returncode

    def diagnostics(self):
        out = [f"$ {' '.join(self.argv())}"]
        for p in sorted(self.dir.iterdir()):
            if p.suffix in (".conf", ".lua", ".yaml") and p.is_file():
                out.append(f"--- {p.name}:\n{p.read_text(errors='replace')}")
        if self.log_path.exists():
            text = self.log_path.read_text(errors="replace")
            if len(text) > 20000:
                text = "...\n" + text[-20000:]
            out.append(f"--- {self.label} output:\n{text}")
        return "\n".join(out)

    # queries --------------------------------------------------------------
    def query(self, name, rdtype="A", timeout=2.0):
        q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
        return dns.query.udp(q, self.host, port=self.port, timeout=timeout)

    def wait_for(self, name, rdtype, pred, timeout, interval=0.1):
        """Asks until pred(answer) holds. Returns (answer, seconds waited),
        or (last answer, None) at the timeout."""
        t0 = time.monotonic()
        last = None
        while True:
            try:
                last = self.query(name, rdtype, timeout=0.5)
                if pred(last):
                    return last, time.monotonic() - t0
            except (dns.exception.DNSException, OSError) as e:
                last = e
            if time.monotonic() - t0 > timeout:
                return last, None
            time.sleep(interval)


class Consumer(Server):
    """A recursive resolver that takes the RPZ zone `zone` from the primary
    at primary_host:primary_port (with `tsig` when given) and forwards the
    rest to `forward` ("host:port")."""

    def __init__(self, workdir, primary_host, primary_port, forward, zone=RPZ_ZONE, tsig=None,
                 port=None):
        super().__init__(workdir)
        if port is not None:
            self.port = port
        self.primary_host = primary_host
        self.primary_port = primary_port
        self.fwd_host, fwd_port = forward.rsplit(":", 1)
        self.fwd_port = int(fwd_port)
        self.zone = zone if zone.endswith(".") else zone + "."
        self.tsig = tsig

    @property
    def addr(self):
        return f"{self.host}:{self.port}"


class Unbound(Consumer):
    """unbound -d with an `rpz:` clause. Unbound transfers without TSIG
    (it has none for zone transfers); the primary's ACL admits it. NOTIFY
    from the primary's address is accepted by default."""

    label = "unbound"

    def __init__(self, *a, verbosity=1, **kw):
        super().__init__(*a, **kw)
        self.verbosity = verbosity     # 2 logs each NOTIFY and transfer

    def write(self):
        d = self.dir
        conf = f"""server:
  interface: {self.host}@{self.port}
  port: {self.port}
  do-ip6: no
  num-threads: 1
  so-reuseport: no
  username: ""
  chroot: ""
  directory: "{d}"
  pidfile: "{d}/unbound.pid"
  use-syslog: no
  logfile: ""
  log-time-ascii: yes
  verbosity: {self.verbosity}
  module-config: "respip iterator"
  do-not-query-localhost: no
  qname-minimisation: no
  local-zone: "test." nodefault
  access-control: 127.0.0.0/8 allow
rpz:
  name: "{self.zone}"
  primary: {self.primary_host}@{self.primary_port}
  zonefile: "{d}/{self.zone}zone"
  rpz-log: yes
  rpz-log-name: "embargo"
forward-zone:
  name: "."
  forward-addr: {self.fwd_host}@{self.fwd_port}
remote-control:
  control-enable: no
"""
        (d / "unbound.conf").write_text(conf)

    def argv(self):
        return [_which("unbound", "/usr/sbin/unbound"), "-d", "-c", str(self.dir / "unbound.conf")]


class Bind(Consumer):
    """named -g with the zone as a secondary (`primaries ... key`) and
    `response-policy`. Its refresh timers are pinned to a day
    (min/max-refresh-time), so within a test only NOTIFY (or the initial
    load) can bring a new serial."""

    label = "named"

    def write(self):
        d = self.dir
        key_clause = ""
        key_ref = ""
        if self.tsig:
            key_clause = (f'key "{self.tsig.name}" {{\n'
                          f"  algorithm {self.tsig.algorithm};\n"
                          f'  secret "{self.tsig.secret}";\n}};\n')
            key_ref = f' key "{self.tsig.name}"'
        conf = f"""{key_clause}options {{
  directory "{d}";
  pid-file none;
  session-keyfile none;
  managed-keys-directory "{d}";
  listen-on port {self.port} {{ {self.host}; }};
  listen-on-v6 {{ none; }};
  recursion yes;
  allow-query {{ 127.0.0.0/8; }};
  allow-recursion {{ 127.0.0.0/8; }};
  forwarders {{ {self.fwd_host} port {self.fwd_port}; }};
  forward only;
  dnssec-validation no;
  notify no;
  max-cache-size 32m;
  response-policy {{ zone "{self.zone}" min-update-interval 0; }} qname-wait-recurse no;
}};
controls {{ }};
zone "{self.zone}" {{
  type secondary;
  primaries {{ {self.primary_host} port {self.primary_port}{key_ref}; }};
  file "{self.zone}db";
  masterfile-format text;
  allow-query {{ 127.0.0.0/8; }};
  min-refresh-time 86400;
  max-refresh-time 86400;
  min-retry-time 86400;
  max-retry-time 86400;
}};
"""
        (d / "named.conf").write_text(conf)

    def argv(self):
        return [_which("named", "/usr/sbin/named"), "-g", "-4", "-n", "1",
                "-c", str(self.dir / "named.conf")]


class PdnsRecursor(Consumer):
    """pdns_recursor --daemon=no with the zone from rpzPrimary() in its
    Lua config. `refresh` overrides the SOA's refresh interval."""

    label = "pdns_recursor"

    def __init__(self, *a, refresh=None, packetcache_ttl=None, **kw):
        super().__init__(*a, **kw)
        self.refresh = refresh
        # 4.8 keeps answering from its packet cache what it cached before
        # the zone changed, until this many seconds (default a day)
        self.packetcache_ttl = packetcache_ttl

    def write(self):
        d = self.dir
        opts = ['policyName="embargo"', 'defttl=300']
        if self.refresh is not None:
            opts.append(f"refresh={int(self.refresh)}")
        if self.tsig:
            opts += [f'tsigname="{self.tsig.name}"', f'tsigalgo="{self.tsig.algorithm}"',
                     f'tsigsecret="{self.tsig.secret}"']
        lua = (f'rpzPrimary("{self.primary_host}:{self.primary_port}", "{self.zone}", '
               f'{{{", ".join(opts)}}})\n')
        (d / "rpz.lua").write_text(lua)
        conf = f"""local-address={self.host}
local-port={self.port}
socket-dir={d}
lua-config-file={d}/rpz.lua
forward-zones-recurse=.={self.fwd_host}:{self.fwd_port}
dont-query=
dnssec=off
qname-minimization=no
security-poll-suffix=
threads=1
pdns-distributes-queries=no
reuseport=no
disable-syslog=yes
log-timestamp=yes
loglevel=6
quiet=no
"""
        if self.packetcache_ttl is not None:
            conf += f"packetcache-ttl={int(self.packetcache_ttl)}\n"
        (d / "recursor.conf").write_text(conf)

    def argv(self):
        return [_which("pdns_recursor", "/usr/sbin/pdns_recursor"), f"--config-dir={self.dir}",
                "--daemon=no", "--write-pid=no", f"--socket-dir={self.dir}"]


def a_addrs(r):
    return sorted(rd.to_text() for rr in getattr(r, "answer", [])
                  if rr.rdtype == dns.rdatatype.A for rd in rr)


def rtype_addrs(r, rdtype):
    return sorted(rd.to_text() for rr in getattr(r, "answer", [])
                  if rr.rdtype == rdtype for rd in rr)
