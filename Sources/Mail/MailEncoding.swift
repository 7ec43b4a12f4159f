import Foundation

/// Codecs for mail: transfer encodings, charsets and RFC 2047 header words.
/// Every function is total: malformed input degrades (kept literally or replaced by U+FFFD), it never traps.
public enum MailEncoding {
    /// Quoted-printable (RFC 2045 §6.7): `=XX` → byte, soft line breaks removed, trailing
    /// whitespace of each line dropped; malformed `=` sequences are kept literally.
    public static func quotedPrintableDecode(_ input: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        Array(input).withUnsafeBufferPointer { qpDecode($0, 0, $0.count, into: &out) }
        return out
    }

    /// Base64, tolerant: whitespace, line breaks and junk characters are skipped, `=` ends a quantum,
    /// URL-safe `-`/`_` are accepted, an incomplete final quantum is dropped.
    public static func base64Decode(_ input: some Collection<UInt8>) -> [UInt8] {
        // One run with room for the whole output decodes like the chunked runs of transferDecode.
        func run(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8] {
            [UInt8](unsafeUninitializedCapacity: p.count / 4 * 3 + 4) { o, n in
                var d = Base64Decoder()
                n = d.run(p, 0, p.count, o).1
            }
        }
        return input.withContiguousStorageIfAvailable(run) ?? Array(input).withUnsafeBufferPointer(run)
    }

    /// Decodes RFC 2047 encoded words (`=?charset?B|Q?text?=`) anywhere in `s`. Whitespace between
    /// adjacent encoded words is dropped; adjacent words in the same charset are joined as bytes
    /// first, so a multi-byte character split across two words survives. Malformed words stay literal.
    public static func decodeEncodedWords(_ s: String) -> String {
        guard containsText(s, "=?") else { return s }
        var s = s
        return s.withUTF8(decodeEncodedWords)
    }

    static func decodeEncodedWords(_ u: UnsafeBufferPointer<UInt8>) -> String {
        var result = "", pending: [UInt8] = [], pendingCharset: String? = nil
        var i = 0, literalStart = 0, lastWasWord = false
        func flush() {
            if let cs = pendingCharset { result += decode(bytes: pending, charset: cs) }
            pending.removeAll(); pendingCharset = nil
        }
        while i + 1 < u.count {
            guard u[i] == 0x3D, u[i + 1] == 0x3F, let (cs, bytes, end) = parseEncodedWord(u, i) else { i += 1; continue }
            let between = u[literalStart..<i]
            if !(lastWasWord && between.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A })) {
                flush(); result += String(decoding: UnsafeBufferPointer(rebasing: between), as: UTF8.self)
            }
            if pendingCharset != cs { flush() }
            pendingCharset = cs; pending += bytes
            i = end; literalStart = end; lastWasWord = true
        }
        flush()
        result += String(decoding: UnsafeBufferPointer(rebasing: u[literalStart...]), as: UTF8.self)
        return result
    }

    /// Encodes a header text for sending: pure printable ASCII is returned unchanged, anything else
    /// becomes RFC 2047 `=?UTF-8?B?…?=` words of at most 75 characters, separated by single spaces
    /// (the header writer may fold at those spaces). Characters are never split across words.
    public static func encodeHeaderWord(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) && !s.contains("=?") { return s }
        var words: [String] = [], chunk: [UInt8] = []
        func emit() { if !chunk.isEmpty { words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=") }; chunk = [] }
        for ch in s {
            let b = Array(String(ch).utf8)
            if chunk.count + b.count > 45 { emit() }  // 45 bytes → 60 base64 chars + 12 = 72 ≤ 75
            chunk += b
        }
        emit()
        return words.joined(separator: " ")
    }

    /// Decodes text in `charset` (case-insensitive, common aliases accepted). UTF-8, US-ASCII,
    /// ISO-8859-1, KOI8-R/U, windows-1251 and ISO-8859-5 are decoded by built-in tables; other
    /// ISO-8859-x, windows-125x and a few CJK charsets via Foundation; anything unknown or
    /// undecodable as UTF-8 with U+FFFD replacement.
    public static func decode(bytes: some Collection<UInt8>, charset: String?) -> String {
        let cs = normalizeCharset(charset)
        func map(_ f: (UInt8) -> UInt32) -> String {  // the scalars as UTF-8, one String made at the end
            let utf8 = [UInt8](unsafeUninitializedCapacity: bytes.count * 4) { o, n in
                var k = 0
                for b in bytes {
                    if b < 0x80 { o[k] = b; k += 1; continue }
                    let v = (Unicode.Scalar(f(b)) ?? "\u{FFFD}").value
                    if v < 0x800 {
                        o[k] = UInt8(0xC0 | v >> 6); o[k + 1] = UInt8(0x80 | v & 0x3F); k += 2
                    } else if v < 0x10000 {
                        o[k] = UInt8(0xE0 | v >> 12); o[k + 1] = UInt8(0x80 | v >> 6 & 0x3F); o[k + 2] = UInt8(0x80 | v & 0x3F); k += 3
                    } else {
                        o[k] = UInt8(0xF0 | v >> 18); o[k + 1] = UInt8(0x80 | v >> 12 & 0x3F)
                        o[k + 2] = UInt8(0x80 | v >> 6 & 0x3F); o[k + 3] = UInt8(0x80 | v & 0x3F); k += 4
                    }
                }
                n = k
            }
            return String(decoding: utf8, as: UTF8.self)
        }
        switch cs {
        case "utf-8", "us-ascii": break
        case "koi8-r": return map { koi8r[Int($0) - 0x80] }
        case "koi8-u": return map { koi8uOverrides[$0] ?? koi8r[Int($0) - 0x80] }
        case "windows-1251": return map { $0 >= 0xC0 ? UInt32($0) + 0x350 : cp1251High[Int($0) - 0x80] }
        case "iso-8859-5":
            return map { b in b < 0xA1 || b == 0xAD ? UInt32(b) : b == 0xF0 ? 0x2116 : b == 0xFD ? 0xA7 : UInt32(b) + 0x360 }
        case "iso-8859-1":
            if let s = String(data: Data(bytes), encoding: .windowsCP1252) { return s }  // WHATWG: latin1 label means cp1252
            return map { UInt32($0) }
        default:
            if let enc = foundationEncodings[cs], let s = String(data: Data(bytes), encoding: enc) { return s }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func normalizeCharset(_ name: String?) -> String {
        guard var name else { return "us-ascii" }
        // ASCII names (all real ones) on bytes: trim, cut at "*", lowercase, "_" → "-"; same as below.
        let ascii: String? = name.withUTF8 { p in
            guard allASCII(p) else { return nil }
            func junk(_ b: UInt8) -> Bool { b == 0x22 || b == 0x27 || b == 0x20 || b == 0x09 }
            var lo = 0, hi = p.count
            while lo < hi, junk(p[lo]) { lo += 1 }
            while hi > lo, junk(p[hi - 1]) { hi -= 1 }
            var end = lo
            while end < hi, p[end] != 0x2A { end += 1 }
            if end - lo == 5, asciiLower(p[lo]) == 0x75, asciiLower(p[lo + 1]) == 0x74, asciiLower(p[lo + 2]) == 0x66,
               p[lo + 3] == 0x2D || p[lo + 3] == 0x5F, p[lo + 4] == 0x38 { return "utf-8" }  // the usual one, final
            return String(unsafeUninitializedCapacity: end - lo) { o in
                for k in 0..<(end - lo) { let b = asciiLower(p[lo + k]); o[k] = b == 0x5F ? 0x2D : b }
                return end - lo
            }
        }
        var n: String
        if let ascii {
            if ascii == "utf-8" { return ascii }
            n = ascii
        } else {
            n = name.trimmingCharacters(in: CharacterSet(charactersIn: "\"' \t")).lowercased()
            if let star = n.firstIndex(of: "*") { n = String(n[..<star]) }  // RFC 2231 language suffix
            n = n.replacingOccurrences(of: "_", with: "-")
        }
        switch n {
        case "utf8", "unicode-1-1-utf-8", "": return "utf-8"
        case "ascii", "ansi-x3.4-1968", "us", "iso646-us": return "us-ascii"
        case "latin1", "l1", "iso8859-1", "iso-8859-1", "cp819", "windows-1252", "cp1252": return "iso-8859-1"
        case "koi8r", "koi8", "cskoi8r": return "koi8-r"
        case "koi8u": return "koi8-u"
        case "cp866", "ibm866": return "ibm866"
        default: break
        }
        if n.hasPrefix("iso8859-") { return "iso-8859-" + n.dropFirst(8) }
        if n.hasPrefix("cp125") || n.hasPrefix("x-cp125") { return "windows-125" + n.suffix(1) }
        if n.hasPrefix("win-125") || n.hasPrefix("windows125") { return "windows-125" + n.suffix(1) }
        return n
    }

    static let foundationEncodings: [String: String.Encoding] = {
        var m: [String: String.Encoding] = [
            "iso-8859-2": .isoLatin2, "windows-1250": .windowsCP1250, "windows-1253": .windowsCP1253,
            "windows-1254": .windowsCP1254, "shift-jis": .shiftJIS, "euc-jp": .japaneseEUC,
            "iso-2022-jp": .iso2022JP, "utf-16": .utf16, "utf-16be": .utf16BigEndian, "utf-16le": .utf16LittleEndian,
        ]
        func cf(_ v: UInt) -> String.Encoding { String.Encoding(rawValue: 0x8000_0000 | v) }  // CFStringEncoding
        for n in 3...16 { m["iso-8859-\(n)"] = cf(0x200 + UInt(n)) }
        for (n, v) in [("5", 0x505), ("6", 0x506), ("7", 0x507), ("8", 0x508)] { m["windows-125" + n] = cf(UInt(v)) }
        for k in ["gb2312", "gbk", "gb18030", "x-gbk", "cp936"] { m[k] = cf(0x632) }
        for k in ["big5", "big5-hkscs"] { m[k] = cf(0xA03) }
        for k in ["euc-kr", "ks-c-5601-1987", "cp949"] { m[k] = cf(0x940) }
        m["ibm866"] = cf(0x413)
        return m
    }()

    static let koi8r: [UInt32] = "─│┌┐└┘├┤┬┴┼▀▄█▌▐░▒▓⌠■∙√≈≤≥\u{A0}⌡°²·÷═║╒ё╓╔╕╖╗╘╙╚╛╜╝╞╟╠╡Ё╢╣╤╥╦╧╨╩╪╫╬©юабцдефгхийклмнопярстужвьызшэщчъЮАБЦДЕФГХИЙКЛМНОПЯРСТУЖВЬЫЗШЭЩЧЪ"
        .unicodeScalars.map(\.value)
    static let koi8uOverrides: [UInt8: UInt32] = [0xA4: 0x454, 0xA6: 0x456, 0xA7: 0x457, 0xAD: 0x491,
                                                  0xB4: 0x404, 0xB6: 0x406, 0xB7: 0x407, 0xBD: 0x490]
    static let cp1251High: [UInt32] = "ЂЃ‚ѓ„…†‡€‰Љ‹ЊЌЋЏђ‘’“”•–—\u{FFFD}™љ›њќћџ\u{A0}ЎўЈ¤Ґ¦§Ё©Є«¬\u{AD}®Ї°±Ііґµ¶·ё№є»јЅѕї"
        .unicodeScalars.map(\.value)

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x37
        case 0x61...0x66: return c - 0x57
        default: return nil
        }
    }

    /// Parses one encoded word starting at `i` (`=?`); returns charset, decoded bytes and the end index.
    static func parseEncodedWord(_ u: UnsafeBufferPointer<UInt8>, _ i: Int) -> (String, [UInt8], Int)? {
        var j = i + 2
        while j < u.count, u[j] != 0x3F, u[j] > 0x20, j - i < 80 { j += 1 }
        guard j + 2 < u.count, u[j] == 0x3F, j > i + 2, u[j + 2] == 0x3F else { return nil }
        let charset = normalizeCharset(String(decoding: UnsafeBufferPointer(rebasing: u[(i + 2)..<j]), as: UTF8.self))
        let enc = u[j + 1] | 0x20, textStart = j + 3
        guard enc == 0x62 || enc == 0x71 else { return nil }
        var k = textStart
        while k + 1 < u.count, k - textStart < 4096, !(u[k] == 0x3F && u[k + 1] == 0x3D) { k += 1 }
        guard k + 1 < u.count, u[k] == 0x3F, u[k + 1] == 0x3D else { return nil }
        if enc == 0x62 { return (charset, base64Decode(UnsafeBufferPointer(rebasing: u[textStart..<k])), k + 2) }
        var out: [UInt8] = [], t = textStart
        while t < k {
            if u[t] == 0x5F { out.append(0x20); t += 1 }
            else if u[t] == 0x3D, t + 2 < k, let h = hexValue(u[t + 1]), let l = hexValue(u[t + 2]) { out.append(h << 4 | l); t += 3 }
            else { out.append(u[t]); t += 1 }
        }
        return (charset, out, k + 2)
    }
}

// MARK: - Transfer decoding (shared by body text and lazily decoded attachments)

enum TransferEncoding: Sendable {
    case identity, base64, quotedPrintable
    init(header: String?) {
        switch trimText(header ?? "", newlines: false).lowercased() {
        case "base64": self = .base64
        case "quoted-printable": self = .quotedPrintable
        default: self = .identity
        }
    }
}

/// Decodes `storage[range]` and hands the output to `sink` in pieces of at most `chunk` bytes.
/// Returns false if base64 input contained junk or a dangling character (the rest is still decoded).
@discardableResult
func transferDecode(_ storage: [UInt8], _ range: Range<Int>, _ enc: TransferEncoding, chunk: Int,
                    _ sink: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Bool {
    let chunk = max(chunk, 64)
    return try storage.withUnsafeBufferPointer { p in
        let lo = min(max(range.lowerBound, 0), p.count), hi = min(max(range.upperBound, lo), p.count)
        switch enc {
        case .identity:
            var i = lo
            while i < hi {
                let e = min(i + chunk, hi)
                try sink(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: p[i..<e])))
                i = e
            }
            return true
        case .base64:  // no bigger than the whole output (which then comes in one piece, as with `chunk`)
            let out = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: min(chunk, (hi - lo) / 4 * 3 + 4))
            defer { out.deallocate() }
            var d = Base64Decoder(), i = lo
            while i < hi {
                let (next, n) = d.run(p, i, hi, out)
                if n > 0 { try sink(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: out[..<n]))) }
                i = next
            }
            return d.junk == 0 && d.bits != 6
        case .quotedPrintable:
            var i = lo, buf: [UInt8] = []
            buf.reserveCapacity(min(chunk, hi - lo))
            // A cut at `c` decodes like the whole body if the piece does not end inside "=XX", after a
            // "=" (a soft break may follow), after whitespace (kept or dropped depending on what follows)
            // or after a CR (it may pair with the next LF).
            func safeCut(_ c: Int) -> Bool {
                let last = p[c - 1]
                return last != 0x3D && last != 0x20 && last != 0x09 && last != 0x0D && !(c - 2 >= i && p[c - 2] == 0x3D)
            }
            while i < hi {
                var e = min(i + chunk, hi)
                if e < hi {  // cut after a line break, else at a safe place before or (in a long run of
                    var k = e - 1  // whitespace and "=") after the chunk end
                    while k > i, p[k] != 0x0A { k -= 1 }
                    if p[k] == 0x0A { e = k + 1 } else {
                        var c = e
                        while c > i, !safeCut(c) { c -= 1 }
                        if c > i { e = c } else {
                            c = e
                            while c < hi, p[c - 1] != 0x0A, !safeCut(c) { c += 1 }
                            e = c
                        }
                    }
                }
                buf.removeAll(keepingCapacity: true)
                qpDecode(p, i, e, into: &buf)
                var o = 0
                while o < buf.count {  // the piece may be longer than `chunk` only after the forward search
                    let oe = min(o + chunk, buf.count)
                    try buf.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[o..<oe])) }
                    o = oe
                }
                i = e
            }
            return true
        }
    }
}

func qpDecode(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, into out: inout [UInt8]) {
    guard lo < hi else { return }
    // The output is never longer than the input: decode into a buffer of the input's size.
    let decoded = [UInt8](unsafeUninitializedCapacity: hi - lo) { o, n in n = qpDecode(p, lo, hi, o) }
    if out.isEmpty { out = decoded } else { out.append(contentsOf: decoded) }
}

/// Hex digit values, 0xFF for anything else.
private let hexDigits: [UInt8] = (0..<256).map { MailEncoding.hexValue(UInt8($0)) ?? 0xFF }

/// Decodes p[lo..<hi] into `o` (at least hi - lo bytes); returns the number of bytes written.
func qpDecode(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, _ o: UnsafeMutableBufferPointer<UInt8>) -> Int {
    hexDigits.withUnsafeBufferPointer { qpDecode(p, lo, hi, o, hex: $0) }
}

private func qpDecode(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, _ o: UnsafeMutableBufferPointer<UInt8>,
                      hex: UnsafeBufferPointer<UInt8>) -> Int {
    var i = lo, n = 0
    @inline(__always) func isWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
    while i < hi {
        let c = p[i]
        if c == 0x3D {
            if i + 2 < hi {  // "=XX" (a hex digit is no whitespace or line end, so no soft break)
                let h = hex[Int(p[i + 1])], l = hex[Int(p[i + 2])]
                if h | l < 0x10 { o[n] = h << 4 | l; n += 1; i += 3; continue }
            }
            var j = i + 1
            while j < hi, isWS(p[j]) { j += 1 }
            if j == hi { i = j; continue }                      // "=" at end: soft break
            if p[j] == 0x0A { i = j + 1; continue }             // "=\n"
            if p[j] == 0x0D { i = j + 1 < hi && p[j + 1] == 0x0A ? j + 2 : j + 1; continue }
            if i + 2 < hi, let h = MailEncoding.hexValue(p[i + 1]), let l = MailEncoding.hexValue(p[i + 2]) {
                o[n] = h << 4 | l; n += 1; i += 3; continue
            }
            o[n] = c; n += 1; i += 1                             // malformed: keep literally
        } else if isWS(c) {
            var j = i
            while j < hi, isWS(p[j]) { j += 1 }
            if j < hi, p[j] != 0x0A, p[j] != 0x0D {
                while i < j { o[n] = p[i]; n += 1; i += 1 }
            }
            i = j                                                // trailing whitespace dropped
        } else {
            o[n] = c; n += 1; i += 1
            while i < hi, case let c = p[i], c != 0x3D, c != 0x20, c != 0x09 { o[n] = c; n += 1; i += 1 }
        }
    }
    return n
}

private let base64Table: [UInt8] = {
    var t = [UInt8](repeating: 0xFF, count: 256)  // 0xFF junk, 0xFE whitespace, 0xFD pad
    for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { t[Int(c)] = UInt8(i) }
    t[Int(UInt8(ascii: "-"))] = 62; t[Int(UInt8(ascii: "_"))] = 63
    for c in [0x20, 0x09, 0x0D, 0x0A, 0x0B, 0x0C] { t[c] = 0xFE }
    t[0x3D] = 0xFD
    return t
}()

struct Base64Decoder {
    var acc: UInt32 = 0, bits = 0, junk = 0
    /// Decodes from p[start..<end] into `o` until input ends or `o` is full; returns (next input index, bytes written).
    mutating func run(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ o: UnsafeMutableBufferPointer<UInt8>) -> (Int, Int) {
        var i = start, n = 0, acc = acc, bits = bits, junk = junk
        let cap = o.count
        base64Table.withUnsafeBufferPointer { t in
            while i < end && n < cap {
                let v = t[Int(p[i])]
                i += 1
                if v < 64 {
                    acc = acc << 6 | UInt32(v); bits += 6
                    if bits >= 8 { bits -= 8; o[n] = UInt8(truncatingIfNeeded: acc >> UInt32(bits)); n += 1 }
                } else if v == 0xFD { bits = 0 } else if v == 0xFF { junk += 1 }
            }
        }
        self.acc = acc; self.bits = bits; self.junk = junk
        return (i, n)
    }
}
