"""A small authoritative DNS server on 127.0.0.1 (UDP and TCP), built on dnspython, serving a
zone given as data: the real DNS peer of the SPF, DMARC and doctor tests.

The zone format is the RFC 7208 test suite's `zonedata` (see ../shared/spf/README.md):
{name: [{TYPE: value}, ..., "TIMEOUT"]}. A time-out is a query that gets no answer at all.
"""

import socket
import socketserver
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA

IN = dns.rdataclass.IN
TTL = 60


def _name(text):
    if not text or text == ".":
        return dns.name.root
    return dns.name.Name([label.encode("utf-8") for label in text.rstrip(".").split(".")] + [b""])


def _rdata(rtype, value):
    t = dns.rdatatype.from_text(rtype)
    if rtype == "A":
        return A(IN, t, value)
    if rtype == "AAAA":
        return AAAA(IN, t, value)
    if rtype in ("TXT", "SPF"):
        strings = value if isinstance(value, list) else [value]
        return TXT(IN, dns.rdatatype.TXT, [s.encode("utf-8") if isinstance(s, str) else s for s in strings])
    if rtype == "MX":
        return MX(IN, t, int(value[0]), _name(value[1]))
    if rtype == "PTR":
        return PTR(IN, t, _name(value))
    if rtype == "CNAME":
        return CNAME(IN, t, _name(value))
    raise ValueError(rtype)


class Zone:
    """Answers for one zonedata map, following the suite's serving rules."""

    def __init__(self, zonedata):
        self.records, self.timeouts = {}, {}
        for name, entries in (zonedata or {}).items():
            key = name.lower().rstrip(".").encode("utf-8")
            recs, seen, timeout = [], set(), None
            has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
            for entry in entries:
                if entry == "TIMEOUT":
                    timeout = set(seen)  # types listed before TIMEOUT still answer
                    continue
                (rtype, value), = entry.items()
                if value == "TIMEOUT":
                    self.timeouts.setdefault(key, set())
                    self.timeouts[key].add(rtype)
                    continue
                if rtype == "TXT" and value == "NONE":
                    continue  # "no TXT at all": it does not shield TXT from a later TIMEOUT
                seen.add(rtype)
                if rtype == "SPF":
                    recs.append(("SPF", value))
                    if not has_txt:
                        recs.append(("TXT", value))
                    continue
                recs.append((rtype, value))
            self.records[key] = recs
            if timeout is not None:
                self.timeouts[key] = ("all-but", timeout)

    def times_out(self, name, rtype):
        if name.startswith(b"error."):
            return True
        rule = self.timeouts.get(name)
        if isinstance(rule, tuple):
            return rtype not in rule[1]
        return bool(rule and rtype in rule)

    def exists(self, name):
        return name in self.records or any(k.endswith(b"." + name) for k in self.records)

    def answer(self, qname, rtype, response, depth=0):
        """Fill `response`; return False when the query must go unanswered (a time-out)."""
        name = b".".join(qname.labels[:-1]).lower()
        if self.times_out(name, rtype):
            return False
        recs = self.records.get(name, [])
        cname = [v for t, v in recs if t == "CNAME"]
        if cname and rtype != "CNAME" and depth < 8:
            rrset = dns.rrset.RRset(qname, IN, dns.rdatatype.CNAME)
            rrset.add(_rdata("CNAME", cname[0]), TTL)
            response.answer.append(rrset)
            return self.answer(_name(cname[0]), rtype, response, depth + 1)
        matching = [v for t, v in recs if t == rtype]
        if matching:
            rrset = dns.rrset.RRset(qname, IN, dns.rdatatype.from_text(rtype))
            for value in matching:
                try:
                    rrset.add(_rdata(rtype, value), TTL)
                except Exception:
                    continue
            response.answer.append(rrset)
        elif not self.exists(name) and depth == 0:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return True


class _Handler:
    def reply(self, data):
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        rtype = dns.rdatatype.to_text(question.rdtype)
        if not self.server.zone.answer(question.name, rtype, response):
            return None
        return response


class _UDP(_Handler, socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        response = self.reply(data)
        if response is None:
            return
        try:
            wire = response.to_wire(max_size=512)
        except dns.exception.TooBig:
            response.answer = []
            response.flags |= dns.flags.TC
            wire = response.to_wire()
        sock.sendto(wire, self.client_address)


class _TCP(_Handler, socketserver.BaseRequestHandler):
    def handle(self):
        head = self.request.recv(2)
        if len(head) < 2:
            return
        size = int.from_bytes(head, "big")
        data = b""
        while len(data) < size:
            chunk = self.request.recv(size - len(data))
            if not chunk:
                return
            data += chunk
        response = self.reply(data)
        if response is not None:
            wire = response.to_wire()
            self.request.sendall(len(wire).to_bytes(2, "big") + wire)


class _ThreadingUDP(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True


class _ThreadingTCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class DNSServer:
    """Serves `zonedata` on 127.0.0.1:port over UDP and TCP until close(); load() swaps zones."""

    def __init__(self, zonedata=None):
        for _ in range(20):
            udp = _ThreadingUDP(("127.0.0.1", 0), _UDP)
            port = udp.server_address[1]
            try:
                tcp = _ThreadingTCP(("127.0.0.1", port), _TCP)
                break
            except OSError:
                udp.server_close()
        else:
            raise RuntimeError("no free port for both UDP and TCP")
        self.udp, self.tcp, self.port = udp, tcp, port
        self.load(zonedata)
        for server in (udp, tcp):
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def load(self, zonedata):
        zone = Zone(zonedata)
        self.udp.zone = self.tcp.zone = zone

    def resolver(self, lifetime=1.0):
        import dns.resolver

        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = self.port
        r.timeout = r.lifetime = lifetime
        r.cache = None
        return r

    def close(self):
        for server in (self.udp, self.tcp):
            server.shutdown()
            server.server_close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
