#!/usr/bin/env python3
"""Deterministic benchmark mbox built from the test corpus.

Every message of tests/corpus/{scam,ham} (.txt bodies and .eml messages) is
re-encoded in turn as ISO-2022-JP 7bit, Shift_JIS base64, EUC-JP
quoted-printable, UTF-8 8bit, UTF-8 base64, and multipart/alternative with a
text/html part, until the target size is reached. About 90% of messages are
ham. Same arguments, same bytes (seeded PRNG, fixed dates).

    bench/gen_mbox.py OUT.mbox [--size-mb 100]      # 1 GB: --size-mb 1024
"""

import argparse
import base64
import email
import email.policy
import quopri
import random
from email.header import Header
from email.utils import parseaddr
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENCODINGS = ["iso2022", "sjis_b64", "eucjp_qp", "utf8_8bit", "utf8_b64", "html_alt"]


def load(kind):
    out = []
    for p in sorted((ROOT / "tests/corpus" / kind).iterdir()):
        raw = p.read_bytes()
        if p.suffix == ".eml":
            m = email.message_from_bytes(raw, policy=email.policy.default)
            body = m.get_body(("plain", "html"))
            text = body.get_content() if body is not None else ""
            out.append((str(m.get("Subject", "")), str(m.get("From", "")), text))
        elif p.suffix == ".txt":
            text = raw.decode("utf-8", "replace")
            first = text.strip().splitlines()[0] if text.strip() else ""
            out.append((first[:40], "", text))
    return out


def enc(text, codec):
    # cp932/euc-jis-2004 cover most of the corpus; replace what they cannot encode.
    return text.encode(codec, "replace")


def header(s, charset):
    if not s:
        return ""
    try:
        return Header(s, charset).encode(maxlinelen=76)
    except UnicodeEncodeError:
        return Header(s, "utf-8").encode(maxlinelen=76)


def from_header(addr, charset):
    name, mail = parseaddr(addr)
    if not name:
        return mail or addr
    return f"{header(name, charset)} <{mail}>"


def body_part(text, how):
    """(content-type params, transfer-encoding, body bytes)."""
    if how == "iso2022":
        return "text/plain; charset=ISO-2022-JP", "7bit", enc(text, "iso2022_jp")
    if how == "sjis_b64":
        return "text/plain; charset=Shift_JIS", "base64", base64.encodebytes(enc(text, "cp932"))
    if how == "eucjp_qp":
        return "text/plain; charset=EUC-JP", "quoted-printable", quopri.encodestring(enc(text, "euc_jp"))
    if how == "utf8_b64":
        return "text/plain; charset=UTF-8", "base64", base64.encodebytes(text.encode())
    return "text/plain; charset=UTF-8", "8bit", text.encode()


def message(i, rng, subject, sender, text, how):
    addr = sender or f"{rng.choice(['info', 'support', 'noreply', 'tanaka'])}@example{rng.randrange(50)}.jp"
    hcs = "iso-2022-jp" if how == "iso2022" else "utf-8"
    day = 1 + i % 28
    lines = [
        f"From sender{i % 97}@example.jp Mon Jan {day:2d} 10:{i % 60:02d}:00 2024",
        f"From: {from_header(addr, hcs)}",
        "To: user@example.jp",
        f"Subject: {header(subject, hcs)}",
        f"Date: Mon, {day} Jan 2024 10:{i % 60:02d}:00 +0900",
        f"Message-ID: <bench{i}@example.jp>",
        "MIME-Version: 1.0",
    ]
    head = "\n".join(lines).encode()
    if how == "html_alt":
        b = "=_bench_" + str(i)
        html = "<html><body><p>" + escape(text).replace("\n", "<br>\n") + "</p></body></html>\n"
        ct1, te1, p1 = body_part(text, "utf8_b64")
        body = (
            f"Content-Type: multipart/alternative; boundary=\"{b}\"\n\n--{b}\n"
            f"Content-Type: {ct1}\nContent-Transfer-Encoding: {te1}\n\n"
        ).encode() + p1 + (
            f"\n--{b}\nContent-Type: text/html; charset=UTF-8\n"
            "Content-Transfer-Encoding: quoted-printable\n\n"
        ).encode() + quopri.encodestring(html.encode()) + f"\n--{b}--\n".encode()
    else:
        ct, te, p = body_part(text, how)
        body = f"Content-Type: {ct}\nContent-Transfer-Encoding: {te}\n\n".encode() + p
    # mboxrd quoting
    out = []
    for line in body.split(b"\n"):
        stripped = line.lstrip(b">")
        out.append(b">" + line if stripped.startswith(b"From ") else line)
    return head + b"\n" + b"\n".join(out).rstrip(b"\n") + b"\n\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--size-mb", type=float, default=100)
    ap.add_argument("--seed", type=int, default=20240101)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ham, scam = load("ham"), load("scam")
    target = int(a.size_mb * 1024 * 1024)
    written = n = 0
    with open(a.out, "wb") as f:
        while written < target:
            pool = scam if rng.random() < 0.10 else ham
            subject, sender, text = pool[rng.randrange(len(pool))]
            how = ENCODINGS[n % len(ENCODINGS)]
            # Longer legitimate mail: newsletters repeat their body a few times.
            if pool is ham and rng.random() < 0.3:
                text = "\n".join([text] * rng.randint(2, 6))
            m = message(n, rng, subject, sender, text, how)
            f.write(m)
            written += len(m)
            n += 1
    print(f"{a.out}: {n} messages, {written / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
