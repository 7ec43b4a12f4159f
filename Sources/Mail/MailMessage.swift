import Foundation

/// A mailbox from an address header. `address` has its domain part lowercased; `name` is the
/// decoded display name (or the RFC 5322 comment when there is no display name).
public struct MailAddress: Sendable, Hashable {
    public var name: String?
    public var address: String
    public init(name: String? = nil, address: String) { self.name = name; self.address = address }
}

/// A non-body leaf part. It references the encoded bytes inside the parsed message (no copy) and
/// decodes them only on request, so large attachments can be streamed with `decode(into:)`.
/// Note: holding an attachment keeps the whole raw message buffer alive.
public struct MailAttachment: Sendable {
    /// Decoded file name (RFC 2231 / RFC 2047) with any directory part removed.
    public var filename: String?
    /// Lowercased `type/subtype`.
    public var contentType: String
    /// Content-ID without angle brackets.
    public var contentId: String?
    /// Lowercased Content-Disposition value (`attachment`, `inline`) if present.
    public var disposition: String?
    /// `disposition == "inline"`, or no disposition but a Content-ID (embedded image).
    public var isInline: Bool
    /// The `charset` parameter, for text attachments.
    public var charset: String?
    let storage: [UInt8]
    let encodedRange: Range<Int>
    let transferEncoding: TransferEncoding

    /// Size of the still transfer-encoded body in bytes.
    public var encodedSize: Int { encodedRange.count }

    /// The whole decoded body. Prefer `decode(into:)` for large attachments.
    public func decodedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(transferEncoding == .base64 ? encodedSize / 4 * 3 + 3 : encodedSize)
        decode { out.append(contentsOf: $0) }
        return out
    }

    /// Decodes the body in pieces of at most `chunkSize` bytes (default 64 KiB) and passes each to
    /// `sink`; memory use is bounded by the chunk size. Errors thrown by `sink` stop decoding.
    public func decode(chunkSize: Int = 1 << 16, into sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try transferDecode(storage, encodedRange, transferEncoding, chunk: chunkSize, sink)
    }
}

/// A parsed RFC 5322 / MIME message. `parse` never fails: malformed input is handled as well as
/// possible and described in `problems`.
public struct MailMessage: Sendable {
    /// All header fields of the top-level message, unfolded, undecoded, in order.
    public var headers: [(name: String, value: String)] = []
    public var from: [MailAddress] = [], to: [MailAddress] = [], cc: [MailAddress] = [], replyTo: [MailAddress] = []
    /// Message-ID without angle brackets.
    public var messageId: String?
    public var inReplyTo: [String] = [], references: [String] = []
    /// Decoded subject, "" if absent.
    public var subject = ""
    public var date: Date?
    /// The chosen body (text/plain preferred, else text/html converted) with "\n" line ends.
    public var text = ""
    /// `text` without the quoted earlier message.
    public var newText = ""
    /// The quoted earlier message (from the reply header or first quote line on), if found.
    public var quotedText: String?
    public var htmlWasConverted = false
    public var attachments: [MailAttachment] = []
    /// Auto-reply or bulk mail (Auto-Submitted ≠ no, Precedence bulk/junk/list, X-Autoreply,
    /// X-Autorespond, List-Id, or `Return-Path: <>`). Do not auto-answer these.
    public var isAutomatic = false
    /// Human-readable notes on what was malformed and how it was handled.
    public var problems: [String] = []

    /// First header named `name` (case-insensitive), RFC 2047 decoded.
    public func header(_ name: String) -> String? {
        headers.first { sameFieldName($0.name, name) }.map { $0.value.contains("=?") ? MailEncoding.decodeEncodedWords($0.value) : $0.value }
    }

    /// All raw values of headers named `name` (case-insensitive), in order.
    public func headerValues(_ name: String) -> [String] {
        headers.filter { sameFieldName($0.name, name) }.map(\.value)
    }

    /// Parses a message from any byte collection (copied once into an array).
    public static func parse(_ raw: some Collection<UInt8>) -> MailMessage { parse(Array(raw)) }

    /// Parses a message. Attachments share `raw`'s storage.
    public static func parse(_ raw: [UInt8]) -> MailMessage {
        let p = MIMEParser(raw)
        let root = p.part(0..<raw.count, depth: 0, defaultType: "text/plain")
        var m = MailMessage()
        m.headers = root.headers
        func addresses(_ n: String) -> [MailAddress] { m.headerValues(n).flatMap(HeaderSyntax.addresses) }
        m.from = addresses("from"); m.to = addresses("to"); m.cc = addresses("cc"); m.replyTo = addresses("reply-to")
        m.messageId = m.headerValues("message-id").first.flatMap { HeaderSyntax.messageIds($0).first }
        m.inReplyTo = m.headerValues("in-reply-to").flatMap(HeaderSyntax.messageIds)
        m.references = m.headerValues("references").flatMap(HeaderSyntax.messageIds)
        m.subject = trimText(String((m.header("subject") ?? "").map { $0 == "\t" ? " " : $0 }), newlines: false)
        if let d = m.headerValues("date").first {
            m.date = HeaderSyntax.date(d)
            if m.date == nil { p.note("unparseable Date header ignored") }
        }
        let auto = m.header("auto-submitted")?.split(separator: ";").first.map { trimText($0, newlines: false).lowercased() }
        let precedence = m.header("precedence").map { trimText($0, newlines: false).lowercased() } ?? ""
        m.isAutomatic = (auto.map { !$0.isEmpty && $0 != "no" } ?? false) || ["bulk", "junk", "list"].contains(precedence)
            || m.header("x-autoreply") != nil || m.header("x-autorespond") != nil || m.header("list-id") != nil
            || m.header("return-path").map { $0.filter { !$0.isWhitespace } == "<>" } == true

        let body = chooseBody(root)
        if let body {
            var bytes: [UInt8] = []
            if !transferDecode(raw, body.body, body.encoding, chunk: 1 << 16, { bytes.append(contentsOf: $0) }) {
                p.note("invalid base64 in body: junk skipped")
            }
            var s = MailEncoding.decode(bytes: bytes, charset: body.params["charset"])
            if s.hasPrefix("\u{FEFF}") { s.removeFirst() }
            s = normaliseNewlines(s)
            if body.type == "text/html" {
                s = MailText.htmlToText(s); m.htmlWasConverted = true
            } else if body.params["format"]?.lowercased() == "flowed" {
                s = MailText.unflow(s, delsp: body.params["delsp"]?.lowercased() == "yes")
            }
            m.text = s
            (m.newText, m.quotedText) = MailText.splitQuote(s)
        }
        func collect(_ part: MIMEPart, inAlternative: Bool) {
            if !part.children.isEmpty {
                for c in part.children { collect(c, inAlternative: inAlternative || part.type == "multipart/alternative") }
                return
            }
            if part.body == body?.body || (inAlternative && part.isTextBody) { return }
            let cid = part.header("content-id").flatMap { HeaderSyntax.messageIds($0).first ?? trimText($0, newlines: false) }
            m.attachments.append(MailAttachment(
                filename: part.filename, contentType: part.type, contentId: cid, disposition: part.disposition,
                isInline: part.disposition == "inline" || (part.disposition == nil && cid != nil),
                charset: part.params["charset"], storage: raw, encodedRange: part.body, transferEncoding: part.encoding))
        }
        collect(root, inAlternative: false)
        m.problems = p.problems
        return m
    }

    /// Picks the body leaf: text/plain preferred inside multipart/alternative, the root of
    /// multipart/related, the first usable part of any other multipart.
    static func chooseBody(_ p: MIMEPart) -> MIMEPart? {
        if p.children.isEmpty { return p.isTextBody ? p : nil }
        switch p.type {
        case "multipart/alternative":
            let candidates = p.children.compactMap(chooseBody)
            return candidates.first { $0.type == "text/plain" } ?? candidates.last
        case "multipart/related":
            let start = p.params["start"].flatMap { HeaderSyntax.messageIds($0).first }
            let root = p.children.first { c in start != nil && c.header("content-id").flatMap { HeaderSyntax.messageIds($0).first } == start }
            return chooseBody(root ?? p.children[0])
        default:
            for c in p.children { if let b = chooseBody(c) { return b } }
            return nil
        }
    }
}

/// One MIME entity: headers, parsed content type and the byte range of its (encoded) body.
struct MIMEPart {
    var headers: [(name: String, value: String)] = []
    var type = "text/plain"
    var params: [String: String] = [:]
    var disposition: String?
    var dispositionParams: [String: String] = [:]
    var encoding = TransferEncoding.identity
    var body = 0..<0
    var children: [MIMEPart] = []

    func header(_ name: String) -> String? { headers.first { sameFieldName($0.name, name) }?.value }
    var filename: String? {
        guard let f = dispositionParams["filename"] ?? params["name"] else { return nil }
        let base = f.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        return base.isEmpty ? nil : base
    }
    /// A text/plain or text/html leaf that is not marked as an attachment and has no file name.
    var isTextBody: Bool {
        children.isEmpty && (type == "text/plain" || type == "text/html") && disposition != "attachment" && filename == nil
    }
}

/// Walks the raw bytes; collects problems. Limits: header fields per part, header block size,
/// header value length, number of parts, nesting depth.
final class MIMEParser {
    static let maxDepth = 32, maxParts = 10_000, maxFields = 1_000, maxHeaderBytes = 1 << 20, maxValueBytes = 1 << 16
    let raw: [UInt8]
    var problems: [String] = []
    var partCount = 0

    init(_ raw: [UInt8]) { self.raw = raw }

    func note(_ s: String) { if problems.count < 100 && !problems.contains(s) { problems.append(s) } }

    /// Index of the next LF in from..<to, or nil.
    func lineFeed(_ from: Int, _ to: Int) -> Int? {
        guard from < to else { return nil }
        return raw.withUnsafeBufferPointer { p -> Int? in
            guard let base = p.baseAddress, let r = memchr(base + from, 0x0A, to - from) else { return nil }
            return UnsafeRawPointer(r) - UnsafeRawPointer(base)
        }
    }

    func part(_ range: Range<Int>, depth: Int, defaultType: String) -> MIMEPart {
        partCount += 1
        var part = MIMEPart()
        let bodyStart: Int
        (part.headers, bodyStart) = headers(range, top: depth == 0)
        part.body = bodyStart..<range.upperBound
        if let ct = part.header("content-type") {
            let (v, params) = HeaderSyntax.parameters(ct)
            let t = v.lowercased(), pieces = t.split(separator: "/")
            if pieces.count == 2, !t.contains(" ") { part.type = t } else { note("invalid Content-Type '\(v.prefix(40))': treated as \(defaultType)"); part.type = defaultType }
            part.params = params
        } else { part.type = defaultType }
        if let cd = part.header("content-disposition") {
            let (v, params) = HeaderSyntax.parameters(cd)
            part.disposition = v.isEmpty ? nil : v.lowercased()
            part.dispositionParams = params
        }
        let cte = part.header("content-transfer-encoding")
        part.encoding = TransferEncoding(header: cte)
        if let cte, part.encoding == .identity, !["7bit", "8bit", "binary"].contains(trimText(cte, newlines: false).lowercased()) {
            note("unknown Content-Transfer-Encoding '\(cte.prefix(30))': body taken as is")
        }
        guard part.type.hasPrefix("multipart/") else { return part }
        if depth >= Self.maxDepth || partCount >= Self.maxParts {
            note("MIME nesting deeper than \(Self.maxDepth) or more than \(Self.maxParts) parts: remainder kept as an attachment")
            return part
        }
        guard let boundary = part.params["boundary"], !boundary.isEmpty else {
            note("multipart without boundary: body treated as text/plain"); part.type = "text/plain"; return part
        }
        var ranges = split(part.body, boundary: boundary)
        if ranges.count > Self.maxParts - partCount {
            note("more than \(Self.maxParts) MIME parts: the rest ignored"); ranges = Array(ranges.prefix(max(0, Self.maxParts - partCount)))
        }
        if ranges.isEmpty { note("boundary not found in multipart body: treated as text/plain"); part.type = "text/plain"; return part }
        let childDefault = part.type == "multipart/digest" ? "message/rfc822" : "text/plain"
        part.children = ranges.map { self.part($0, depth: depth + 1, defaultType: childDefault) }
        return part
    }

    /// Parses the header block at the start of `range`; returns the fields and where the body starts.
    func headers(_ range: Range<Int>, top: Bool) -> ([(name: String, value: String)], Int) {
        var fields: [(name: String, value: [UInt8])] = []
        var i = range.lowerBound, bodyStart = range.upperBound
        let end = range.upperBound
        while i < end {
            let lf = lineFeed(i, end) ?? end
            let contentEnd = lf > i && raw[lf - 1] == 0x0D ? lf - 1 : lf
            if contentEnd == i { bodyStart = min(lf + 1, end); break }
            if i - range.lowerBound > Self.maxHeaderBytes { note("header block larger than 1 MiB: rest of it ignored") } else if raw[i] == 0x20 || raw[i] == 0x09 {
                if fields.isEmpty { note("continuation line before first header ignored") } else if fields[fields.count - 1].value.count < Self.maxValueBytes {
                    fields[fields.count - 1].value += raw[i..<min(contentEnd, i + Self.maxValueBytes)]  // unfold: keep the WSP
                } else { note("header value longer than 64 KiB truncated") }
            } else if let colon = raw[i..<min(contentEnd, i + 256)].firstIndex(of: 0x3A),
                      case let name = raw[i..<colon].reversed().drop(while: { $0 == 0x20 || $0 == 0x09 }).reversed(),
                      !name.isEmpty, name.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
                if contentEnd - colon > Self.maxValueBytes { note("header value longer than 64 KiB truncated") }
                if fields.count < Self.maxFields {
                    fields.append((String(decoding: name, as: UTF8.self), Array(raw[(colon + 1)..<min(contentEnd, colon + 1 + Self.maxValueBytes)])))
                } else { note("more than \(Self.maxFields) header fields: rest ignored") }
            } else if top && i == range.lowerBound && raw[i..<contentEnd].starts(with: Array("From ".utf8)) {
                note("mbox 'From ' line skipped")
            } else {
                note("non-header line in header block: treated as start of body")
                bodyStart = i; break
            }
            i = lf + 1
        }
        // Raw 8-bit header bytes: UTF-8 (RFC 6532) if valid, else the part's declared charset.
        let ct = fields.first { $0.name.lowercased() == "content-type" }.map { String(decoding: $0.value, as: UTF8.self) }
        let charset = ct.flatMap { HeaderSyntax.parameters($0).params["charset"] }
        let result = fields.map { f -> (name: String, value: String) in
            let v = String(validating: f.value, as: UTF8.self) ?? MailEncoding.decode(bytes: f.value, charset: charset)
            return (f.name, trimText(v, newlines: true))
        }
        return (result, bodyStart)
    }

    /// Body ranges between `--boundary` delimiter lines (RFC 2046): preamble and epilogue dropped,
    /// the line break before a delimiter belongs to the delimiter, a missing close delimiter tolerated.
    func split(_ body: Range<Int>, boundary: String) -> [Range<Int>] {
        let delim = Array(("--" + boundary).utf8)
        var parts: [Range<Int>] = [], start: Int? = nil, i = body.lowerBound
        let end = body.upperBound
        while i < end {
            let lf = lineFeed(i, end) ?? end
            let contentEnd = lf > i && raw[lf - 1] == 0x0D ? lf - 1 : lf
            if raw[i] == 0x2D, contentEnd - i >= delim.count, raw[i..<(i + delim.count)].elementsEqual(delim) {
                let k = i + delim.count
                let isClose = contentEnd - k >= 2 && raw[k] == 0x2D && raw[k + 1] == 0x2D
                if isClose || raw[k..<contentEnd].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                    if let s = start {
                        var e = i
                        if e > s && raw[e - 1] == 0x0A { e -= 1; if e > s && raw[e - 1] == 0x0D { e -= 1 } }
                        parts.append(s..<e)
                    }
                    if isClose { return parts }
                    start = min(lf + 1, end)
                }
            }
            i = lf + 1
        }
        if let s = start { note("missing final MIME boundary: last part runs to the end"); parts.append(s..<end) }
        return parts
    }
}

/// Header field names compared ASCII case-insensitively, without allocating.
func sameFieldName(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    for (x, y) in zip(a.utf8, b.utf8) where x != y {
        let lx = x >= 0x41 && x <= 0x5A ? x | 0x20 : x, ly = y >= 0x41 && y <= 0x5A ? y | 0x20 : y
        if lx != ly { return false }
    }
    return true
}
