#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# HTTP server for the URL-resource test: files of one folder under /f/NAME, plus /loop (a
# redirect to itself), /hop (one redirect to /f/NAME given as ?to=NAME), /big (more bytes than
# the test's cap, with no Content-Length), /ftp (a redirect to an ftp:// URL), /slow (answers
# after 5 s). Binds a port the
# kernel picks on 127.0.0.1 and prints "port N" once it listens.
import http.server
import os
import sys
import time
import urllib.parse

ROOT = sys.argv[1]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        sys.stderr.write("url_server: " + fmt % args + "\n")

    def redirect(self, where):
        self.send_response(302)
        self.send_header("Location", where)
        self.end_headers()

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path == "/loop":
            return self.redirect("/loop")
        if u.path == "/hop":
            to = urllib.parse.parse_qs(u.query).get("to", [""])[0]
            return self.redirect("/f/" + urllib.parse.quote(to))
        if u.path == "/slow":  # headers only after 5 s: the client's time bound must end it
            time.sleep(5)
            return self.send_error(404)
        if u.path == "/ftp":
            return self.redirect("ftp://127.0.0.1/x")
        if u.path == "/big":
            self.send_response(200)
            self.end_headers()  # no Content-Length: the client must count
            chunk = b"x" * 65536
            try:
                for _ in range(64):  # 4 MiB
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if u.path.startswith("/f/"):
            name = os.path.basename(urllib.parse.unquote(u.path[3:]))
            path = os.path.join(ROOT, name)
            if name and os.path.isfile(path):
                data = open(path, "rb").read()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
        self.send_error(404)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("port %d" % srv.server_address[1], flush=True)
srv.serve_forever()
