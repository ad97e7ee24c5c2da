"""A scripted UDP upstream for the end-to-end tests, run as a thread in the
test process on 127.0.0.1.

Scripts:
  answer  - answers every query with A `address` (after `delay` seconds, or
            after delays[qname] for that name).
  spoof   - for each query first sends replies a forwarder must ignore:
              wrong ID                               -> A 6.6.6.6
              right ID, other question name          -> A 6.6.6.7
              right ID and question, other src port  -> A 6.6.6.8
              right ID and question, QR=0            -> A 6.6.6.9
              right ID and name, other question type -> A 6.6.6.10
            then, `spoof_delay` seconds later, the right reply (`address`).
  silent  - receives and records, never answers.
  tc      - answers over UDP with TC=1 and an empty answer section; over
            TCP (same port; needs tcp=True) with the whole answer.
  rcode   - answers every query with `rcode` (a dns.rcode value) and no records.
  junk    - for each query first sends one reply a forwarder must ignore,
            chosen by the first label of the question name (JUNK_KINDS, below),
            then, `spoof_delay` seconds later, the right reply (`address`);
            no right reply when the second label is "never"
            (ptrloop.never.junk.test.).

`address` is one address or a list (an rrset of several A records).
`authority` and `additional` are lists of (owner, type, rdata) text triples
added to every answer (out-of-bailiwick records, say).
With tcp=True the upstream also listens on TCP at the same port; a TCP
query is recorded with addr ("tcp", peer port). What it does there is
`tcp_script`: "answer" (the whole answer), "silent" (reads, never answers),
"reset" (reads the query, then resets the connection) or "cut" (sends the
length and half of the answer, then closes).

Every received query is recorded in `queries` as Received(time, addr, msg).
"""

import collections
import random
import select
import socket
import struct
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset

Received = collections.namedtuple("Received", "time addr msg")

SPOOF_ADDRESSES = ("6.6.6.6", "6.6.6.7", "6.6.6.8", "6.6.6.9", "6.6.6.10")

# Replies of the junk script, each to be ignored; the spoofed ones that parse
# carry A 6.6.6.6.
JUNK_KINDS = (
    "garbage",      # our ID, QR, QDCOUNT 1, then 0xff octets (a pointer out of the packet)
    "noise",        # our ID, then 200 pseudo-random octets
    "empty",        # a zero-length datagram
    "short",        # our ID alone (2 octets)
    "header",       # a 12-octet header (QR, QDCOUNT 1) and nothing after it
    "ptrloop",      # right ID and question; the answer's owner is a compression loop
    "qptrloop",     # right ID; the question name is a pointer to itself
    "wrongid",      # a good answer with another ID
    "wrongname",    # right ID, another question name
    "wrongtype",    # right ID and name, another question type
    "qr0",          # right ID and question, QR clear
    "wrongport",    # right ID and question, from another port
    "wrongaddr",    # right ID and question, from 127.0.0.2, the same port
)


class FakeUpstream:
    def __init__(self, script="answer", address="192.0.2.99", delay=0.0, delays=None,
                 spoof_delay=0.05, ttl=60, host="127.0.0.1", tcp=False, rcode=None,
                 tcp_script="answer", authority=(), additional=()):
        assert script in ("answer", "spoof", "silent", "tc", "rcode", "junk")
        assert tcp_script in ("answer", "silent", "reset", "cut")
        self.script = script
        self.rcode = rcode
        self.tcp_script = tcp_script
        self.authority = list(authority)
        self.additional = list(additional)
        self.address = address
        self.delay = delay
        self.delays = {dns.name.from_text(k).to_text().lower(): v
                       for k, v in (delays or {}).items()}
        self.spoof_delay = spoof_delay
        self.ttl = ttl
        self.host = host
        self.tcp = None
        for _ in range(50):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((host, 0))
            self.port = self.sock.getsockname()[1]
            if not tcp:
                break
            try:
                self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self.tcp.bind((host, self.port))
                self.tcp.listen(16)
                break
            except OSError:
                self.tcp.close()
                self.tcp = None
                self.sock.close()
        else:
            raise RuntimeError("no port free for both UDP and TCP")
        # The "wrong source" socket: same address, another port.
        self.alt = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.alt.bind((host, 0))
        # The "wrong address" socket: 127.0.0.2, the same port (junk script).
        self.alt_addr = None
        if script == "junk" and host == "127.0.0.1":
            self.alt_addr = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                self.alt_addr.bind(("127.0.0.2", self.port))
            except OSError:
                self.alt_addr.close()
                self.alt_addr = None
        self.queries = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._timers = []
        self.thread = threading.Thread(target=self._loop, name=f"fakeupstream-{script}",
                                       daemon=True)

    @property
    def addr(self):
        return f"{self.host}:{self.port}"

    def start(self):
        self.thread.start()
        return self

    def close(self):
        self._stop.set()
        self.thread.join(2)
        for t in self._timers:
            t.cancel()
        self.sock.close()
        self.alt.close()
        if self.alt_addr is not None:
            self.alt_addr.close()
        if self.tcp is not None:
            self.tcp.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def received(self, name=None):
        with self.lock:
            out = list(self.queries)
        if name is None:
            return out
        name = dns.name.from_text(name)
        return [r for r in out if r.msg is not None and r.msg.question
                and r.msg.question[0].name == name]

    # ------------------------------------------------------------------
    def _loop(self):
        watch = [self.sock] + ([self.tcp] if self.tcp is not None else [])
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select(watch, [], [], 0.05)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            if self.tcp is not None and self.tcp in ready:
                try:
                    conn, _ = self.tcp.accept()
                except OSError:
                    return
                threading.Thread(target=self._serve_tcp, args=(conn,), daemon=True).start()
            if self.sock not in ready:
                continue
            try:
                data, addr = self.sock.recvfrom(65535)
            except OSError:
                return
            try:
                msg = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001 - record and ignore garbage
                msg = None
            with self.lock:
                self.queries.append(Received(time.monotonic(), addr, msg))
            if msg is None or not msg.question or self.script == "silent":
                continue
            if self.script == "answer":
                key = msg.question[0].name.to_text().lower()
                d = self.delays.get(key, self.delay)
                self._later(d, self.sock, self._reply(msg, self.address), addr)
            elif self.script == "spoof":
                self._spoof(msg, addr)
            elif self.script == "tc":
                r = dns.message.make_response(msg)
                r.flags |= dns.flags.AA | dns.flags.TC
                self._send(self.sock, r.to_wire(), addr)
            elif self.script == "rcode":
                r = dns.message.make_response(msg)
                r.set_rcode(self.rcode)
                self._send(self.sock, r.to_wire(), addr)
            elif self.script == "junk":
                self._junk(msg, data, addr)

    def _serve_tcp(self, conn):
        conn.settimeout(2)
        try:
            while True:
                hdr = self._recv_exact(conn, 2)
                if hdr is None:
                    return
                data = self._recv_exact(conn, struct.unpack("!H", hdr)[0])
                if data is None:
                    return
                try:
                    msg = dns.message.from_wire(data)
                except Exception:  # noqa: BLE001
                    msg = None
                with self.lock:
                    self.queries.append(Received(time.monotonic(), ("tcp", conn.getpeername()[1]),
                                                 msg))
                if msg is None or not msg.question or self.script == "silent" \
                        or self.tcp_script == "silent":
                    continue
                wire = self._reply(msg, self.address)
                if self.tcp_script == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if self.tcp_script == "cut":
                    conn.sendall(struct.pack("!H", len(wire)) + wire[:len(wire) // 2])
                    return
                conn.sendall(struct.pack("!H", len(wire)) + wire)
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def _recv_exact(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def _later(self, delay, sock, wire, addr):
        if delay <= 0:
            self._send(sock, wire, addr)
            return
        t = threading.Timer(delay, self._send, (sock, wire, addr))
        t.daemon = True
        self._timers.append(t)
        t.start()

    @staticmethod
    def _send(sock, wire, addr):
        try:
            sock.sendto(wire, addr)
        except OSError:
            pass

    def _reply(self, q, address, qname=None, owner=None, rdtype=None):
        """A reply to q with A `address`. qname/rdtype override the question
        that is echoed, owner the answer's owner name."""
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        if q.edns >= 0:   # a compliant server copies DO (RFC 3225)
            r.use_edns(0, q.ednsflags & dns.flags.DO, 1232)
        q0 = q.question[0]
        if qname is not None or rdtype is not None:
            r.question = [dns.rrset.RRset(qname if qname is not None else q0.name,
                                          q0.rdclass,
                                          rdtype if rdtype is not None else q0.rdtype)]
        name = owner if owner is not None else q0.name
        addrs = [address] if isinstance(address, str) else list(address)
        r.answer.append(dns.rrset.from_text_list(name, self.ttl, "IN", "A", addrs))
        for section, extra in ((r.authority, self.authority), (r.additional, self.additional)):
            for owner, rdtype, rdata in extra:
                section.append(dns.rrset.from_text(owner, self.ttl, "IN", rdtype, rdata))
        return r.to_wire(max_size=65535)

    def _spoof(self, q, addr):
        qname = q.question[0].name
        # 1. wrong ID
        r = dns.message.from_wire(self._reply(q, SPOOF_ADDRESSES[0]))
        r.id = (q.id + 1) & 0xFFFF
        self._send(self.sock, r.to_wire(), addr)
        # 2. right ID, another question name (the answer still names qname)
        other = dns.name.Name((b"spoofed",) + qname.labels) \
            if len(qname.to_wire()) < 240 else dns.name.from_text("spoofed.")
        self._send(self.sock, self._reply(q, SPOOF_ADDRESSES[1], qname=other, owner=qname), addr)
        # 3. right ID and question, from another source port
        self._send(self.alt, self._reply(q, SPOOF_ADDRESSES[2]), addr)
        # 4. right ID and question, QR clear
        r = dns.message.from_wire(self._reply(q, SPOOF_ADDRESSES[3]))
        r.flags &= ~dns.flags.QR
        self._send(self.sock, r.to_wire(), addr)
        # 5. right ID and name, another question type
        self._send(self.sock, self._reply(q, SPOOF_ADDRESSES[4], rdtype=dns.rdatatype.AAAA), addr)
        # then the right reply
        self._later(self.spoof_delay, self.sock, self._reply(q, self.address), addr)


    def _junk(self, q, data, addr):
        qname = q.question[0].name
        labels = [x.decode().lower() for x in qname.labels]
        kind = labels[0] if labels else ""
        head = data[:2]
        q0 = question_wire(qname, q.question[0].rdtype)
        spoof = SPOOF_ADDRESSES[0]
        sock = self.sock
        if kind == "garbage":
            wire = head + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + b"\xff" * 40
        elif kind == "noise":
            rnd = random.Random(q.id)
            wire = head + bytes(rnd.randrange(256) for _ in range(200))
        elif kind == "empty":
            wire = b""
        elif kind == "short":
            wire = head
        elif kind == "header":
            wire = head + struct.pack("!HHHHH", 0x8180, 1, 0, 0, 0)
        elif kind == "ptrloop":
            # owner "a" then a pointer back to the start of that same name
            at = 12 + len(q0)
            wire = (head + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + q0 +
                    b"\x01a" + struct.pack("!HHHIH", 0xC000 | at, 1, 1, 60, 4) +
                    socket.inet_aton(spoof))
        elif kind == "qptrloop":
            wire = (head + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + b"\xc0\x0c" +
                    struct.pack("!HH", q.question[0].rdtype, 1) +
                    struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(spoof))
        elif kind == "wrongid":
            r = dns.message.from_wire(self._reply(q, spoof))
            r.id = (q.id + 1) & 0xFFFF
            wire = r.to_wire()
        elif kind == "wrongname":
            wire = self._reply(q, spoof, qname=dns.name.from_text("other.junk.test."),
                               owner=qname)
        elif kind == "wrongtype":
            wire = self._reply(q, spoof, rdtype=dns.rdatatype.TXT)
        elif kind == "qr0":
            r = dns.message.from_wire(self._reply(q, spoof))
            r.flags &= ~dns.flags.QR
            wire = r.to_wire()
        elif kind == "wrongport":
            wire, sock = self._reply(q, spoof), self.alt
        elif kind == "wrongaddr" and self.alt_addr is not None:
            wire, sock = self._reply(q, spoof), self.alt_addr
        else:
            wire = None
        if wire is not None:
            self._send(sock, wire, addr)
        if len(labels) < 2 or labels[1] != "never":
            self._later(self.spoof_delay, self.sock, self._reply(q, self.address), addr)


def question_wire(name, rdtype, rdclass=1):
    """An uncompressed question entry."""
    return name.to_wire() + struct.pack("!HH", rdtype, rdclass)


class SilentUpstream:
    """A UDP socket bound on 127.0.0.1 that never reads nor answers."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]

    @property
    def addr(self):
        return f"{self.host}:{self.port}"

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
