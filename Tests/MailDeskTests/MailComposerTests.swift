import Foundation
import Mail
import Testing

/// The lines of a message (split at CRLF), and whether every LF is preceded by CR.
func crlfLines(_ bytes: [UInt8]) -> (lines: [ArraySlice<UInt8>], onlyCRLF: Bool) {
    var lines: [ArraySlice<UInt8>] = []
    var start = 0, onlyCRLF = true
    for i in bytes.indices where bytes[i] == 0x0A {
        if i == 0 || bytes[i - 1] != 0x0D { onlyCRLF = false }
        lines.append(bytes[start..<max(start, i - 1)])
        start = i + 1
    }
    if start < bytes.count { lines.append(bytes[start...]) }
    return (lines, onlyCRLF)
}

@Suite struct MailComposerTests {
    static let date = Date(timeIntervalSince1970: 1_772_431_200)

    /// Every hard case of the body in one text: long lines (Cyrillic and ASCII without spaces), "="
    /// signs and things that look like encoded words, trailing spaces and tabs (also on the "-- "
    /// signature separator), a lone dot, leading spaces, CR-less line ends.
    static let text: String = [
        "Здравствуйте, Иван!",
        "",
        String(repeating: "Очень длинная строка без переносов, ", count: 14) + "конец.",
        String(repeating: "x", count: 1200),
        "Formula: a=b+c; x == y; 100% = done; =?UTF-8?B?0J/RgNC40LLQtdGC?= ==",
        "=",
        "ends with equals =",
        "trailing spaces   ",
        "trailing tab\t",
        "   leading spaces",
        ".",
        "From the desk",
        "",
        "-- ",
        "Anna Petrova",
    ].joined(separator: "\n")

    static let attachmentBytes = pseudoRandomBytes(5000, seed: 42) + Array(0...255)

    static func mail(text: String = text, attachments: [OutgoingMail.Attachment]? = nil) -> OutgoingMail {
        OutgoingMail(
            from: MailAddress(name: "Служба поддержки Acme", address: "support@desk.example"),
            to: [MailAddress(name: "Иван Петров", address: "ivan@client.example"),
                 MailAddress(name: "O'Brien, Pat (Ops)", address: "pat@client.example"),
                 MailAddress(name: nil, address: "plain@client.example")],
            subject: "Re: [#42] Не работает печать отчётов — срочно! Очень длинная тема письма, чтобы её пришлось переносить",
            messageId: "hd.42.3.1.0123456789abcdef01234567@desk.example",
            inReplyTo: "orig-1@client.example",
            references: ["first@client.example", "orig-1@client.example"],
            date: date, text: text,
            attachments: attachments ?? [.init(filename: "Отчёт за март 2026.pdf", contentType: "application/pdf", bytes: attachmentBytes)],
            headers: [("X-Helpdesk-Ticket", "42"), ("X-Note", "Заметка")])
    }

    @Test func composedMessageParsesBackExactly() throws {
        let raw = MailComposer.compose(Self.mail())
        let m = MailMessage.parse(raw)
        #expect(m.problems.isEmpty, "\(m.problems)")
        #expect(m.subject == "Re: [#42] Не работает печать отчётов — срочно! Очень длинная тема письма, чтобы её пришлось переносить")
        #expect(m.from == [MailAddress(name: "Служба поддержки Acme", address: "support@desk.example")])
        #expect(m.to.map(\.address) == ["ivan@client.example", "pat@client.example", "plain@client.example"])
        #expect(m.to.map(\.name) == ["Иван Петров", "O'Brien, Pat (Ops)", nil])
        #expect(m.messageId == "hd.42.3.1.0123456789abcdef01234567@desk.example")
        #expect(m.inReplyTo == ["orig-1@client.example"])
        #expect(m.references == ["first@client.example", "orig-1@client.example"])
        #expect(m.date == Self.date)
        #expect(m.header("X-Helpdesk-Ticket") == "42")
        #expect(m.header("X-Note") == "Заметка")
        #expect(m.text == Self.text)
        #expect(!m.isAutomatic)
        #expect(m.attachments.count == 1)
        let a = try #require(m.attachments.first)
        #expect(a.filename == "Отчёт за март 2026.pdf")
        #expect(a.contentType == "application/pdf")
        #expect(a.disposition == "attachment")
        #expect(a.decodedBytes() == Self.attachmentBytes)
    }

    @Test func outputIsSevenBitWithShortCRLFLines() {
        let raw = MailComposer.compose(Self.mail())
        #expect(raw.allSatisfy { $0 < 0x80 }, "non-ASCII byte in the output")
        #expect(!raw.contains(0), "NUL in the output")
        let (lines, onlyCRLF) = crlfLines(raw)
        #expect(onlyCRLF, "a bare LF in the output")
        #expect(!lines.contains { $0.contains(0x0D) }, "a bare CR in the output")
        let longest = lines.map(\.count).max() ?? 0
        #expect(longest <= 998, "longest line \(longest) bytes")
        // Top-level header lines are folded to at most 78 characters.
        let headerEnd = lines.firstIndex { $0.isEmpty } ?? 0
        for line in lines[..<headerEnd] { #expect(line.count <= 78, "\(String(decoding: line, as: UTF8.self))") }
        // Body lines are quoted-printable or base64: at most 76. (Part headers aside: the RFC 2231
        // filename cannot be folded; see aLongNonASCIIFilenameStaysWithinTheLineLimit.)
        for line in lines[headerEnd...] where !line.starts(with: Array("Content-".utf8))
            && !String(decoding: line, as: UTF8.self).contains("filename*=") {
            #expect(line.count <= 76, "\(String(decoding: line, as: UTF8.self))")
        }
    }

    @Test func withoutAttachmentsTheTextRoundTripsExactly() {
        for text in [Self.text, "One line", "Ends with a newline\n", "Привет = мир  "] {
            let raw = MailComposer.compose(Self.mail(text: text, attachments: []))
            #expect(raw.allSatisfy { $0 < 0x80 })
            let m = MailMessage.parse(raw)
            #expect(m.attachments.isEmpty)
            #expect(m.text == text)

            #expect(m.text.trimmingCharacters(in: .newlines) == text.trimmingCharacters(in: .newlines))
        }
    }

    @Test func headerInjectionThroughSubjectNamesAndFilenamesIsDefused() throws {
        let mail = OutgoingMail(
            from: MailAddress(name: "Desk\r\nBcc: evil@attacker.example", address: "support@desk.example"),
            to: [MailAddress(name: "Client", address: "client@client.example")],
            subject: "Hello\r\nBcc: evil@attacker.example\r\n\r\nInjected body",
            messageId: "x1@desk.example", date: Self.date, text: "Real body",
            attachments: [.init(filename: "a\r\nContent-Type: text/html\r\n.txt", contentType: "text/plain\r\nX-Evil: 1", bytes: [65])],
            headers: [("X-Ticket", "1\r\nBcc: evil@attacker.example")])
        let raw = MailComposer.compose(mail)
        let m = MailMessage.parse(raw)
        #expect(m.headerValues("bcc").isEmpty)
        #expect(m.header("x-evil") == nil)
        #expect(m.subject.contains("Injected body"))
        #expect(m.text == "Real body")
        #expect(m.attachments.count == 1)
        #expect(m.attachments.first?.contentType == "application/octet-stream")
        #expect(m.attachments.first?.decodedBytes() == [65])
    }

    @Test func quotedPrintableKeepsLinesShortAndDecodesBack() {
        let input = Array(Self.text.utf8)
        let qp = MailComposer.quotedPrintable(input)
        let (lines, onlyCRLF) = crlfLines(qp)
        #expect(onlyCRLF)
        #expect(lines.allSatisfy { $0.count <= 76 })
        #expect(qp.allSatisfy { $0 < 0x80 })
        // No encoded line ends in a space or tab (it would be stripped in transit).
        #expect(!lines.contains { $0.last == 0x20 || $0.last == 0x09 })
        let decoded = MailEncoding.quotedPrintableDecode(qp)
        #expect(String(decoding: decoded, as: UTF8.self) == Self.text.replacingOccurrences(of: "\n", with: "\r\n"))
    }

    @Test func aLongNonASCIIFilenameStaysWithinTheLineLimit() throws {
        // 200 Cyrillic letters: a name the intake accepts (it keeps up to 255 characters).
        let name = String(repeating: "я", count: 200) + ".txt"
        let raw = MailComposer.compose(Self.mail(attachments: [.init(filename: name, contentType: "text/plain", bytes: [1, 2, 3])]))
        let longest = crlfLines(raw).lines.map(\.count).max() ?? 0
        #expect(longest <= 998, "longest line \(longest) bytes")

        let m = MailMessage.parse(raw)
        #expect(m.attachments.first?.filename == name)
    }
}
