#!/usr/bin/env python3
"""Times the newest page of 20 and of 100 images against a running server, one request
at a time over one keep-alive connection, after uploading N tiny PNGs as an existing,
verified account. Used for the listing-stall figures in docs/PERFORMANCE.md, where a
build from before a change is run against the same data as one from after it.

    python3 scripts/bench/listing_pages.py HOST PORT EMAIL PASSWORD [N=120]
"""
import http.client
import json
import socket
import struct
import sys
import time
import uuid
import zlib


def png(seed):
    raw = b"".join(b"\x00" + bytes((x * 7 + y * 3 + seed) % 256 for x in range(48)) for y in range(16))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def main():
    host, port, email, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 120
    conn = http.client.HTTPConnection(host, port)
    conn.connect()
    # The client side never delays: only the server's sockets are under test.
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = json.dumps({"email": email, "password": password})
    conn.request("POST", "/api/v1/auth/login", body=body, headers={"Content-Type": "application/json"})
    token = json.loads(conn.getresponse().read())["token"]
    auth = {"Authorization": f"Bearer {token}"}
    for i in range(count):
        boundary = uuid.uuid4().hex
        part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"photo-{i:04}.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
        upload = part + png(i) + f"\r\n--{boundary}--\r\n".encode()
        headers = {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        conn.request("POST", "/api/v1/images", body=upload, headers=headers)
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 201, answer.status
    for limit in (20, 100):
        times = []
        for _ in range(61):
            started = time.perf_counter()
            conn.request("GET", f"/api/v1/images?limit={limit}", headers=auth)
            page = conn.getresponse().read()
            times.append(time.perf_counter() - started)
        times.sort()
        p50 = times[30] * 1000
        print(f"page of {limit}: {len(page)} bytes, p50 {p50:.2f} ms, {p50 / limit:.3f} ms per item")


if __name__ == "__main__":
    main()
