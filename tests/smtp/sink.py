#!/usr/bin/python3
"""A real SMTP server for cadre's tests (Debian's python3-aiosmtpd).

    sink.py PORT DIR [starttls|smtps CERT KEY]

Listens on 127.0.0.1:PORT. Each accepted message is written to DIR as
NNNN.eml (the bytes received) and NNNN.json (decoded: envelope, headers,
the plain text, the HTML, the attachments), the JSON renamed into place
last so a reader never sees half a file. With starttls, the server
requires STARTTLS before MAIL; with smtps, it speaks TLS from the first
byte; either with the PEM certificate and key given. A recipient whose local part
starts with "refuse" is refused with a permanent 550. DIR/ready appears
once the server answers; SIGTERM stops it.
"""

import email
import email.policy
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].startswith("refuse"):
            return "550 5.1.1 <%s>: mailbox refused by the test server" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text, html, attachments = None, None, []
        for part in message.walk():
            if part.is_multipart():
                continue
            kind = part.get_content_type()
            if part.get_content_disposition() == "attachment":
                attachments.append(
                    {
                        "filename": part.get_filename(),
                        "content_type": part.get("Content-Type", ""),
                        "content": part.get_content()
                        if kind.startswith("text/")
                        else None,
                    }
                )
            elif kind == "text/plain" and text is None:
                text = part.get_content()
            elif kind == "text/html" and html is None:
                html = part.get_content()
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.out, "%04d" % n)
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        decoded = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message.get("From", "")),
            "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")),
            "message_id": str(message.get("Message-ID", "")),
            "text": text,
            "html": html,
            "attachments": attachments,
        }
        with open(base + ".tmp", "w", encoding="utf-8") as f:
            json.dump(decoded, f, ensure_ascii=False)
        os.replace(base + ".tmp", base + ".json")
        return "250 2.0.0 accepted as message %d" % n


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    options = {}
    if len(sys.argv) > 3:
        mode, cert, key = sys.argv[3:6]
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if mode == "starttls":
            options = {"tls_context": context, "require_starttls": True}
        elif mode == "smtps":
            options = {"ssl_context": context}
        else:
            sys.exit("unknown TLS mode %r" % mode)
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port, **options)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open(os.path.join(out, "ready"), "w") as f:
        f.write(str(os.getpid()))
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
