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
        headers.first { sameFieldName($0.name, name) }.map { MailEncoding.decodeEncodedWords($0.value) }
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
        let headers = root.headers
        m.headers = headers
        // One pass finds the fields used below: (field, index in headers), in header order; the
        // lookups then give what headerValues(_:) and header(_:) give.
        var found: [(field: KnownField, index: Int)] = []
        for (k, h) in headers.enumerated() { if let f = KnownField(h.name) { found.append((f, k)) } }
        func values(_ f: KnownField) -> [String] { found.compactMap { $0.field == f ? headers[$0.index].value : nil } }
        func first(_ f: KnownField) -> String? { found.first { $0.field == f }.map { headers[$0.index].value } }
        func header(_ f: KnownField) -> String? { first(f).map(MailEncoding.decodeEncodedWords) }
        m.from = values(.from).flatMap(HeaderSyntax.addresses); m.to = values(.to).flatMap(HeaderSyntax.addresses)
        m.cc = values(.cc).flatMap(HeaderSyntax.addresses); m.replyTo = values(.replyTo).flatMap(HeaderSyntax.addresses)
        m.messageId = first(.messageId).flatMap { HeaderSyntax.messageIds($0).first }
        m.inReplyTo = values(.inReplyTo).flatMap(HeaderSyntax.messageIds)
        m.references = values(.references).flatMap(HeaderSyntax.messageIds)
        m.subject = trimText(tabsToSpaces(header(.subject) ?? ""), newlines: false)
        if let d = first(.date) {
            m.date = HeaderSyntax.date(d)
            if m.date == nil { p.note("unparseable Date header ignored") }
        }
        let auto = header(.autoSubmitted)?.split(separator: ";").first.map { trimText($0, newlines: false).lowercased() }
        let precedence = header(.precedence).map { trimText($0, newlines: false).lowercased() } ?? ""
        m.isAutomatic = (auto.map { !$0.isEmpty && $0 != "no" } ?? false) || ["bulk", "junk", "list"].contains(precedence)
            || header(.xAutoreply) != nil || header(.xAutorespond) != nil || header(.listId) != nil
            || header(.returnPath).map(isNullPath) == true

        let body = chooseBody(root)
        if let body {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(body.body.count)
            if !transferDecode(raw, body.body, body.encoding, chunk: 1 << 16, { bytes.append(contentsOf: $0) }) {
                p.note("invalid base64 in body: junk skipped")
            }
            var s: String
            let charset = MailEncoding.normalizeCharset(body.params["charset"])
            if charset == "utf-8" || charset == "us-ascii" {
                // Line ends and BOM on the bytes, one String: decoding with U+FFFD repair commutes
                // with changing CR and LF (ASCII bytes end any broken sequence either way).
                normaliseNewlines(bytes: &bytes)
                if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
                s = String(decoding: bytes, as: UTF8.self)
            } else {
                s = MailEncoding.decode(bytes: bytes, charset: charset)
                if s.hasPrefix("\u{FEFF}") { s.removeFirst() }
                s = normaliseNewlines(s)
            }
            if body.type == "text/html" {
                s = MailText.htmlToText(s); m.htmlWasConverted = true
            } else if body.params["format"]?.lowercased() == "flowed" {
                s = MailText.unflow(s, delsp: body.params["delsp"]?.lowercased() == "yes")
            }
            m.text = s
            (m.newText, m.quotedText) = MailText.splitQuote(s)
        }
        var attachments: [MailAttachment] = []
        func collect(_ part: MIMEPart, inAlternative: Bool) {
            if !part.children.isEmpty {
                for c in part.children { collect(c, inAlternative: inAlternative || part.type == "multipart/alternative") }
                return
            }
            if part.body == body?.body || (inAlternative && part.isTextBody) { return }
            let cid = part.header("content-id").flatMap { HeaderSyntax.messageIds($0).first ?? trimText($0, newlines: false) }
            attachments.append(MailAttachment(
                filename: part.filename, contentType: part.type, contentId: cid, disposition: part.disposition,
                isInline: part.disposition == "inline" || (part.disposition == nil && cid != nil),
                charset: part.params["charset"], storage: raw, encodedRange: part.body, transferEncoding: part.encoding))
        }
        collect(root, inAlternative: false)
        m.attachments = attachments
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

/// The header fields `parse` reads, matched like `header(_:)` does (ASCII case-insensitively).
enum KnownField: CaseIterable {
    case from, to, cc, replyTo, messageId, inReplyTo, references, date, subject
    case autoSubmitted, precedence, xAutoreply, xAutorespond, listId, returnPath

    var name: String {
        switch self {
        case .from: "from"
        case .to: "to"
        case .cc: "cc"
        case .replyTo: "reply-to"
        case .messageId: "message-id"
        case .inReplyTo: "in-reply-to"
        case .references: "references"
        case .date: "date"
        case .subject: "subject"
        case .autoSubmitted: "auto-submitted"
        case .precedence: "precedence"
        case .xAutoreply: "x-autoreply"
        case .xAutorespond: "x-autorespond"
        case .listId: "list-id"
        case .returnPath: "return-path"
        }
    }

    /// The fields by the length of their name.
    private static let byLength: [[KnownField]] = (0...14).map { n in allCases.filter { $0.name.utf8.count == n } }

    init?(_ name: String) {
        let n = name.utf8.count
        guard n < Self.byLength.count, let f = Self.byLength[n].first(where: { sameFieldName(name, $0.name) }) else { return nil }
        self = f
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
            let t = v.lowercased()
            if Self.typeSlashPieces(t) == 2, !containsText(t, " ") { part.type = t } else { note("invalid Content-Type '\(v.prefix(40))': treated as \(defaultType)"); part.type = defaultType }
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
        // A field's value is raw[lo..<hi] and then its continuation lines conts[contStart..<contEnd]
        // (always the latest ones: a continuation line belongs to the last field); `count` bytes in all.
        struct Field { var name: String, lo: Int, hi: Int, count: Int, contStart: Int, contEnd: Int }
        var fields: [Field] = [], conts: [Range<Int>] = []
        fields.reserveCapacity(24); conts.reserveCapacity(16)
        var i = range.lowerBound, bodyStart = range.upperBound
        let end = range.upperBound
        raw.withUnsafeBufferPointer { p in
            while i < end {
                let lf = lineFeed(i, end) ?? end
                let contentEnd = lf > i && p[lf - 1] == 0x0D ? lf - 1 : lf
                if contentEnd == i { bodyStart = min(lf + 1, end); break }
                if i - range.lowerBound > Self.maxHeaderBytes { note("header block larger than 1 MiB: rest of it ignored") } else if p[i] == 0x20 || p[i] == 0x09 {
                    if fields.isEmpty { note("continuation line before first header ignored") } else if fields[fields.count - 1].count < Self.maxValueBytes {
                        let k = fields.count - 1, piece = i..<min(contentEnd, i + Self.maxValueBytes)  // unfold: keep the WSP
                        conts.append(piece)
                        fields[k].count += piece.count; fields[k].contEnd = conts.count
                    } else { note("header value longer than 64 KiB truncated") }
                } else if let colon = UnsafeBufferPointer(rebasing: p[i..<min(contentEnd, i + 256)]).firstIndex(of: 0x3A).map({ $0 + i }),
                          let nameEnd = Self.fieldNameEnd(p, i, colon) {
                    if contentEnd - colon > Self.maxValueBytes { note("header value longer than 64 KiB truncated") }
                    if fields.count < Self.maxFields {
                        let hi = min(contentEnd, colon + 1 + Self.maxValueBytes)
                        fields.append(Field(name: string(p, i, nameEnd), lo: colon + 1, hi: hi, count: hi - colon - 1,
                                            contStart: conts.count, contEnd: conts.count))
                    } else { note("more than \(Self.maxFields) header fields: rest ignored") }
                } else if top && i == range.lowerBound && p[i..<contentEnd].starts(with: "From ".utf8) {
                    note("mbox 'From ' line skipped")
                } else {
                    note("non-header line in header block: treated as start of body")
                    bodyStart = i; break
                }
                i = lf + 1
            }
        }
        // Raw 8-bit header bytes: UTF-8 (RFC 6532) if valid, else the part's declared charset
        // (looked up only when needed).
        var charset: String?? = nil
        return raw.withUnsafeBufferPointer { p in
            func bytes(_ f: Field, _ body: (UnsafeBufferPointer<UInt8>) -> String) -> String {  // the unfolded value
                if f.contStart == f.contEnd { return body(UnsafeBufferPointer(rebasing: p[f.lo..<f.hi])) }
                let joined = [UInt8](unsafeUninitializedCapacity: f.count) { o, n in
                    var k = 0
                    for r in [f.lo..<f.hi] + conts[f.contStart..<f.contEnd] {
                        _ = UnsafeMutableBufferPointer(rebasing: o[k..<(k + r.count)]).update(fromContentsOf: UnsafeBufferPointer(rebasing: p[r]))
                        k += r.count
                    }
                    n = k
                }
                return joined.withUnsafeBufferPointer(body)
            }
            func value(_ v: UnsafeBufferPointer<UInt8>) -> String {
                if allASCII(v) { let (a, z) = trimBounds(v, 0, v.count, newlines: true); return string(v, a, z) }
                if let s = String(validating: v, as: UTF8.self) { return trimText(s, newlines: true) }
                if charset == nil {
                    let ct = fields.first { sameFieldName($0.name, "content-type") }.map { bytes($0) { String(decoding: $0, as: UTF8.self) } }
                    charset = .some(ct.flatMap { HeaderSyntax.parameters($0).params["charset"] })
                }
                return trimText(MailEncoding.decode(bytes: v, charset: charset!), newlines: true)
            }
            return (fields.map { ($0.name, bytes($0, value)) }, bodyStart)
        }
    }

    /// `t.split(separator: "/").count`, on bytes for ASCII.
    static func typeSlashPieces(_ t: String) -> Int {
        guard isASCII(t) else { return t.split(separator: "/").count }
        var n = 0, inPiece = false
        for b in t.utf8 { if b == 0x2F { inPiece = false } else if !inPiece { inPiece = true; n += 1 } }
        return n
    }

    /// End of the field name before the colon at `colon` (trailing WSP dropped), nil unless it is
    /// non-empty printable ASCII.
    static func fieldNameEnd(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ colon: Int) -> Int? {
        var e = colon
        while e > i, p[e - 1] == 0x20 || p[e - 1] == 0x09 { e -= 1 }
        guard e > i else { return nil }
        for k in i..<e where p[k] <= 0x20 || p[k] >= 0x7F { return nil }
        return e
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

/// `s` with every tab turned into a space (a tab is always a Character of its own).
func tabsToSpaces(_ s: String) -> String {
    guard s.utf8.contains(0x09) else { return s }
    return String(decoding: s.utf8.map { $0 == 0x09 ? 0x20 : $0 }, as: UTF8.self)
}

/// `Return-Path: <>` (whitespace inside ignored).
func isNullPath(_ v: String) -> Bool {
    guard isASCII(v) else { return v.filter { !$0.isWhitespace } == "<>" }
    var it = v.utf8.lazy.filter { !($0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D)) }.makeIterator()
    return it.next() == 0x3C && it.next() == 0x3E && it.next() == nil
}

/// Header field names compared ASCII case-insensitively, without allocating.
func sameFieldName(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    let fast = a.utf8.withContiguousStorageIfAvailable { pa in
        b.utf8.withContiguousStorageIfAvailable { pb in
            for i in 0..<pa.count where pa[i] != pb[i] && asciiLower(pa[i]) != asciiLower(pb[i]) { return false }
            return true
        }
    }
    if let fast, let fast { return fast }
    for (x, y) in zip(a.utf8, b.utf8) where x != y {
        let lx = x >= 0x41 && x <= 0x5A ? x | 0x20 : x, ly = y >= 0x41 && y <= 0x5A ? y | 0x20 : y
        if lx != ly { return false }
    }
    return true
}
