"""A tiny HTTP forward proxy for tests (standard library only): every request, whatever host its
absolute URL names, goes to one upstream server. With HF_ENDPOINT=http://hub.invalid (a name that
never resolves) and HTTP_PROXY pointing here, only a client that goes through the proxy reaches
the test Hub.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "transfer-encoding", "te",
              "trailer", "upgrade"}


class ForwardProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.requests: list[tuple[str, str]] = []  # (method, the absolute URL the client asked for)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.proxy = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> "ForwardProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        proxy: ForwardProxy = self.server.proxy
        proxy.requests.append((self.command, self.path))
        url = urlsplit(self.path)
        if not url.scheme:  # not a proxy request: a client that took this for the server itself
            self.send_error(400, "a forward proxy takes absolute URLs")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
        try:
            upstream.request(self.command, url.path + (f"?{url.query}" if url.query else ""), body or None, headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():  # a HEAD keeps the upstream's Content-Length
            if name.lower() not in HOP_BY_HOP and (name.lower() != "content-length" or self.command == "HEAD"):
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_HEAD = do_POST = do_PUT = do_GET
