import Foundation

/// An outgoing message, before it is turned into RFC 5322 bytes.
public struct OutgoingMail: Sendable {
    public struct Attachment: Sendable {
        public var filename: String
        public var contentType: String
        public var bytes: [UInt8]
        public init(filename: String, contentType: String, bytes: [UInt8]) {
            self.filename = filename
            self.contentType = contentType
            self.bytes = bytes
        }
    }

    public var from: MailAddress
    public var to: [MailAddress]
    public var subject: String
    /// Without angle brackets.
    public var messageId: String
    public var inReplyTo: String?
    public var references: [String]
    public var date: Date
    public var text: String
    public var attachments: [Attachment]
    /// Extra header fields (ASCII names; values are encoded if they are not ASCII).
    public var headers: [(name: String, value: String)]

    public init(from: MailAddress, to: [MailAddress], subject: String, messageId: String, inReplyTo: String? = nil,
                references: [String] = [], date: Date, text: String, attachments: [Attachment] = [],
                headers: [(name: String, value: String)] = []) {
        self.from = from
        self.to = to
        self.subject = subject
        self.messageId = messageId
        self.inReplyTo = inReplyTo
        self.references = references
        self.date = date
        self.text = text
        self.attachments = attachments
        self.headers = headers
    }
}

/// Writes RFC 5322 / MIME messages: UTF-8 text as quoted-printable, RFC 2047 headers, attachments in
/// base64 inside multipart/mixed. The output parses back with `MailMessage.parse` (tested).
public enum MailComposer {
    public static func compose(_ m: OutgoingMail, boundarySeed: String = UUID().uuidString) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(m.text.utf8.count * 2 + m.attachments.reduce(0) { $0 + $1.bytes.count * 4 / 3 + 200 } + 1024)
        func line(_ s: String) { out.append(contentsOf: Array(s.utf8)); out.append(13); out.append(10) }
        func header(_ name: String, _ value: String) { line(fold(name + ": " + value)) }
        header("From", address(m.from))
        header("To", m.to.map(address).joined(separator: ", "))
        header("Subject", MailEncoding.encodeHeaderWord(oneLine(m.subject)))
        header("Date", rfc5322Date(m.date))
        header("Message-ID", "<\(m.messageId)>")
        if let r = m.inReplyTo { header("In-Reply-To", "<\(r)>") }
        if !m.references.isEmpty { header("References", m.references.map { "<\($0)>" }.joined(separator: " ")) }
        for (n, v) in m.headers { header(n, MailEncoding.encodeHeaderWord(oneLine(v))) }
        header("MIME-Version", "1.0")
        let textPart: (String) -> Void = { _ in
            header("Content-Type", "text/plain; charset=utf-8")
            header("Content-Transfer-Encoding", "quoted-printable")
            line("")
            out.append(contentsOf: quotedPrintable(Array(m.text.replacingOccurrences(of: "\r\n", with: "\n").utf8)))
            // The CRLF before a boundary belongs to the boundary; a single-part body needs no final CRLF.
            if !m.attachments.isEmpty, out.suffix(2) != [13, 10] { line("") }
        }
        if m.attachments.isEmpty {
            textPart("")
            return out
        }
        let boundary = "=_hd_" + boundarySeed.filter { $0.isLetter || $0.isNumber }
        header("Content-Type", "multipart/mixed; boundary=\"\(boundary)\"")
        line("")
        line("This is a MIME message.")
        line("--" + boundary)
        textPart("")
        for a in m.attachments {
            line("--" + boundary)
            let name = oneLine(a.filename)
            let type = a.contentType.contains("/") && a.contentType.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\"" })
                ? a.contentType : "application/octet-stream"
            header("Content-Type", "\(type); name=\"\(MailEncoding.encodeHeaderWord(name).replacingOccurrences(of: "\"", with: ""))\"")
            header("Content-Disposition", "attachment; " + filenameParameter(name))
            header("Content-Transfer-Encoding", "base64")
            line("")
            let b64 = Array(Data(a.bytes).base64EncodedString().utf8)
            var i = 0
            while i < b64.count {
                let end = min(i + 76, b64.count)
                out.append(contentsOf: b64[i..<end])
                out.append(13); out.append(10)
                i = end
            }
        }
        line("--" + boundary + "--")
        return out
    }

    /// `Name <addr>` with the name RFC 2047-encoded (or quoted) when needed.
    public static func address(_ a: MailAddress) -> String {
        guard let name = a.name.map(oneLine), !name.isEmpty else { return a.address }
        if name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            let special = name.contains { "()<>[]:;@\\,.\"".contains($0) }
            let shown = special ? "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" : name
            return "\(shown) <\(a.address)>"
        }
        return "\(MailEncoding.encodeHeaderWord(name)) <\(a.address)>"
    }

    /// RFC 2231 `filename*=UTF-8''…` for non-ASCII names (split into `filename*0*=…; filename*1*=…`
    /// continuations of at most 60 characters, so header lines stay short), a quoted `filename="…"` otherwise.
    static func filenameParameter(_ name: String) -> String {
        if name.utf8.count <= 60, name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) { return "filename=\"\(name)\"" }
        var pieces: [String] = []
        var current = "UTF-8''"
        for b in name.utf8 {
            let token = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x2D || b == 0x5F
                ? String(UnicodeScalar(b)) : String(format: "%%%02X", b)
            if current.utf8.count + token.utf8.count > 60 {
                pieces.append(current)
                current = ""
            }
            current += token
        }
        pieces.append(current)
        if pieces.count == 1 { return "filename*=" + pieces[0] }
        return pieces.enumerated().map { "filename*\($0.offset)*=\($0.element)" }.joined(separator: "; ")
    }

    static func oneLine(_ s: String) -> String {
        String(s.map { $0 == "\r" || $0 == "\n" || $0 == "\t" ? " " : $0 })
    }

    /// Folds a header line at spaces so that lines stay under 78 characters where possible.
    static func fold(_ s: String) -> String {
        guard s.utf8.count > 78 else { return s }
        var out = "", lineLength = 0
        for (i, word) in s.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
            if i > 0 {
                if lineLength + 1 + word.utf8.count > 76 && lineLength > 0 {
                    out += "\r\n "
                    lineLength = 1
                } else {
                    out += " "
                    lineLength += 1
                }
            }
            out += word
            lineLength += word.utf8.count
        }
        return out
    }

    /// Quoted-printable (RFC 2045) with CRLF line ends and soft breaks at 76 characters.
    public static func quotedPrintable(_ bytes: [UInt8]) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 8)
        var lineLength = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x0A {
                out.append(13); out.append(10); lineLength = 0; i += 1; continue
            }
            let atLineEnd = i + 1 == bytes.count || bytes[i + 1] == 0x0A
            let literal = (b >= 0x21 && b <= 0x7E && b != 0x3D) || ((b == 0x20 || b == 0x09) && !atLineEnd)
            let width = literal ? 1 : 3
            if lineLength + width > 75 {
                out.append(0x3D); out.append(13); out.append(10); lineLength = 0
            }
            if literal {
                out.append(b)
            } else {
                out.append(0x3D); out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)])
            }
            lineLength += width
            i += 1
        }
        return out
    }

    static func rfc5322Date(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return f.string(from: d)
    }
}
