"""The listening side's defences: what an open TCP connection may cost before it says who it is.

pynetdicom's server accepts every connection on its own thread and counts it against the
association limit until it ends; a connection that sends half a PDU and waits holds its slot for
ever (no socket timeout), and a TLS handshake runs on the accept loop itself. Here:

- every accepted socket gets a timeout (a half-open connection is dropped after it) and TCP_NODELAY;
- the TLS handshake runs on the connection's own thread, under the same timeout;
- each peer address may hold at most ``per_peer`` connections; more are closed at once and logged,
  so one host cannot lock out the others.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Callable

from pynetdicom import evt
from pynetdicom.transport import RequestHandler, ThreadedAssociationServer


def no_delay(sock: socket.socket | None) -> None:
    """Nagle's algorithm and delayed ACKs cap DIMSE at a few messages a second; turn Nagle off."""
    try:
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def _no_delay_on_open(event) -> None:
    no_delay(event.assoc.dul.socket.socket)


#: bind to every association this node requests, so its sockets send without Nagle's delay too
NO_DELAY = (evt.EVT_CONN_OPEN, _no_delay_on_open)


class _Handler(RequestHandler):
    """Holds the connection's thread until its association ends, so the peer's slot stays counted."""

    def handle(self) -> None:
        association = self._create_association()
        evt.trigger(association, evt.EVT_CONN_OPEN, {"address": self.client_address})
        association.start()
        association.join()


class GuardedServer(ThreadedAssociationServer):
    """An association server with a per-peer connection limit, socket timeouts and threaded TLS."""

    daemon_threads = True
    block_on_close = False  # stopping does not wait for idle associations a peer holds open
    request_queue_size = 128  # a burst of connections waits in the kernel, not in SYN retries

    def __init__(self, *args, per_peer: int = 4, socket_timeout: float = 10.0,
                 log: Callable[[str], None] = lambda message: None, **kwargs) -> None:
        args = list(args)  # (ae, address, ae_title, contexts, ssl_context), as pynetdicom's make_server passes them
        self._tls, args[4] = args[4], None  # wrapped on the connection's thread, not on the accept loop
        self.per_peer, self.socket_timeout, self.log = per_peer, socket_timeout, log
        self._peers: Counter[str] = Counter()
        self._peers_lock = threading.Lock()
        super().__init__(*args, request_handler=_Handler, **kwargs)

    def get_request(self):
        client, address = self.socket.accept()
        client.settimeout(self.socket_timeout)
        no_delay(client)
        return client, address

    def verify_request(self, request, client_address) -> bool:
        host = client_address[0]
        with self._peers_lock:
            refused = self._peers[host] >= self.per_peer
            if not refused:
                self._peers[host] += 1
        if refused:
            self.log(f"connection from {host} refused: it already holds {self.per_peer} connections")
        return not refused

    def process_request_thread(self, request, client_address) -> None:
        host = client_address[0]
        try:
            if self._tls is not None:
                request = self._tls.wrap_socket(request, server_side=True)
            self.finish_request(request, client_address)
        except (OSError, ValueError):
            self.log(f"connection from {host} ended before an association (TLS handshake or timeout)")
        except Exception:
            self.log(f"connection from {host} ended with an error")
        finally:
            self.shutdown_request(request)
            with self._peers_lock:
                self._peers[host] -= 1
