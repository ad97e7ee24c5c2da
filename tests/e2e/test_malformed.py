"""Malformed client packets over UDP and TCP: FORMERR where a header can be
echoed, nothing for short packets and responses (QR=1), NOTIMP for other
opcodes; after each, the daemon is alive and answers valid queries right.
This module has its own embargo process (module-scoped fixture)."""

import random
import socket
import struct
import time

import dns.flags
import dns.message
import dns.rcode
import pytest

from e2e_util import (addresses, assert_same_answer, header, parse_header, query, question,
                      tcp_frame, tcp_read_frame, udp_exchange, wire_name)

NO_REPLY_WAIT = 0.3
FORMERR = 1
NOTIMP = 4


def still_serving(e, nsd):
    assert e.alive(), f"embargo died\n{e.diagnostics()}"
    ref = nsd.query("www.e2e.test.", "A")
    assert_same_answer(e.udp(query("www.e2e.test.", "A"), timeout=3), ref, "UDP after malformed")
    assert_same_answer(e.tcp(query("www.e2e.test.", "A"), timeout=3), ref, "TCP after malformed")
    r = e.udp(query("dnl-07.geo.kaspersky.com.", "A"), timeout=3)
    assert addresses(r) == ["0.0.0.0"], f"blocking broken after malformed input\n{r}"


def assert_error_reply(reply, sent, rcode, what):
    assert reply is not None, f"{what}: no reply (expected {dns.rcode.to_text(rcode)})"
    assert len(reply) >= 12, f"{what}: reply of {len(reply)} bytes"
    h, s = parse_header(reply), parse_header(sent)
    assert h["id"] == s["id"], f"{what}: ID not echoed"
    assert h["qr"] == 1, f"{what}: QR clear in the reply"
    assert h["opcode"] == s["opcode"], f"{what}: opcode not echoed"
    assert h["rcode"] == rcode, \
        f"{what}: rcode {dns.rcode.to_text(h['rcode'])}, expected {dns.rcode.to_text(rcode)}"
    assert h["an"] == 0, f"{what}: answers in an error reply"


# --------------------------------------------------------------------------
# packets

def long_name_wire():
    # 5 labels of 63: 321 octets > 255
    return b"".join(bytes([63]) + b"a" * 63 for _ in range(5)) + b"\x00"


FORMERR_PACKETS = {
    "qdcount-0": header(id=0x0A01, qd=0),
    "qdcount-2": header(id=0x0A02, qd=2) + question("www.e2e.test.") + question("mail.e2e.test."),
    "qdcount-2-one-question": header(id=0x0A03, qd=2) + question("www.e2e.test."),
    "pointer-loop": header(id=0x0A04) + b"\xc0\x0c" + struct.pack("!HH", 1, 1),
    "pointer-forward": header(id=0x0A05) + b"\x03www\xc0\x20" + struct.pack("!HH", 1, 1)
    + b"\x00" * 16,
    "pointer-after-label": header(id=0x0A06) + b"\x03www\xc0\x12" + struct.pack("!HH", 1, 1),
    "label-64": header(id=0x0A07) + bytes([64]) + b"a" * 64 + b"\x04test\x00"
    + struct.pack("!HH", 1, 1),
    "label-type-0x40": header(id=0x0A08) + b"\x41" + b"a" * 8 + b"\x00" + struct.pack("!HH", 1, 1),
    "name-too-long": header(id=0x0A09) + long_name_wire() + struct.pack("!HH", 1, 1),
    "name-unterminated": header(id=0x0A0A) + b"\x03www\x03e2e\x04test",
    "no-qtype": header(id=0x0A0B) + wire_name("www.e2e.test."),
    "half-qclass": header(id=0x0A0C) + wire_name("www.e2e.test.") + b"\x00\x01\x00",
}


@pytest.mark.parametrize("case", sorted(FORMERR_PACKETS))
def test_udp_formerr(embargo, nsd, case):
    pkt = FORMERR_PACKETS[case]
    reply = udp_exchange(embargo.host, embargo.port, pkt, timeout=1.0)
    assert_error_reply(reply, pkt, FORMERR, case)
    still_serving(embargo, nsd)


@pytest.mark.parametrize("length", [0, 1, 5, 11])
def test_udp_short_packet_dropped(embargo, nsd, length):
    pkt = bytes(range(0x30, 0x30 + length))
    reply = udp_exchange(embargo.host, embargo.port, pkt, timeout=NO_REPLY_WAIT)
    assert reply is None, f"{length}-byte packet got a reply: {reply!r}"
    still_serving(embargo, nsd)


def _response_packet():
    r = dns.message.make_response(dns.message.make_query("www.e2e.test.", "A"))
    r.id = 0x0B01
    return r.to_wire()


QR_PACKETS = {
    "response": _response_packet(),
    "qr-qdcount-0": header(id=0x0B02, qr=1, qd=0),
    "qr-garbage-name": header(id=0x0B03, qr=1) + b"\xc0\x0c\x00\x01\x00\x01",
}


@pytest.mark.parametrize("case", sorted(QR_PACKETS))
def test_udp_qr_set_dropped(embargo, nsd, case):
    """Never answer a response: that is how reflection loops start."""
    reply = udp_exchange(embargo.host, embargo.port, QR_PACKETS[case], timeout=NO_REPLY_WAIT)
    assert reply is None, f"{case}: a QR=1 packet got a reply: {reply!r}"
    still_serving(embargo, nsd)


@pytest.mark.parametrize("opcode,label", [(4, "NOTIFY"), (5, "UPDATE"), (2, "STATUS"),
                                          (1, "IQUERY")])
def test_udp_other_opcodes_notimp(embargo, nsd, opcode, label):
    pkt = header(id=0x0C00 + opcode, opcode=opcode, rd=0) + question("e2e.test.", qtype=6)
    reply = udp_exchange(embargo.host, embargo.port, pkt, timeout=1.0)
    assert_error_reply(reply, pkt, NOTIMP, label)
    still_serving(embargo, nsd)


def test_udp_two_opt_records_formerr(embargo, nsd):
    """RFC 6891 6.1.1: more than one OPT RR -> FORMERR."""
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    pkt = header(id=0x0D01, ar=2) + question("www.e2e.test.") + opt + opt
    reply = udp_exchange(embargo.host, embargo.port, pkt, timeout=1.0)
    assert_error_reply(reply, pkt, FORMERR, "two OPT RRs")
    still_serving(embargo, nsd)


def test_udp_edns_version_1_badvers(embargo, nsd):
    """RFC 6891 6.1.3: an unsupported EDNS version gets BADVERS."""
    # OPT: root owner, type 41, payload 1232, TTL = ext-rcode 0, version 1, flags 0
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0x00010000, 0)
    pkt = header(id=0x0D02, ar=1) + question("www.e2e.test.") + opt
    reply = udp_exchange(embargo.host, embargo.port, pkt, timeout=2.0)
    assert reply is not None, "no reply to an EDNS version 1 query"
    r = dns.message.from_wire(reply)
    assert r.id == 0x0D02
    assert r.rcode() == dns.rcode.BADVERS, f"EDNS version 1: {dns.rcode.to_text(r.rcode())}\n{r}"
    assert r.edns == 0, "BADVERS must carry the version the server supports (0)"
    assert not r.answer
    still_serving(embargo, nsd)


def test_udp_trailing_garbage_and_bad_class_do_not_crash(embargo, nsd):
    pkts = [
        header(id=0x0E01) + question("www.e2e.test.") + b"\xff" * 40,        # trailing bytes
        header(id=0x0E02, an=1) + question("www.e2e.test."),                 # ANCOUNT, no RR
        header(id=0x0E03, ar=1) + question("www.e2e.test.") + b"\x00\x00\x29",  # cut OPT
        header(id=0x0E04) + question("www.e2e.test.", qclass=0xFE),           # class NONE
        header(id=0x0E05) + question("www.e2e.test.", qtype=252),             # AXFR over UDP
    ]
    for p in pkts:
        reply = udp_exchange(embargo.host, embargo.port, p, timeout=NO_REPLY_WAIT)
        if reply is not None:
            h = parse_header(reply)
            assert h["qr"] == 1 and h["id"] == parse_header(p)["id"]
    still_serving(embargo, nsd)


def test_udp_random_garbage(embargo, nsd):
    rng = random.Random(20240929)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((embargo.host, embargo.port))
    sent = {}
    try:
        for _ in range(300):
            n = rng.choice([rng.randrange(0, 12), rng.randrange(12, 64),
                            rng.randrange(64, 600)])
            pkt = bytes(rng.getrandbits(8) for _ in range(n))
            if n >= 12 and rng.random() < 0.5:
                pkt = pkt[:2] + bytes([pkt[2] & 0x07, pkt[3]]) + b"\x00\x01" + pkt[6:]
            if n >= 2:
                sent.setdefault(pkt[:2], []).append(pkt)
            s.send(pkt)
        s.settimeout(0.5)
        replies = []
        try:
            while True:
                replies.append(s.recv(65535))
        except (socket.timeout, ConnectionRefusedError):
            pass
    finally:
        s.close()
    for reply in replies:
        assert len(reply) >= 12
        h = parse_header(reply)
        assert h["qr"] == 1, "a reply with QR clear"
        ids = sent.get(reply[:2], [])
        assert ids, f"reply with an ID nobody sent: {reply[:2].hex()}"
        assert any(len(p) >= 12 and not p[2] & 0x80 for p in ids), \
            "a QR=1 or short packet was answered"
    still_serving(embargo, nsd)


# --------------------------------------------------------------------------
# TCP

def tcp_send(e, data, expect_reply=True, timeout=1.0):
    """Sends raw bytes on a fresh connection; returns the first frame, or
    None on EOF/timeout."""
    with socket.create_connection((e.host, e.port), timeout=timeout) as s:
        s.sendall(data)
        try:
            return tcp_read_frame(s)
        except (socket.timeout, ConnectionResetError):
            return None


@pytest.mark.parametrize("case", ["qdcount-0", "qdcount-2", "pointer-loop", "label-64"])
def test_tcp_formerr(embargo, nsd, case):
    pkt = FORMERR_PACKETS[case]
    reply = tcp_send(embargo, tcp_frame(pkt))
    assert_error_reply(reply, pkt, FORMERR, f"TCP {case}")
    still_serving(embargo, nsd)


@pytest.mark.parametrize("data", [
    tcp_frame(b"\x01\x02\x03\x04\x05"),            # 5-byte message
    tcp_frame(b""),                                # zero-length frame
    tcp_frame(QR_PACKETS["response"]),             # a response
    struct.pack("!H", 1000) + b"\x00" * 10,        # frame cut short, then close
    b"\x00",                                       # half a length prefix
], ids=["5-bytes", "zero-length", "qr-set", "cut-frame", "half-prefix"])
def test_tcp_no_reply(embargo, nsd, data):
    reply = tcp_send(embargo, data, timeout=NO_REPLY_WAIT)
    assert reply is None, f"got a reply: {reply!r}"
    still_serving(embargo, nsd)


def test_tcp_garbage_frame_then_valid_query_on_new_connection(embargo, nsd):
    rng = random.Random(7)
    for _ in range(20):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(12, 300)))
        tcp_send(embargo, tcp_frame(body), timeout=0.2)
    still_serving(embargo, nsd)


def test_tcp_abrupt_close_with_query_in_flight(embargo, nsd):
    for _ in range(5):
        s = socket.create_connection((embargo.host, embargo.port), timeout=1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
        s.sendall(tcp_frame(query("big.e2e.test.", "A").to_wire()))
        s.close()
    time.sleep(0.2)
    still_serving(embargo, nsd)


def test_still_alive_at_the_end(embargo, nsd):
    still_serving(embargo, nsd)
    r = embargo.udp(query("store.kaspersky.com.", "A"))
    assert r.rcode() == dns.rcode.REFUSED
    r = embargo.tcp(query("big.e2e.test.", "A"))
    assert len(r.answer[0]) == 100 and not r.flags & dns.flags.TC
