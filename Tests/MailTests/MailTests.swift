import Foundation
import Testing
@testable import Mail

// MARK: - Helpers

/// Message text with "\n" turned into CRLF, as on the wire.
func wire(_ s: String) -> [UInt8] { Array(s.replacingOccurrences(of: "\n", with: "\r\n").utf8) }
func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
func b64(_ b: some Sequence<UInt8>) -> String { Data(b).base64EncodedString() }
func iso(_ s: String) -> Date? { ISO8601DateFormatter().date(from: s) }

/// Quoted-printable encoder for test fixtures (keeps "\n"; `wire` turns it into CRLF; soft breaks at 72).
func qpEncode(_ bytes: [UInt8]) -> String {
    var out = "", line = 0
    for b in bytes {
        if b == 0x0A { out += "\n"; line = 0; continue }
        let piece = (b >= 0x21 && b <= 0x7E && b != 0x3D) || b == 0x20 ? String(UnicodeScalar(b)) : String(format: "=%02X", b)
        if line + piece.count > 72 { out += "=\n"; line = 0 }
        out += piece; line += piece.count
    }
    return out
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func fnv1a(_ hash: inout UInt64, _ buf: UnsafeRawBufferPointer) {
    var h = hash
    for b in buf { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    hash = h
}

let cp1251 = String.Encoding.windowsCP1251
let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + (0..<300).map { UInt8($0 % 251) }

// MARK: - Realistic messages

@Test func thunderbirdFlowedReplyWithRussianQuote() {
    let subject = Array("Проблема с подключением".utf8)
    let raw = wire("""
    From: "Петров, Иван" <Ivan.Petrov@Example.RU>
    To: Support Team: support@helpdesk.example, "Bob (ops)" <Bob@HelpDesk.Example>;
    Cc: anna@example.org (Anna Smith), =?UTF-8?B?\(b64("Мария"))?= <maria@example.org>
    Subject: =?UTF-8?B?\(b64(subject[..<11]))?=
     =?UTF-8?B?\(b64(subject[11...]))?=
    Message-ID: <a1b2c3@example.ru>
    In-Reply-To: <ticket-42@helpdesk.example>
    References: <first@helpdesk.example>
    \t<ticket-42@helpdesk.example>
    Date: Mon, 15 Jan 2024 10:30:00 +0300
    User-Agent: Mozilla Thunderbird
    MIME-Version: 1.0
    Content-Type: text/plain; charset=UTF-8; format=flowed
    Content-Transfer-Encoding: 8bit

    Добрый день! Принтер в бухгалтерии снова не печатает, 
    хотя мы его перезагрузили.

    15.01.2024 09:00, Support пишет:
    > Попробуйте перезагрузить 
    > принтер.

    """)
    let m = MailMessage.parse(raw)
    #expect(m.from == [MailAddress(name: "Петров, Иван", address: "Ivan.Petrov@example.ru")])
    #expect(m.to == [MailAddress(address: "support@helpdesk.example"), MailAddress(name: "Bob (ops)", address: "Bob@helpdesk.example")])
    #expect(m.cc == [MailAddress(name: "Anna Smith", address: "anna@example.org"), MailAddress(name: "Мария", address: "maria@example.org")])
    #expect(m.subject == "Проблема с подключением")
    #expect(m.messageId == "a1b2c3@example.ru")
    #expect(m.inReplyTo == ["ticket-42@helpdesk.example"])
    #expect(m.references == ["first@helpdesk.example", "ticket-42@helpdesk.example"])
    #expect(m.date == iso("2024-01-15T07:30:00Z"))
    #expect(m.header("user-agent") == "Mozilla Thunderbird")
    #expect(m.headers.first { $0.name == "References" }?.value == "<first@helpdesk.example>\t<ticket-42@helpdesk.example>")
    #expect(m.newText == "Добрый день! Принтер в бухгалтерии снова не печатает, хотя мы его перезагрузили.")
    #expect(m.quotedText == "15.01.2024 09:00, Support пишет:\n> Попробуйте перезагрузить принтер.")
    #expect(!m.isAutomatic && !m.htmlWasConverted && m.attachments.isEmpty && m.problems.isEmpty)
}

@Test func outlookAlternativeWindows1251QuotedPrintable() throws {
    let plain = """
    Здравствуйте!
    Счёт №17 оплачен, см. вложение.

    С уважением,
    Иван Сидоров

    ________________________________
    От: Support <support@helpdesk.example>
    Отправлено: 15 января 2024 г. 18:00
    Кому: Сидоров Иван
    Тема: Счёт №17

    Добрый день, пришлите счёт.
    """
    let plainBytes = try #require(plain.data(using: cp1251))
    let htmlBytes = try #require("<html><body><p>Здравствуйте!</p></body></html>".data(using: cp1251))
    let subj = try #require("Счёт №17".data(using: cp1251))
    let qWord = "=?windows-1251?Q?" + qpEncode(Array(subj)).replacingOccurrences(of: " ", with: "_") + "?="
    let name = try #require("Сидоров Иван".data(using: cp1251))
    let raw = wire("""
    From: =?windows-1251?B?\(b64(name))?= <i.sidorov@corp.example>
    To: "support@helpdesk.example" <support@helpdesk.example>
    Subject: RE: \(qWord)
    Thread-Topic: \(qWord)
    Date: Tue, 16 Jan 2024 09:05:12 +0000
    Message-ID: <DB9PR01MB1234ABCD@DB9PR01MB1234.eurprd01.prod.outlook.com>
    Content-Type: multipart/alternative;
    \tboundary="_000_DB9PR01MB1234_"
    MIME-Version: 1.0

    --_000_DB9PR01MB1234_
    Content-Type: text/plain; charset="windows-1251"
    Content-Transfer-Encoding: quoted-printable

    \(qpEncode(Array(plainBytes)))

    --_000_DB9PR01MB1234_
    Content-Type: text/html; charset="windows-1251"
    Content-Transfer-Encoding: quoted-printable

    \(qpEncode(Array(htmlBytes)))

    --_000_DB9PR01MB1234_--

    """)
    let m = MailMessage.parse(raw)
    #expect(m.from == [MailAddress(name: "Сидоров Иван", address: "i.sidorov@corp.example")])
    #expect(m.to == [MailAddress(address: "support@helpdesk.example")])
    #expect(m.subject == "RE: Счёт №17")
    #expect(m.header("THREAD-TOPIC") == "Счёт №17")
    #expect(m.text == plain + "\n")
    #expect(m.newText == "Здравствуйте!\nСчёт №17 оплачен, см. вложение.\n\nС уважением,\nИван Сидоров")
    #expect(m.quotedText?.hasPrefix("________________________________\nОт: Support") == true)
    #expect(m.attachments.isEmpty, "the HTML alternative is not an attachment")
    #expect(m.date == iso("2024-01-16T09:05:12Z"))
    #expect(m.problems.isEmpty)
}

let pdfBytes = Array("%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n".utf8)

func gmailMessage() -> [UInt8] {
    return wire("""
    MIME-Version: 1.0
    Date: Wed, 17 Jan 2024 12:00:00 +0100
    Message-ID: <CAF=abc123@mail.gmail.com>
    Subject: Screenshot of the error
    From: Alice Example <alice@gmail.com>
    To: support@helpdesk.example
    Content-Type: multipart/mixed; boundary="000000000000aaaa"

    --000000000000aaaa
    Content-Type: multipart/alternative; boundary="000000000000bbbb"

    --000000000000bbbb
    Content-Type: text/plain; charset="UTF-8"

    Hi, the error is in the screenshot below.
    [image: error.png]

    On Tue, Jan 16, 2024 at 6:00 PM Support Team <support@helpdesk.example>
    wrote:

    > Please send a screenshot.
    >

    --000000000000bbbb
    Content-Type: multipart/related; boundary="000000000000cccc"

    --000000000000cccc
    Content-Type: text/html; charset="UTF-8"
    Content-Transfer-Encoding: quoted-printable

    <div dir=3D"ltr">Hi, the error is in the screenshot below.<br><img src=3D"cid:ii_abc"></div>

    --000000000000cccc
    Content-Type: image/png; name="error.png"
    Content-Disposition: inline; filename="error.png"
    Content-Transfer-Encoding: base64
    Content-ID: <ii_abc>
    X-Attachment-Id: ii_abc

    \(Data(png).base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed]))
    --000000000000cccc--

    --000000000000bbbb--
    --000000000000aaaa
    Content-Type: application/pdf; name="=?UTF-8?B?\(b64("Счёт №5.pdf"))?="
    Content-Disposition: attachment; filename="=?UTF-8?B?\(b64("Счёт №5.pdf"))?="
    Content-Transfer-Encoding: base64

    \(b64(pdfBytes))
    --000000000000aaaa--

    """)
}

@Test func gmailNestedMixedAlternativeRelatedWithInlineImage() {
    let m = MailMessage.parse(gmailMessage())
    #expect(m.messageId == "CAF=abc123@mail.gmail.com")
    #expect(m.from == [MailAddress(name: "Alice Example", address: "alice@gmail.com")])
    #expect(m.date == iso("2024-01-17T11:00:00Z"))
    #expect(!m.htmlWasConverted)
    #expect(m.newText == "Hi, the error is in the screenshot below.\n[image: error.png]")
    #expect(m.quotedText == "On Tue, Jan 16, 2024 at 6:00 PM Support Team <support@helpdesk.example>\nwrote:\n\n> Please send a screenshot.\n>")
    #expect(m.attachments.count == 2)
    let image = m.attachments[0], pdf = m.attachments[1]
    #expect(image.filename == "error.png" && image.contentType == "image/png" && image.contentId == "ii_abc")
    #expect(image.isInline && image.disposition == "inline")
    #expect(image.decodedBytes() == png)
    #expect(pdf.filename == "Счёт №5.pdf" && pdf.contentType == "application/pdf" && !pdf.isInline && pdf.contentId == nil)
    #expect(pdf.decodedBytes() == pdfBytes)
    #expect(m.problems.isEmpty)
}

@Test func koi8rBodyAndEncodedWordSubject() {
    let privet: [UInt8] = [0xF0, 0xD2, 0xC9, 0xD7, 0xC5, 0xD4]                       // Привет
    let body: [UInt8] = privet + Array(", ".utf8) + [0xCD, 0xC9, 0xD2, 0x21, 0x20, 0xB3, 0xCC, 0xCB, 0xC1]  // , мир! Ёлка
    let raw = wire("""
    From: =?koi8-r?Q?=F0=C5=D4=D2_=E9=D7=C1=CE=CF=D7?= <petr@mail.example>
    Subject: =?KOI8-R?B?\(b64(privet))?=
    Content-Type: text/plain; charset=KOI8-R
    Content-Transfer-Encoding: 8bit


    """) + body + wire("\n")
    let m = MailMessage.parse(raw)
    #expect(m.subject == "Привет")
    #expect(m.from.first?.name == "Петр Иванов")
    #expect(m.text == "Привет, мир! Ёлка\n")
    #expect(m.newText == "Привет, мир! Ёлка")
}

@Test func rfc2231RussianFilenameWithContinuations() {
    let raw = wire("""
    From: a@b.example
    Content-Type: multipart/mixed; boundary=XX

    preamble is ignored
    --XX
    Content-Type: text/plain

    See attached.
    --XX
    Content-Type: application/pdf;
     name*=utf-8''%D0%94%D0%BE%D0%B3%D0%BE%D0%B2%D0%BE%D1%80.pdf
    Content-Disposition: attachment;
     filename*0*=UTF-8''%D0%94%D0%BE%D0%B3;
     filename*1*=%D0%BE%D0%B2%D0%BE%D1%80;
     filename*2=" 2024.pdf"
    Content-ID: <part2@x>

    PDFDATA
    --XX
    Content-Type: text/plain; name*=koi8-r'ru'%F0%C9%D3%D8%CD%CF.txt
    Content-Disposition: attachment; filename="plain \\"quoted\\" name.txt"; filename*=koi8-r'ru'%F0%C9%D3%D8%CD%CF.txt

    letter
    --XX
    Content-Type: application/octet-stream; name="C:/Users/me/evil.exe"

    MZ
    --XX--
    epilogue is ignored
    """)
    let m = MailMessage.parse(raw)
    #expect(m.text == "See attached.")
    #expect(m.attachments.map(\.filename) == ["Договор 2024.pdf", "Письмо.txt", "evil.exe"])
    #expect(m.attachments[0].contentId == "part2@x" && m.attachments[0].isInline == false)
    #expect(m.attachments[0].decodedBytes() == Array("PDFDATA".utf8))
    #expect(m.attachments[2].decodedBytes() == Array("MZ".utf8))
    #expect(HeaderSyntax.parameters(#"attachment; filename="plain \"quoted\" name.txt""#).params["filename"] == #"plain "quoted" name.txt"#)
    #expect(m.problems.isEmpty)
}

@Test func htmlOnlyMessageIsConverted() {
    let raw = wire("""
    From: shop@example.com
    Subject: Order
    Content-Type: text/html; charset=utf-8
    Content-Transfer-Encoding: quoted-printable

    <html><head><title>X</title><style>p{color:red}</style></head><body>
    <script type=3D"text/javascript">alert("<p>no</p>")</script>
    <h1>Order&nbsp;#42</h1><p>Hello&amp;welcome,<br>line   two &#1055;&#x440;&#1080;&#x432;&#1077;&#x442; 3 &lt; 5</p>
    <ul><li>First</li><li>Second <a href=3D"https://example.com/a?x=3D1&amp;y=3D2">link</a></li></ul>
    <div>Mail <a href=3D"mailto:bob@example.com">bob@example.com</a></div><!-- <p>hidden</p> -->
    <table><tr><td>A</td><td>B</td></tr></table><pre>  keep
      this</pre>x &unknown; y
    </body></html>
    """)
    let m = MailMessage.parse(raw)
    #expect(m.htmlWasConverted)
    #expect(m.text == """
    Order #42

    Hello&welcome,
    line two Привет 3 < 5

    - First
    - Second link (https://example.com/a?x=1&y=2)

    Mail bob@example.com

    A B

      keep
      this

    x &unknown; y
    """)
}

@Test func replyHeaderVariants() {
    func split(_ s: String) -> (String, String?) { MailText.splitQuote(s) }
    #expect(split("Спасибо!\n\nПн, 15 янв. 2024 г. в 10:00, Иван <ivan@x.ru>:\nnope").1 == nil, "unknown header style is left alone")
    #expect(split("Готово.\n\n15.01.2024 10:00, Иван Петров писал(а):\n> текст") == ("Готово.", "15.01.2024 10:00, Иван Петров писал(а):\n> текст"))
    #expect(split("Ok\n\n-------- Исходное сообщение --------\nТема: x") == ("Ok", "-------- Исходное сообщение --------\nТема: x"))
    #expect(split("Fine\n-----Original Message-----\nFrom: a") == ("Fine", "-----Original Message-----\nFrom: a"))
    #expect(split("Thanks\n\nFrom: Bob <b@x>\nSent: Monday\nTo: me\n\nold") == ("Thanks", "From: Bob <b@x>\nSent: Monday\nTo: me\n\nold"))
    #expect(split("Hi\n\nOn Mon, Jan 15, 2024 at 10:00 AM Bob <b@x> wrote:\n> old") == ("Hi", "On Mon, Jan 15, 2024 at 10:00 AM Bob <b@x> wrote:\n> old"))
    #expect(split("> q1\nmy answer 1\n> q2\nmy answer 2").1 == nil, "interleaved replies are not split")
    #expect(split("Answer\n> old 1\n>\n> old 2\n") == ("Answer", "> old 1\n>\n> old 2"))
    #expect(split("Он пишет:\nнормальный текст").1 == nil, "'пишет:' without date, address or quote lines is text")
}

@Test func automaticMessageDetection() {
    func auto(_ headers: String) -> Bool { MailMessage.parse(wire("From: a@b.example\n\(headers)\n\nbody\n")).isAutomatic }
    #expect(auto("Auto-Submitted: auto-replied"))
    #expect(!auto("Auto-Submitted: no"))
    #expect(auto("Precedence: bulk"))
    #expect(auto("Precedence: List"))
    #expect(!auto("Precedence: first-class"))
    #expect(auto("X-Autoreply: yes"))
    #expect(auto("X-Autorespond: Out of office"))
    #expect(auto("List-Id: Announcements <announce.example.com>"))
    #expect(auto("Return-Path: < >"))
    #expect(!auto("Return-Path: <a@b.example>"))
    #expect(!auto("X-Mailer: Outlook"))
}

@Test func brokenMessageStillYieldsTextAndProblems() {
    var b = b64("Текст письма, который всё ещё читается.\n")
    b.insert(contentsOf: "!!*", at: b.index(b.startIndex, offsetBy: 8))
    let raw = wire("""
    From: broken@example.com
    Date: yesterday-ish
    Content-Type: multipart/mixed; boundary="XYZ"
    This line has no colon

    --XYZ
    Content-Type: text/plain; charset=utf-8
    Content-Transfer-Encoding: base64

    \(b)Q
    --XYZ
    Content-Type: application/octet-stream; name="data.bin"
    Content-Transfer-Encoding: base64

    AAEC!!!AwQ=
    """)
    let m = MailMessage.parse(raw)
    #expect(m.text == "Текст письма, который всё ещё читается.\n")
    #expect(m.date == nil)
    #expect(m.attachments.count == 1 && m.attachments.first?.decodedBytes() == [0, 1, 2, 3, 4])
    #expect(m.problems.contains("missing final MIME boundary: last part runs to the end"))
    #expect(m.problems.contains("invalid base64 in body: junk skipped"))
    #expect(m.problems.contains("unparseable Date header ignored"))
    #expect(m.problems.contains("non-header line in header block: treated as start of body"))
    // A truncated header block, an empty input, and a body that is only a boundary.
    #expect(MailMessage.parse(Array("Subject: cut".utf8)).subject == "cut")
    #expect(MailMessage.parse([UInt8]()).text == "")
    #expect(MailMessage.parse(Data("Subject: d\r\n\r\nx".utf8)).text == "x")
    let nb = MailMessage.parse(wire("Content-Type: multipart/mixed; boundary=Q\n\nno parts here\n"))
    #expect(nb.text == "no parts here\n" && nb.problems.contains("boundary not found in multipart body: treated as text/plain"))
}

@Test func deepNestingDegradesToAttachment() {
    var inner = "Content-Type: text/plain\n\ndeep text"
    for d in (0..<40).reversed() { inner = "Content-Type: multipart/mixed; boundary=\"b\(d)\"\n\n--b\(d)\n\(inner)\n--b\(d)--\n" }
    let m = MailMessage.parse(wire("From: x@y.example\n" + inner))
    #expect(m.problems.contains { $0.hasPrefix("MIME nesting deeper than 32") })
    #expect(m.text == "")
    #expect(m.attachments.count == 1 && m.attachments[0].contentType == "multipart/mixed")
}

// MARK: - Codecs and header syntax

@Test func charsetsDecode() throws {
    let ru = "Привет"
    #expect(MailEncoding.decode(bytes: [0xF0, 0xD2, 0xC9, 0xD7, 0xC5, 0xD4], charset: "koi8-r") == ru)
    #expect(MailEncoding.decode(bytes: [0xCF, 0xF0, 0xE8, 0xE2, 0xE5, 0xF2, 0xB9, 0xB8], charset: "CP1251") == ru + "№ё")
    #expect(MailEncoding.decode(bytes: [0xBF, 0xE0, 0xD8, 0xD2, 0xD5, 0xE2, 0xF0, 0xA1], charset: "ISO_8859-5") == ru + "№Ё")
    #expect(MailEncoding.decode(bytes: [0xA4, 0xA6], charset: "koi8-u") == "єі")
    #expect(MailEncoding.decode(bytes: [0x63, 0x61, 0x66, 0xE9], charset: "iso-8859-1") == "café")
    #expect(MailEncoding.decode(bytes: [0x92], charset: "iso-8859-1") == "’", "latin1 label decoded as windows-1252")
    #expect(MailEncoding.decode(bytes: [0x5A, 0xB9, 0x6C], charset: "iso-8859-2") == "Zšl")
    #expect(MailEncoding.decode(bytes: [0xA4, 0xBD], charset: "ISO-8859-15") == "€œ")
    #expect(MailEncoding.decode(bytes: Array("plain".utf8), charset: "us-ascii") == "plain")
    #expect(MailEncoding.decode(bytes: Array("ёж".utf8), charset: "UTF8") == "ёж")
    #expect(MailEncoding.decode(bytes: [0x41, 0xFF, 0x42], charset: "x-no-such-charset") == "A\u{FFFD}B")
    #expect(MailEncoding.decode(bytes: [0x41, 0xFF], charset: nil) == "A\u{FFFD}")
    // Hand-written tables agree with Foundation's CoreFoundation converters for every high byte.
    #expect(MailEncoding.koi8r.count == 128 && MailEncoding.cp1251High.count == 64)
    for (name, raw) in [("koi8-r", UInt(0x8000_0A02)), ("windows-1251", cp1251.rawValue), ("iso-8859-5", UInt(0x8000_0205))] {
        for b in UInt8(0x80)...0xFF where !(name == "windows-1251" && b == 0x98) {
            let expected = String(data: Data([b]), encoding: String.Encoding(rawValue: raw))
            #expect(MailEncoding.decode(bytes: [b], charset: name) == expected, "\(name) byte \(b)")
        }
    }
}

@Test func transferEncodings() {
    #expect(MailEncoding.quotedPrintableDecode(Array("a=3Db=\r\nc  \r\nd=ZZ=4".utf8)) == Array("a=bc\r\nd=ZZ=4".utf8))
    #expect(MailEncoding.quotedPrintableDecode(Array("=D0=9F=d1=80 x=\n".utf8)) == Array("Пр x".utf8))
    #expect(MailEncoding.base64Decode(Array("SGVs\r\nbG8g d29y*bGQ=\n".utf8)) == Array("Hello world".utf8))
    #expect(MailEncoding.base64Decode(Array("SGk=SGk".utf8)) == Array("HiHi".utf8))
    #expect(MailEncoding.base64Decode(Array("@@@".utf8)) == [])
}

@Test func encodedWords() {
    #expect(MailEncoding.decodeEncodedWords("=?utf-8?q?Hello_W=C3=B6rld?= =?UTF-8?B?ISE=?= tail") == "Hello Wörld!! tail")
    #expect(MailEncoding.decodeEncodedWords("a =?utf-8?q?b?=  c") == "a b  c")
    #expect(MailEncoding.decodeEncodedWords("=?utf-8?x?bad?= =?utf-8?q?unterminated") == "=?utf-8?x?bad?= =?utf-8?q?unterminated")
    #expect(MailEncoding.decodeEncodedWords("=?UTF-8*ru?Q?=D0=AF?=") == "Я")
    #expect(MailEncoding.decodeEncodedWords("=?windows-1251?B?z/Do4uXy?= =?koi8-r?B?8NLJ1w==?=") == "ПриветПрив")
    let long = "Заявка №123: не работает принтер в бухгалтерии на третьем этаже 😀"
    let enc = MailEncoding.encodeHeaderWord(long)
    #expect(enc.split(separator: " ").allSatisfy { $0.count <= 75 && $0.hasPrefix("=?UTF-8?B?") })
    #expect(enc.split(separator: " ").count > 1)
    #expect(MailEncoding.decodeEncodedWords(enc) == long)
    #expect(MailEncoding.encodeHeaderWord("Plain subject") == "Plain subject")
}

@Test func addressLists() {
    func a(_ s: String) -> [MailAddress] { HeaderSyntax.addresses(s) }
    #expect(a("undisclosed-recipients:;") == [])
    #expect(a("John Smith <John@EXAMPLE.com>, jane@Example.Org") ==
        [MailAddress(name: "John Smith", address: "John@example.com"), MailAddress(address: "jane@example.org")])
    #expect(a("<@relay.example:user@Host.Example>") == [MailAddress(address: "user@host.example")])
    #expect(a("\"Last, First (Dept)\" <f.last@x.example> (ignored comment)") == [MailAddress(name: "Last, First (Dept)", address: "f.last@x.example")])
    #expect(a("=?UTF-8?Q?=D0=98=D0=B2=D0=B0=D0=BD?= =?UTF-8?Q?_=D0=9F?= <i@p.example>") == [MailAddress(name: "Иван П", address: "i@p.example")])
    #expect(a("broken <unterminated@x.example") == [MailAddress(name: "broken", address: "unterminated@x.example")])
    #expect(a("no address here, ,,") == [])
    #expect(a("bob@x.example <bob@x.example>, bob@x.example <other@x.example>") ==
        [MailAddress(address: "bob@x.example"), MailAddress(name: "bob@x.example", address: "other@x.example")])
    #expect(HeaderSyntax.messageIds("<a@b> (comment <x@y>) <c@d>") == ["a@b", "c@d"])
    #expect(HeaderSyntax.messageIds("bare@id.example") == ["bare@id.example"])
}

@Test func dateVariants() {
    let expected = iso("2024-01-15T07:30:00Z")
    for s in ["Mon, 15 Jan 2024 10:30:00 +0300", "15 Jan 2024 10:30:00 +0300 (MSK)", "Mon, 15 Jan 24 07:30 GMT",
              "Monday, 15 January 2024 07:30:00 UT", "Mon Jan 15 07:30:00 2024", "15.01.2024 10:30:00 +0300",
              "Mon, 15 Jan 2024 02:30:00 EST", "2024-01-15T07:30:00Z", "Mon,15 Jan 2024 09:30:00 +0200"] {
        #expect(HeaderSyntax.date(s) == expected, "\(s)")
    }
    for bad in ["", "yesterday", "Mon, 32 Jan 2024 10:00:00 +0000", "Mon, 15 Foo 2024", "99999999999999999999 Jan 2024"] {
        #expect(HeaderSyntax.date(bad) == nil, "\(bad)")
    }
    #expect(HeaderSyntax.date("29 Feb 2024 00:00:00 +0000") == iso("2024-02-29T00:00:00Z"))
}

// MARK: - Streaming and robustness

@Test func twentyMegabyteAttachmentStreamsInChunks() throws {
    let size = 20 * 1024 * 1024
    var rng = SplitMix64(state: 42)
    var payload = [UInt8](repeating: 0, count: size)
    payload.withUnsafeMutableBytes { p in
        for i in stride(from: 0, to: size, by: 8) { p.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self) }
    }
    var expectedHash: UInt64 = 0xCBF2_9CE4_8422_2325
    payload.withUnsafeBytes { fnv1a(&expectedHash, $0) }
    let encoded = Data(payload).base64EncodedData(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
    var raw = wire("""
    From: big@example.com
    Subject: big file
    Content-Type: multipart/mixed; boundary="BIG"

    --BIG
    Content-Type: text/plain

    Here it is.
    --BIG
    Content-Type: application/octet-stream
    Content-Disposition: attachment; filename="big.bin"
    Content-Transfer-Encoding: base64


    """)
    raw += encoded
    raw += wire("\n--BIG--\n")
    payload = []
    let m = MailMessage.parse(raw)
    #expect(m.text == "Here it is.")
    let att = try #require(m.attachments.first)
    #expect(att.filename == "big.bin" && att.encodedSize == encoded.count)
    var total = 0, chunks = 0, maxChunk = 0, hash: UInt64 = 0xCBF2_9CE4_8422_2325
    att.decode { buf in
        total += buf.count; chunks += 1; maxChunk = max(maxChunk, buf.count)
        fnv1a(&hash, buf)
    }
    #expect(total == size)
    #expect(hash == expectedHash)
    #expect(maxChunk <= 65_536 && chunks >= size / 65_536)
    struct Stop: Error {}
    var seen = 0
    #expect(throws: Stop.self) { try att.decode { buf in seen += buf.count; if seen > 100_000 { throw Stop() } } }
    #expect(seen < 200_000, "a throwing sink stops decoding")
}

@Test func quotedPrintableAttachmentChunksMatchWholeDecode() {
    let text = (0..<5000).map { "Строка номер \($0) = ok\t \n" }.joined()
    let qp = qpEncode(Array(text.utf8))
    let raw = wire("Content-Type: text/csv; name=a.csv\nContent-Transfer-Encoding: quoted-printable\n\n" + qp)
    let att = MailMessage.parse(raw).attachments[0]
    var streamed: [UInt8] = []
    att.decode(chunkSize: 1000) { streamed += $0 }
    let expected = Array(text.replacingOccurrences(of: "\t \n", with: "\t\r\n").utf8)
    #expect(att.decodedBytes() == expected)
    #expect(streamed == expected)
}

@Test func fuzzedMessagesNeverCrash() {
    let base = gmailMessage()
    let tokens = ["--", "\r\n", "\n", "=?utf-8?B?", "?=", "=", "\r\n\r\n", "--000000000000aaaa\r\n", "--000000000000cccc--",
                  "Content-Type: multipart/mixed; boundary=", "<", "\"", "(", "%", "&#", "<a href=", "base64", "\u{0}",
                  "filename*0*=", "=?koi8-r?q?", ":", ";", "\t"].map { Array($0.utf8) }
    var rng = SplitMix64(state: 0xC0FFEE)
    for _ in 0..<300 {
        var m = base
        for _ in 0..<(1 + rng.next() % 8) {
            let pos = m.isEmpty ? 0 : Int(rng.next() % UInt64(m.count))
            let len = Int(rng.next() % 200)
            switch rng.next() % 7 {
            case 0: if !m.isEmpty { m[pos] = UInt8(truncatingIfNeeded: rng.next()) }
            case 1: m.removeSubrange(pos..<min(m.count, pos + len))
            case 2: m.insert(contentsOf: m[pos..<min(m.count, pos + len)], at: pos)
            case 3: m.insert(contentsOf: tokens[Int(rng.next() % UInt64(tokens.count))], at: pos)
            case 4: m.removeSubrange(pos...)
            case 5: m = m.filter { $0 != 0x0D }
            default: m.insert(contentsOf: (0..<len).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: pos)
            }
        }
        let msg = MailMessage.parse(m)
        _ = (msg.subject, msg.from, msg.date, msg.newText, msg.quotedText, msg.isAutomatic, msg.header("content-type"))
        for a in msg.attachments {
            #expect(a.encodedSize <= m.count)
            var n = 0
            a.decode(chunkSize: 4096) { n += $0.count; #expect($0.count <= 4096) }
            #expect(n == a.decodedBytes().count)
        }
    }
}

@Test func pathologicalInputsStayBounded() {
    let clock = ContinuousClock(), start = clock.now
    let words = String(repeating: "=?utf-8?q?", count: 10_000)
    let m1 = MailMessage.parse(wire("Subject: \(words)\nContent-Type: text/html\n\n" + String(repeating: "<a href=\"http://x\">", count: 50_000)
        + "text" + String(repeating: "</a>", count: 50_000) + String(repeating: "<!--", count: 2_000)))
    #expect(m1.headers[0].value.utf8.count == 1 << 16 - 1, "header value capped at 64 KiB (minus the leading space)")
    #expect(m1.problems.contains("header value longer than 64 KiB truncated") && m1.text.hasPrefix("text"))
    let parts = (0..<12_000).map { "--b\n\npart \($0)\n" }.joined()
    let m2 = MailMessage.parse(wire("Content-Type: multipart/mixed; boundary=b\n\n" + parts + "--b--\n"))
    #expect(m2.problems.contains("more than 10000 MIME parts: the rest ignored"))
    #expect(m2.text == "part 0" && m2.attachments.count == 9_998)
    let flowed = MailMessage.parse(wire("Content-Type: text/plain; format=flowed\n\n" + String(repeating: "word \n", count: 50_000) + "end\n"))
    #expect(flowed.text.hasSuffix("word end\n") && flowed.text.count == 50_000 * 5 + 4)
    #expect(clock.now - start < .seconds(15))
}
