"""A stand-in for ClickHouse's HTTP interface, for scripts/check-migrate.

Answers GET /ping with "Ok." and POSTed queries as migrate.sh sends them: CREATE TABLE succeeds
(anything starting with CREATE), `SELECT version FROM schema_migrations`
lists the versions inserted so far, `INSERT INTO schema_migrations` records
one, `SELECT 1` answers 1; anything else answers 400 with ClickHouse's
syntax error, as the real server does. Every query and the user header are
appended to the log file. Usage: clickhouse_stub.py PORT LOGFILE
"""
import re
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

versions = []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/ping":
            return self.answer(200, "Ok.\n")
        return self.answer(404, "")

    def do_POST(self):
        query = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with open(sys.argv[2], "a") as log:
            log.write(f"{self.headers.get('X-ClickHouse-User')}: {query}\n")
        if self.headers.get("X-ClickHouse-Key") != "secret":
            return self.answer(516, "Code: 516. DB::Exception: Authentication failed")
        insert = re.match(r"INSERT INTO schema_migrations \(version, duration_ms\) VALUES \('([^']+)', \d+\)", query)
        if query.startswith("CREATE "):
            return self.answer(200, "")
        if query.startswith("SELECT version FROM schema_migrations"):
            return self.answer(200, "".join(v + "\n" for v in versions))
        if insert:
            versions.append(insert.group(1))
            return self.answer(200, "")
        if query.strip() == "SELECT 1":
            return self.answer(200, "1\n")
        return self.answer(400, "Code: 62. DB::Exception: Syntax error: failed at position 1")

    def answer(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
