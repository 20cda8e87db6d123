#!/usr/bin/env python3
"""Generate the mail fixtures in tests/fixtures/mail/ with Python's own codecs.

Run from the repository root:  python3 tests/gen_mail_fixtures.py
The output is deterministic and committed; src/mail tests read it. Each .eml
is written byte-exactly; mixed.mbox holds the same messages (mboxrd-quoted)
in the same order; maildir/ holds them as a Maildir; expected.json holds what
sagiscan::mail::parse_message must decode from each one.
"""
import base64
import json
import os
import quopri
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "mail")


def b64(data: bytes) -> bytes:
    raw = base64.b64encode(data)
    return b"\n".join(raw[i:i + 76] for i in range(0, len(raw), 76)) + b"\n"


def qp(data: bytes) -> bytes:
    return quopri.encodestring(data)


def ew_b(text: str, charset: str, codec: str = None) -> str:
    """RFC 2047 B encoded word."""
    return "=?%s?B?%s?=" % (charset, base64.b64encode(text.encode(codec or charset)).decode())


def ew_q(text: str, charset: str, codec: str = None) -> str:
    """RFC 2047 Q encoded word (every non-safe byte as =XX, space as _)."""
    out = []
    for byte in text.encode(codec or charset):
        c = chr(byte)
        if c.isascii() and (c.isalnum() or c in "!*+-/"):
            out.append(c)
        elif c == " ":
            out.append("_")
        else:
            out.append("=%02X" % byte)
    return "=?%s?Q?%s?=" % (charset, "".join(out))


def cp50220(text: str) -> bytes:
    """ISO-2022-JP with the CP50220 extensions (NEC row 13, NEC-selected IBM
    extensions), which Python's iso2022_jp codec refuses: each CP932 double
    byte is converted to its JIS row/cell; IBM extensions (0xFA-0xFC) are
    first mapped to their NEC-selected twins (0xED-0xEE)."""
    nec_selected = {}
    for lead in (0xED, 0xEE):
        for trail in range(0x40, 0xFD):
            try:
                ch = bytes([lead, trail]).decode("cp932")
            except UnicodeDecodeError:
                continue
            nec_selected.setdefault(ch, bytes([lead, trail]))
    out = bytearray()
    mode = "ascii"
    for ch in text:
        if ch.isascii():
            if mode != "ascii":
                out += b"\x1b(B"
                mode = "ascii"
            out += ch.encode()
            continue
        sj = nec_selected.get(ch) if ch.encode("cp932")[0] >= 0xFA else None
        sj = sj or ch.encode("cp932")
        assert len(sj) == 2, ch
        s1, s2 = sj
        row = (s1 - (0x70 if s1 < 0xA0 else 0xB0)) * 2 - (1 if s2 < 0x9F else 0)
        cell = s2 - (0x1F if s2 < 0x7F else 0x20 if s2 < 0x9F else 0x7E)
        if mode != "jis":
            out += b"\x1b$B"
            mode = "jis"
        out += bytes([row, cell])
    if mode != "ascii":
        out += b"\x1b(B"
    return bytes(out)


def lines(*ls) -> str:
    return "\n".join(ls) + "\n"


FIXTURES = []  # (name, bytes, expected)


def add(name, headers: str, body: bytes, expected: dict):
    raw = headers.encode("ascii") + b"\n" + body
    exp = {
        "message_id": None, "from": None, "from_name": None, "from_address": None,
        "subject": None, "body": "", "links": [], "attachments": [], "error": False,
    }
    exp.update(expected)
    if exp["from_address"] and exp["from"] is None:
        exp["from"] = ("%s <%s>" % (exp["from_name"], exp["from_address"])
                       if exp["from_name"] else exp["from_address"])
    FIXTURES.append((name, raw, exp))


SAGAWA_SUBJ = "【佐川急便】お荷物の配達に伺いましたが不在のため持ち帰りました"
SAGAWA_BODY = lines(
    "お客様宛にお荷物のお届けにあがりましたが不在の為持ち帰りました。",
    "下記よりご確認ください。",
    "http://sagawa-exp.example.top/?id=8832",
)
JIA = "(財)日本インターネット協会"
JIA_SUBJ = "日本インターネット協会から還付金のお知らせ"
JIA_BODY = lines(
    "あなたは8,750万円の還付金の受取人に選ばれました。",
    "受け取りには手数料としてコンビニでプリペイドカードを購入し、",
    "番号をお知らせください。",
    "From the desk of 還付金担当",
    ">From 事務局",
    "お問い合わせ: 0120-000-000",
)

# 1. ISO-2022-JP, 7bit body, B-encoded subject and From name.
add("01_iso2022jp_7bit.eml", lines(
    "Return-Path: <refund@docomo.ne.jp>",
    "Received: from mx.example.jp (mx.example.jp [192.0.2.1])",
    "\tby mail.example.org with ESMTP id 1A2B3C",
    "\tfor <user@example.org>; Mon, 1 Jul 2024 10:00:00 +0900",
    "From: %s <refund@DoCoMo.ne.jp>" % ew_b(JIA, "ISO-2022-JP"),
    "To: user@example.org",
    "Subject: %s" % ew_b(JIA_SUBJ, "ISO-2022-JP"),
    "Date: Mon, 1 Jul 2024 10:00:00 +0900",
    "Message-ID: <jia-0001@docomo.ne.jp>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=ISO-2022-JP",
    "Content-Transfer-Encoding: 7bit",
), JIA_BODY.encode("iso2022_jp"), {
    "message_id": "<jia-0001@docomo.ne.jp>", "from_name": JIA,
    "from_address": "refund@docomo.ne.jp", "subject": JIA_SUBJ,
    "body": JIA_BODY.rstrip("\n"),
})

# 2. Shift_JIS, base64 body, Q-encoded Shift_JIS subject, B UTF-8 From name.
SJIS_BODY = lines(
    "【重要】お客様のアカウントが一時停止されました。",
    "本日中に以下のURLから本人確認を行ってください。",
    "https://amazon-co-jp.example.xyz/signin",
)
add("02_shift_jis_base64.eml", lines(
    "From: %s <info@amazon-security.example.xyz>" % ew_b("Amazon.co.jp セキュリティ", "UTF-8"),
    "To: user@example.org",
    "Subject: %s" % ew_q("【重要】アカウント一時停止のお知らせ", "Shift_JIS"),
    "Message-ID: <sjis-0002@example.xyz>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=\"Shift_JIS\"",
    "Content-Transfer-Encoding: base64",
), b64(SJIS_BODY.encode("shift_jis")), {
    "message_id": "<sjis-0002@example.xyz>", "from_name": "Amazon.co.jp セキュリティ",
    "from_address": "info@amazon-security.example.xyz",
    "subject": "【重要】アカウント一時停止のお知らせ", "body": SJIS_BODY.rstrip("\n"),
})

# 3. EUC-JP, quoted-printable body, B EUC-JP subject, Q EUC-JP From name.
EUC_BODY = lines(
    "いつもご利用いただきありがとうございます。",
    "7月の定例会は第2水曜日に開催します。",
    "資料は当日配布します。",
)
add("03_euc_jp_qp.eml", lines(
    "From: %s <tanaka@example.co.jp>" % ew_q("田中 太郎", "EUC-JP"),
    "To: team@example.co.jp",
    "Subject: %s" % ew_b("定例会のご案内", "EUC-JP"),
    "Message-ID: <euc-0003@example.co.jp>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=EUC-JP",
    "Content-Transfer-Encoding: quoted-printable",
), qp(EUC_BODY.encode("euc_jp")), {
    "message_id": "<euc-0003@example.co.jp>", "from_name": "田中 太郎",
    "from_address": "tanaka@example.co.jp", "subject": "定例会のご案内",
    "body": EUC_BODY.rstrip("\n"),
})

# 4. UTF-8, 8bit body, Q-encoded UTF-8 subject, plain ASCII From.
UTF8_BODY = lines(
    "【メルカリ】ご本人様確認のお願い",
    "お支払い方法に問題が発生しました。",
    "From 2024年7月1日 より新しい規約が適用されます。",
    ">>From 引用された行",
)
add("04_utf8_8bit.eml", lines(
    "From: no-reply@mercari-jp.example.cn",
    "To: user@example.org",
    "Subject: %s" % ew_q("【メルカリ】ご本人様確認のお願い", "UTF-8"),
    "Message-ID: <utf8-0004@example.cn>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
), UTF8_BODY.encode("utf-8"), {
    "message_id": "<utf8-0004@example.cn>", "from_address": "no-reply@mercari-jp.example.cn",
    "subject": "【メルカリ】ご本人様確認のお願い", "body": UTF8_BODY.rstrip("\n"),
})

# 5. CP932 with NEC/IBM extension characters (①, 髙) under the Shift_JIS label.
CP932_BODY = lines(
    "髙橋様",
    "①未払い料金 39,800円",
    "②本日中にお支払いがない場合、法的手続きに移行します。",
)
add("05_cp932_ext.eml", lines(
    "From: %s <billing@example.top>" % ew_b("髙橋法律事務所", "Shift_JIS", "cp932"),
    "To: user@example.org",
    "Subject: %s" % ew_b("①未払い料金のご請求", "Shift_JIS", "cp932"),
    "Message-ID: <cp932-0005@example.top>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=Shift_JIS",
    "Content-Transfer-Encoding: base64",
), b64(CP932_BODY.encode("cp932")), {
    "message_id": "<cp932-0005@example.top>", "from_name": "髙橋法律事務所",
    "from_address": "billing@example.top", "subject": "①未払い料金のご請求",
    "body": CP932_BODY.rstrip("\n"),
})

# 6. HTML only, with a phishing href that differs from the visible text.
HTML = (
    "<html><head><title>佐川急便</title><style>p { color: #333; }</style></head>"
    "<body><p>%s</p><p>お客様宛にお荷物のお届けにあがりましたが<br>不在の為持ち帰りました。</p>"
    "<div>再配達のご依頼は<a href=\"http://sagawa-exp.example.top/redeliver?id=8832&amp;k=1\">"
    "https://www.sagawa-exp.co.jp/</a>から</div>"
    "<script>document.write('<p>hidden</p>')</script>"
    "<p>&copy; SAGAWA EXPRESS&nbsp;CO.,LTD. &lt;配達&gt;</p></body></html>\n" % SAGAWA_SUBJ
)
add("06_html_only.eml", lines(
    "From: %s <info@sagawa-exp.example.top>" % ew_b("佐川急便", "UTF-8"),
    "To: user@example.org",
    "Subject: %s" % ew_b(SAGAWA_SUBJ, "UTF-8"),
    "Message-ID: <html-0006@example.top>",
    "MIME-Version: 1.0",
    "Content-Type: text/html; charset=UTF-8",
    "Content-Transfer-Encoding: base64",
), b64(HTML.encode("utf-8")), {
    "message_id": "<html-0006@example.top>", "from_name": "佐川急便",
    "from_address": "info@sagawa-exp.example.top", "subject": SAGAWA_SUBJ,
    "body": SAGAWA_SUBJ + "\nお客様宛にお荷物のお届けにあがりましたが\n不在の為持ち帰りました。\n"
            "再配達のご依頼はhttps://www.sagawa-exp.co.jp/から\n© SAGAWA EXPRESS CO.,LTD. <配達>",
    "links": ["http://sagawa-exp.example.top/redeliver?id=8832&k=1"],
})

# 7. multipart/alternative: ISO-2022-JP plain + UTF-8 HTML with a link.
ALT_PLAIN = SAGAWA_BODY
ALT_HTML = ("<p>お客様宛にお荷物のお届けにあがりましたが不在の為持ち帰りました。</p>"
            "<p><a href='http://sagawa-exp.example.top/?id=8832'>下記よりご確認ください。</a></p>\n")
add("07_alternative.eml", lines(
    "From: %s <no-reply@sagawa-exp.example.top>" % ew_q("佐川急便", "ISO-2022-JP", "iso2022_jp"),
    "To: user@example.org",
    "Subject: %s" % ew_b(SAGAWA_SUBJ, "ISO-2022-JP"),
    "Message-ID: <alt-0007@example.top>",
    "MIME-Version: 1.0",
    "Content-Type: multipart/alternative; boundary=\"ALT-boundary-7\"",
), b"This is a multi-part message in MIME format.\n\n--ALT-boundary-7\n"
   b"Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n"
   + ALT_PLAIN.encode("iso2022_jp") +
   b"\n--ALT-boundary-7\nContent-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n"
   + qp(ALT_HTML.encode("utf-8")) + b"\n--ALT-boundary-7--\n", {
    "message_id": "<alt-0007@example.top>", "from_name": "佐川急便",
    "from_address": "no-reply@sagawa-exp.example.top", "subject": SAGAWA_SUBJ,
    "body": ALT_PLAIN.rstrip("\n"), "links": ["http://sagawa-exp.example.top/?id=8832"],
})

# 8. Nested: multipart/mixed { text/plain, message/rfc822 { multipart/alternative { plain, html } } }.
INNER_PLAIN = JIA_BODY.split("From the desk")[0]
INNER = (lines(
    "From: %s <refund@docomo.ne.jp>" % ew_b(JIA, "UTF-8"),
    "Subject: %s" % ew_b(JIA_SUBJ, "ISO-2022-JP"),
    "MIME-Version: 1.0",
    "Content-Type: multipart/alternative; boundary=inner-8",
).encode() + b"\n--inner-8\nContent-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: base64\n\n"
    + b64(INNER_PLAIN.encode("shift_jis"))
    + b"--inner-8\nContent-Type: text/html; charset=utf-8\n\n"
    + "<p>還付金の受取は<a href=\"https://refund.example.top/form\">こちら</a></p>\n".encode()
    + b"--inner-8--\n")
OUTER_TEXT = lines("山田さん", "変なメールが届きました。転送します。")
add("08_nested_rfc822.eml", lines(
    "From: %s <hanako@example.ne.jp>" % ew_b("山田 花子", "ISO-2022-JP"),
    "To: user@example.org",
    "Subject: %s" % ew_b("Fwd: 還付金のお知らせ", "UTF-8"),
    "Message-ID: <nested-0008@example.ne.jp>",
    "MIME-Version: 1.0",
    "Content-Type: multipart/mixed; boundary=\"outer-8\"",
), b"--outer-8\nContent-Type: text/plain; charset=ISO-2022-JP\n\n" + OUTER_TEXT.encode("iso2022_jp")
   + b"\n--outer-8\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n" + INNER
   + b"\n--outer-8--\n", {
    "message_id": "<nested-0008@example.ne.jp>", "from_name": "山田 花子",
    "from_address": "hanako@example.ne.jp", "subject": "Fwd: 還付金のお知らせ",
    "body": OUTER_TEXT.rstrip("\n") + "\n\n" + JIA_SUBJ + "\n\n" + INNER_PLAIN.rstrip("\n"),
    "links": ["https://refund.example.top/form"],
})

# 9. Mislabelled: declared iso-8859-1, bytes are Shift_JIS (8bit).
MIS1 = lines("ドコモです。ご利用料金が未納です。", "至急お支払いください。")
add("09_mislabelled_latin1_sjis.eml", lines(
    "From: docomo@example.top",
    "Subject: %s" % ew_b("ご利用料金のお知らせ", "ISO-2022-JP"),
    "Message-ID: <mis-0009@example.top>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=iso-8859-1",
    "Content-Transfer-Encoding: 8bit",
), MIS1.encode("shift_jis"), {
    "message_id": "<mis-0009@example.top>", "from_address": "docomo@example.top",
    "subject": "ご利用料金のお知らせ", "body": MIS1.rstrip("\n"),
})

# 10. Mislabelled: declared utf-8, bytes are EUC-JP (base64).
MIS2 = lines("楽天カードをご利用いただきありがとうございます。", "カードの利用が制限されました。")
add("10_mislabelled_utf8_eucjp.eml", lines(
    "From: %s <info@rakuten-card.example.top>" % ew_b("楽天カード", "UTF-8"),
    "Subject: %s" % ew_b("カード利用制限のお知らせ", "UTF-8"),
    "Message-ID: <mis-0010@example.top>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: base64",
), b64(MIS2.encode("euc_jp")), {
    "message_id": "<mis-0010@example.top>", "from_name": "楽天カード",
    "from_address": "info@rakuten-card.example.top", "subject": "カード利用制限のお知らせ",
    "body": MIS2.rstrip("\n"),
})

# 11. Attachment: text + application/zip with an RFC 2231 Japanese file name + a PDF.
ATT_TEXT = lines("請求書を添付いたします。", "ご確認のほどよろしくお願いいたします。")
add("11_attachment.eml", lines(
    "From: %s <keiri@example.co.jp>" % ew_b("経理部", "ISO-2022-JP"),
    "To: user@example.org",
    "Subject: %s" % ew_q("請求書の送付", "UTF-8"),
    "Message-ID: <att-0011@example.co.jp>",
    "MIME-Version: 1.0",
    "Content-Type: multipart/mixed; boundary=\"att-11\"",
), b"--att-11\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n"
   + ATT_TEXT.encode() +
   b"\n--att-11\nContent-Type: application/zip\nContent-Transfer-Encoding: base64\n"
   b"Content-Disposition: attachment; filename*=UTF-8''%E8%AB%8B%E6%B1%82%E6%9B%B8.zip\n\n"
   + b64(b"PK\x03\x04 not really a zip") +
   b"\n--att-11\nContent-Type: application/pdf; name=\"invoice.pdf\"\nContent-Transfer-Encoding: base64\n"
   b"Content-Disposition: attachment; filename=\"invoice.pdf\"\n\n"
   + b64(b"%PDF-1.4 fake") + b"\n--att-11--\n", {
    "message_id": "<att-0011@example.co.jp>", "from_name": "経理部",
    "from_address": "keiri@example.co.jp", "subject": "請求書の送付",
    "body": ATT_TEXT.rstrip("\n"), "attachments": ["請求書.zip", "invoice.pdf"],
})

# 12. ISO-2022-JP with CP50220 extensions (NEC row 13 ①, NEC-selected IBM 髙).
CP50220_BODY = lines("髙島屋ギフトカード当選のお知らせ", "①応募番号 8832", "②受取期限 本日中")
add("12_iso2022jp_cp50220.eml", lines(
    "From: gift@takashimaya.example.top",
    "Subject: =?ISO-2022-JP?B?%s?=" % base64.b64encode(cp50220("①髙島屋ギフトカード当選")).decode(),
    "Message-ID: <cp50220-0012@example.top>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=ISO-2022-JP",
    "Content-Transfer-Encoding: 7bit",
), cp50220(CP50220_BODY), {
    "message_id": "<cp50220-0012@example.top>", "from_address": "gift@takashimaya.example.top",
    "subject": "①髙島屋ギフトカード当選", "body": CP50220_BODY.rstrip("\n"),
})

# 13. Raw (unencoded) Shift_JIS Subject and raw ISO-2022-JP From name, no MIME labels.
RAW_BODY = lines("当選おめでとうございます。", "賞金100万円を受け取るには登録してください。")
raw13 = (b"From: " + "懸賞事務局".encode("iso2022_jp") + b" <prize@example.top>\n"
         b"Subject: " + "【当選】賞金100万円".encode("shift_jis") + b"\n"
         b"Message-ID: <raw-0013@example.top>\n\n" + RAW_BODY.encode("shift_jis"))
FIXTURES.append(("13_raw_8bit_headers.eml", raw13, {
    "message_id": "<raw-0013@example.top>", "from": "懸賞事務局 <prize@example.top>",
    "from_name": "懸賞事務局", "from_address": "prize@example.top",
    "subject": "【当選】賞金100万円", "body": RAW_BODY.rstrip("\n"),
    "links": [], "attachments": [], "error": False,
}))


def mboxrd_quote(raw: bytes) -> bytes:
    out = []
    for line in raw.split(b"\n"):
        if line.lstrip(b">").startswith(b"From "):
            line = b">" + line
        out.append(line)
    return b"\n".join(out)


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(os.path.join(ROOT, "maildir", "cur"))
    os.makedirs(os.path.join(ROOT, "maildir", "new"))
    mbox = bytearray()
    expected = {}
    for i, (name, raw, exp) in enumerate(FIXTURES):
        assert raw.endswith(b"\n"), name
        with open(os.path.join(ROOT, name), "wb") as f:
            f.write(raw)
        expected[name] = exp
        mbox += b"From sender@example.org Mon Jul  1 10:%02d:00 2024\n" % i
        mbox += mboxrd_quote(raw) + b"\n"
        sub, fname = ("cur", "17197%05d.M%dP100.mx:2,S" % (i, i)) if i % 2 == 0 \
            else ("new", "17197%05d.M%dP100.mx" % (i, i))
        with open(os.path.join(ROOT, "maildir", sub, fname), "wb") as f:
            f.write(raw)
    with open(os.path.join(ROOT, "mixed.mbox"), "wb") as f:
        f.write(bytes(mbox))
    with open(os.path.join(ROOT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
