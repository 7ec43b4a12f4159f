import Foundation

/// RFC 5322 / 2045 / 2231 structured header field parsers. All lenient and total.
enum HeaderSyntax {
    // MARK: Parameters (Content-Type, Content-Disposition)

    /// Splits `type/subtype; a=b; c*=utf-8''%..` into the main value and lowercased-name parameters,
    /// joining RFC 2231 continuations and decoding RFC 2231 / RFC 2047 values.
    static func parameters(_ s: String) -> (value: String, params: [String: String]) {
        var segments: [Substring] = []
        let ascii = isASCII(s)
        if ascii {
            // Every Character one byte (CR LF aside, which is no quote, backslash or ";"): the
            // segments are the byte ranges between the unquoted ";".
            let u = s.utf8
            var inQuote = false, escaped = false, start = u.startIndex, i = u.startIndex
            while i != u.endIndex {
                let c = u[i]
                if escaped { escaped = false } else if c == 0x5C && inQuote { escaped = true } else {
                    if c == 0x22 { inQuote.toggle() }
                    if c == 0x3B && !inQuote { segments.append(s[start..<i]); start = u.index(after: i) }
                }
                i = u.index(after: i)
            }
            segments.append(s[start...])
        } else {
            var cur = "", inQuote = false, escaped = false
            for c in s {
                if escaped { cur.append(c); escaped = false; continue }
                if c == "\\" && inQuote { escaped = true; cur.append(c); continue }
                if c == "\"" { inQuote.toggle() }
                if c == ";" && !inQuote { segments.append(Substring(cur)); cur = "" } else { cur.append(c) }
            }
            segments.append(Substring(cur))
        }
        let value = trimText(segments[0], newlines: false)
        var simple: [String: String] = [:], sections: [String: [(Int, Bool, String)]] = [:]
        for seg in segments.dropFirst() {
            guard let eq = ascii ? seg.utf8.firstIndex(of: 0x3D) : seg.firstIndex(of: "=") else { continue }
            let name = trimText(seg[..<eq], newlines: false).lowercased()
            var v = trimText(seg[seg.index(after: eq)...], newlines: false)
            if v.hasPrefix("\"") { v = unquote(v) }
            guard !name.isEmpty else { continue }
            if let star = ascii ? name.utf8.firstIndex(of: 0x2A) : name.firstIndex(of: "*") {
                let base = String(name[..<star]), rest = name[name.index(after: star)...]
                let extended = rest.isEmpty || rest.hasSuffix("*")
                guard let n = rest.isEmpty ? 0 : Int(extended ? rest.dropLast() : rest), n >= 0, n < 1000 else { continue }
                sections[base, default: []].append((n, extended, v))
            } else if simple[name] == nil {
                simple[name] = MailEncoding.decodeEncodedWords(v)
            }
        }
        for (base, parts) in sections {
            var bytes: [UInt8] = [], charset: String? = nil
            for (idx, (_, extended, v)) in parts.sorted(by: { $0.0 < $1.0 }).enumerated() {
                guard extended else { bytes += v.utf8; continue }
                var text = Substring(v)
                if idx == 0 {
                    let pieces = v.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                    if pieces.count == 3 { charset = String(pieces[0]); text = pieces[2] }
                }
                bytes += percentDecode(text)
            }
            simple[base] = MailEncoding.decode(bytes: bytes, charset: charset ?? "utf-8")
        }
        return (value, simple)
    }

    static func unquote(_ v: String) -> String {
        if isASCII(v) {  // on bytes (an escaped CR LF is kept as both bytes either way)
            var out: [UInt8] = [], escaped = false
            for c in v.utf8.dropFirst() {
                if escaped { out.append(c); escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { break } else { out.append(c) }
            }
            return String(decoding: out, as: UTF8.self)
        }
        var out = "", escaped = false
        for c in v.dropFirst() {
            if escaped { out.append(c); escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { break } else { out.append(c) }
        }
        return out
    }

    static func percentDecode(_ s: Substring) -> [UInt8] {
        let u = Array(s.utf8)
        var out: [UInt8] = [], i = 0
        while i < u.count {
            if u[i] == 0x25, i + 2 < u.count, let h = MailEncoding.hexValue(u[i + 1]), let l = MailEncoding.hexValue(u[i + 2]) {
                out.append(h << 4 | l); i += 3
            } else { out.append(u[i]); i += 1 }
        }
        return out
    }

    // MARK: Addresses

    private enum Token { case word(String, quoted: Bool), special(Character), comment(String) }

    /// ASCII text on bytes: every Character is one byte there, except CR LF, which both ways is
    /// whitespace, or (quoted, escaped, in a comment) kept as its two bytes.
    private static func tokenize(_ s: String) -> [Token] {
        guard isASCII(s) else { return tokenizeCharacters(s) }
        var s = s
        return s.withUTF8 { p in
            let n = p.count
            @inline(__always) func ws(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
            @inline(__always) func special(_ b: UInt8) -> Bool {
                b == 0x2C || b == 0x3A || b == 0x3B || b == 0x3C || b == 0x3E || b == 0x40  // , : ; < > @
            }
            var toks: [Token] = [], i = 0
            toks.reserveCapacity(8)
            while i < n {
                let c = p[i]
                if ws(c) { i += 1 } else if c == 0x22 {
                    i += 1
                    let start = i
                    var w: [UInt8]? = nil  // only once a backslash is seen; else the word is p[start..<i]
                    while i < n && p[i] != 0x22 {
                        if p[i] == 0x5C && i + 1 < n {
                            if w == nil { w = Array(p[start..<i]) }
                            i += 1
                        }
                        w?.append(p[i]); i += 1
                    }
                    toks.append(.word(w.map { String(decoding: $0, as: UTF8.self) } ?? string(p, start, i), quoted: true))
                    i += 1
                } else if c == 0x28 {
                    var w: [UInt8] = [], depth = 0
                    while i < n {
                        if p[i] == 0x5C && i + 1 < n { i += 1; w.append(p[i]); i += 1; continue }
                        if p[i] == 0x28 { depth += 1; if depth > 1 { w.append(0x28) } } else if p[i] == 0x29 {
                            depth -= 1
                            if depth == 0 { i += 1; break }
                            w.append(0x29)
                        } else { w.append(p[i]) }
                        i += 1
                    }
                    toks.append(.comment(String(decoding: w, as: UTF8.self)))
                } else if special(c) { toks.append(.special(Character(Unicode.Scalar(c)))); i += 1 } else {
                    let start = i
                    while i < n, !ws(p[i]), p[i] != 0x22, p[i] != 0x28, !special(p[i]) { i += 1 }
                    if i == start { i += 1 } else { toks.append(.word(string(p, start, i), quoted: false)) }
                }
            }
            return toks
        }
    }

    private static func tokenizeCharacters(_ s: String) -> [Token] {
        let cs = Array(s)
        var toks: [Token] = [], i = 0
        while i < cs.count {
            let c = cs[i]
            if c.isWhitespace { i += 1 } else if c == "\"" {
                var w = ""; i += 1
                while i < cs.count && cs[i] != "\"" {
                    if cs[i] == "\\" && i + 1 < cs.count { i += 1 }
                    w.append(cs[i]); i += 1
                }
                i += 1
                toks.append(.word(w, quoted: true))
            } else if c == "(" {
                var w = "", depth = 0
                while i < cs.count {
                    if cs[i] == "\\" && i + 1 < cs.count { i += 1; w.append(cs[i]); i += 1; continue }
                    if cs[i] == "(" { depth += 1; if depth > 1 { w.append("(") } } else if cs[i] == ")" {
                        depth -= 1
                        if depth == 0 { i += 1; break }
                        w.append(")")
                    } else { w.append(cs[i]) }
                    i += 1
                }
                toks.append(.comment(w))
            } else if ",:;<>@".contains(c) { toks.append(.special(c)); i += 1 } else {
                var w = ""
                while i < cs.count, !cs[i].isWhitespace, !"\"(,:;<>@".contains(cs[i]) { w.append(cs[i]); i += 1 }
                if w.isEmpty { i += 1 } else { toks.append(.word(w, quoted: false)) }
            }
        }
        return toks
    }

    /// RFC 5322 address-list: mailboxes, `Name <addr>`, `addr (Comment)`, groups, encoded-word names.
    static func addresses(_ value: String) -> [MailAddress] {
        var result: [MailAddress] = []
        var phrase: [String] = [], atIndex: Int? = nil, comment: String? = nil
        var angle: String? = nil, angleBuf = "", inAngle = false
        func clean(_ s: String?) -> String? {
            guard let s else { return nil }
            let joined = containsText(s, " @ ") ? s.split(separator: " @ ", omittingEmptySubsequences: false).joined(separator: "@") : s
            let t = trimText(containsText(s, "=?") ? MailEncoding.decodeEncodedWords(joined) : joined, newlines: false)
            return t.isEmpty ? nil : t
        }
        func finish() {
            var addr: String? = nil, name: String? = nil
            if var a = angle {
                if let colon = lastIndex(of: 0x3A, in: a) { a = String(a[a.index(after: colon)...]) }  // obsolete route
                addr = a; name = clean(phrase.count == 1 ? phrase[0] : phrase.joined(separator: " ")) ?? clean(comment)
            } else if let at = atIndex, at > 0, at + 1 < phrase.count {
                addr = phrase[at - 1] + "@" + phrase[at + 1]
                name = clean(phrase[..<(at - 1)].joined(separator: " ")) ?? clean(comment)
            }
            if let a = addr.map({ trimText($0, newlines: false) }), !a.isEmpty {
                var normalized = a
                if isASCII(a) {  // the domain lowercased on bytes
                    let u = Array(a.utf8)
                    if let at = u.lastIndex(of: 0x40) { normalized = String(decoding: u[..<at] + u[at...].map(asciiLower), as: UTF8.self) }
                } else if let at = lastIndex(of: 0x40, in: a) { normalized = a[..<at] + "@" + a[a.index(after: at)...].lowercased() }
                if let n = name, sameIgnoringCase(n, normalized) { name = nil }
                result.append(MailAddress(name: name, address: normalized))
            }
            phrase = []; atIndex = nil; comment = nil; angle = nil; inAngle = false
        }
        for t in tokenize(value) {
            switch t {
            case .special("<"): inAngle = true; angleBuf = ""
            case .special(">"): if inAngle { inAngle = false; angle = angleBuf }
            case .special(let c) where inAngle: angleBuf.append(c)
            case .special(","), .special(";"): finish()
            case .special(":"): phrase = []; atIndex = nil; comment = nil  // group display name
            case .special: atIndex = phrase.count; phrase.append("@")
            case .word(let w, let q): if inAngle { angleBuf += q ? "\"" + w + "\"" : w } else { phrase.append(w) }
            case .comment(let c): if !inAngle && comment == nil { comment = c }
            }
        }
        if inAngle { angle = angleBuf }
        finish()
        return result
    }

    // MARK: Message-IDs

    /// `<a@b> <c@d>` → ["a@b", "c@d"]; without angle brackets, whitespace-separated tokens containing "@".
    static func messageIds(_ s: String) -> [String] {
        guard isASCII(s) else { return messageIdsCharacters(s) }
        var s = s
        return s.withUTF8 { p in  // ASCII: as below on bytes (CR LF is whitespace either way)
            @inline(__always) func ws(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
            // The id being read is p[start..<i], or `spaced` (its bytes without whitespace) once it had some.
            var ids: [String] = [], start = -1, spaced: [UInt8]? = nil, depth = 0
            for i in 0..<p.count {
                let c = p[i]
                if start < 0 && c == 0x28 { depth += 1 } else if start < 0 && c == 0x29 { depth = max(0, depth - 1) } else if depth > 0 { continue } else if c == 0x3C {
                    start = i + 1; spaced = nil
                } else if c == 0x3E {
                    if start >= 0 {
                        if let spaced { if !spaced.isEmpty { ids.append(String(decoding: spaced, as: UTF8.self)) } } else if i > start { ids.append(string(p, start, i)) }
                    }
                    start = -1
                } else if start >= 0 {
                    if !ws(c) { spaced?.append(c) } else if spaced == nil { spaced = Array(p[start..<i]) }
                }
            }
            if ids.isEmpty {
                var i = 0
                while i < p.count {
                    while i < p.count, ws(p[i]) || p[i] == 0x2C { i += 1 }
                    var a = i
                    while i < p.count, !(ws(p[i]) || p[i] == 0x2C) { i += 1 }
                    var z = i
                    while a < z, p[a] == 0x3C || p[a] == 0x3E { a += 1 }
                    while z > a, p[z - 1] == 0x3C || p[z - 1] == 0x3E { z -= 1 }
                    if p[a..<z].contains(0x40) { ids.append(string(p, a, z)) }
                }
            }
            return ids
        }
    }

    private static func messageIdsCharacters(_ s: String) -> [String] {
        var ids: [String] = [], cur: String? = nil, depth = 0
        for c in s {
            if cur == nil && c == "(" { depth += 1 } else if cur == nil && c == ")" { depth = max(0, depth - 1) } else if depth > 0 { continue } else if c == "<" { cur = "" } else if c == ">" {
                if let x = cur, !x.isEmpty { ids.append(x) }
                cur = nil
            } else if !c.isWhitespace { cur?.append(c) }
        }
        if ids.isEmpty {
            ids = s.split(whereSeparator: { $0.isWhitespace || $0 == "," })
                .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "<>")) }.filter { $0.contains("@") }
        }
        return ids
    }

    // MARK: Dates

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    /// `zones` as (UTF-8 of the name, hours).
    private static let zoneList: [([UInt8], Int)] = zones.map { (Array($0.key.utf8), $0.value) }
    private static let zones: [String: Int] = ["UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
                                               "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "MSK": 3, "CET": 1, "CEST": 2]

    /// RFC 5322 date-time with common deviations (no weekday, 2-digit years, missing seconds,
    /// named zones, asctime order, `dd.mm.yyyy`); ISO 8601 as a fallback. Nil if nothing fits.
    static func date(_ s: String) -> Date? {
        var s = s
        // ASCII without CR LF: a Character is a byte, so the same steps run on bytes.
        let fast = s.withUTF8 { p -> Date?? in
            guard allASCII(p), !p.indices.dropLast().contains(where: { p[$0] == 0x0D && p[$0 + 1] == 0x0A }) else { return nil }
            return .some(date(bytes: UnsafeBufferPointer(rebasing: p.prefix(200))))
        }
        if let fast { return fast }
        return dateCharacters(s)
    }

    private static func date(bytes p: UnsafeBufferPointer<UInt8>) -> Date? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(p.count, 1)) { buf in
            var n = 0, depth = 0
            for c in p {
                if c == 0x28 { depth += 1 } else if c == 0x29 { depth = max(0, depth - 1) } else if depth == 0 { buf[n] = c; n += 1 }
            }
            return date(text: UnsafeBufferPointer(rebasing: buf[..<n]))
        }
    }

    /// `Int(String(t[a..<z]))` for ASCII bytes: an optional sign, then one or more digits, no overflow.
    private static func int(_ t: UnsafeBufferPointer<UInt8>, _ a: Int, _ z: Int) -> Int? {
        var i = a, negative = false
        if i < z && (t[i] == 0x2B || t[i] == 0x2D) { negative = t[i] == 0x2D; i += 1 }
        guard i < z else { return nil }
        var v = 0
        while i < z {
            let d = t[i] &- 0x30
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (r, o2) = negative ? m.subtractingReportingOverflow(Int(d)) : m.addingReportingOverflow(Int(d))
            guard !o1 && !o2 else { return nil }
            v = r; i += 1
        }
        return v
    }

    /// The steps of `dateCharacters` after comments are removed, on ASCII bytes without CR LF.
    private static func date(text t: UnsafeBufferPointer<UInt8>) -> Date? {
        var day: Int?, month: Int?, year: Int?, hms: [Int]?, offset: Int?
        var i = 0
        let n = t.count
        func separator(_ b: UInt8) -> Bool { b == 0x20 || b == 0x2C || b == 0x09 }
        while i < n {
            while i < n, separator(t[i]) { i += 1 }
            let a = i
            while i < n, !separator(t[i]) { i += 1 }
            let z = i, count = z - a
            guard count > 0 else { break }
            var digitsOnly = true, hasColon = false
            for k in a..<z { let b = t[k]; if b < 0x30 || b > 0x39 { digitsOnly = false }; if b == 0x3A { hasColon = true } }
            if hasColon {
                var parts = (0, 0, 0), count = 0, ok = true, s = a
                for k in a...z where k == z || t[k] == 0x3A {
                    if let v = int(t, s, k) {
                        if count == 0 { parts.0 = v } else if count == 1 { parts.1 = v } else { parts.2 = v }
                    } else { ok = false }
                    count += 1; s = k + 1
                }
                guard hms == nil, ok, (2...3).contains(count) else { continue }
                hms = count == 2 ? [parts.0, parts.1] : [parts.0, parts.1, parts.2]
            } else if (t[a] == 0x2B || t[a] == 0x2D) && count == 5, let v = int(t, a + 1, z), v % 100 < 60, v / 100 < 24 {
                offset = (t[a] == 0x2D ? -1 : 1) * (v / 100 * 3600 + v % 100 * 60)
            } else if count <= 4, let zone = zoneList.first(where: { $0.0.count == count && zip($0.0, t[a..<z]).allSatisfy { $0 == ($1 >= 0x61 && $1 <= 0x7A ? $1 - 0x20 : $1) } }) {
                offset = zone.1 * 3600  // zones[tok.uppercased()]
            } else if !digitsOnly, count >= 3, month == nil,
                      let m = months.firstIndex(where: { $0.utf8.elementsEqual(t[a..<(a + 3)].lazy.map(asciiLower)) }) {
                month = m + 1
            } else if digitsOnly, count <= 4, let v = int(t, a, z) {
                if count >= 3 { year = count == 3 ? v + 1900 : v } else if day == nil { day = v } else if year == nil { year = v < 50 ? 2000 + v : 1900 + v }
            } else {
                var dmy: [Int] = [], pieces = 0, s = a
                for k in a...z where k == z || t[k] == 0x2E {
                    if k > s { pieces += 1; if let v = int(t, s, k) { dmy.append(v) } }
                    s = k + 1
                }
                if dmy.count == 3 && pieces == 3 { day = dmy[0]; month = dmy[1]; year = dmy[2] < 100 ? 2000 + dmy[2] : dmy[2] }
            }
        }
        return date(day: day, month: month, year: year, hms: hms, offset: offset) ?? isoDate(String(decoding: t, as: UTF8.self))
    }

    private static func dateCharacters(_ s: String) -> Date? {
        var text = "", depth = 0
        for c in s.prefix(200) {
            if c == "(" { depth += 1 } else if c == ")" { depth = max(0, depth - 1) } else if depth == 0 { text.append(c) }
        }
        var day: Int?, month: Int?, year: Int?, hms: [Int]?, offset: Int?
        for tok in text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init) {
            let digitsOnly = tok.allSatisfy { $0.isASCII && $0.isNumber }
            if tok.contains(":") {
                let parts = tok.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
                guard hms == nil, (2...3).contains(parts.count), parts.allSatisfy({ $0 != nil }) else { continue }
                hms = parts.map { $0! }
            } else if (tok.hasPrefix("+") || tok.hasPrefix("-")) && tok.count == 5, let v = Int(tok.dropFirst()), v % 100 < 60, v / 100 < 24 {
                offset = (tok.hasPrefix("-") ? -1 : 1) * (v / 100 * 3600 + v % 100 * 60)
            } else if let z = zones[tok.uppercased()] { offset = z * 3600 } else if !digitsOnly, tok.count >= 3, month == nil,
                      let m = months.firstIndex(where: { tok.lowercased().hasPrefix($0) }) { month = m + 1 } else if digitsOnly, tok.count <= 4, let v = Int(tok) {
                if tok.count >= 3 { year = tok.count == 3 ? v + 1900 : v } else if day == nil { day = v } else if year == nil { year = v < 50 ? 2000 + v : 1900 + v }
            } else {
                let dmy = tok.split(separator: ".").compactMap { Int($0) }
                if dmy.count == 3 && tok.split(separator: ".").count == 3 { day = dmy[0]; month = dmy[1]; year = dmy[2] < 100 ? 2000 + dmy[2] : dmy[2] }
            }
        }
        return date(day: day, month: month, year: year, hms: hms, offset: offset) ?? isoDate(text)
    }

    /// The date from its parts; .some(nil) when they are there but out of range, nil when incomplete.
    private static func date(day: Int?, month: Int?, year: Int?, hms: [Int]?, offset: Int?) -> Date?? {
        if let day, let month, let year, (1900...9999).contains(year), (1...12).contains(month) {
            let t = hms ?? [0, 0]
            let (h, mi, sec) = (t[0], t[1], t.count > 2 ? min(t[2], 59) : 0)
            let dim = [31, year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
            guard (1...dim).contains(day), (0...23).contains(h), (0...59).contains(mi), sec >= 0 else { return .some(nil) }
            let seconds = daysFromCivil(year, month, day) * 86400 + h * 3600 + mi * 60 + sec - (offset ?? 0)
            return Date(timeIntervalSince1970: TimeInterval(seconds))
        }
        return nil
    }

    private static func isoDate(_ text: String) -> Date? {
        let trimmed = trimText(text, newlines: false)
        for opts: ISO8601DateFormatter.Options in [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds]] {
            let f = ISO8601DateFormatter(); f.formatOptions = opts
            if let d = f.date(from: trimmed) { return d }
        }
        return nil
    }

    /// Days since 1970-01-01 (proleptic Gregorian), H. Hinnant's algorithm.
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        return era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
    }
}
