import Foundation

/// RFC 5322 / 2045 / 2231 structured header field parsers. All lenient and total.
enum HeaderSyntax {
    // MARK: Parameters (Content-Type, Content-Disposition)

    /// Splits `type/subtype; a=b; c*=utf-8''%..` into the main value and lowercased-name parameters,
    /// joining RFC 2231 continuations and decoding RFC 2231 / RFC 2047 values.
    static func parameters(_ s: String) -> (value: String, params: [String: String]) {
        var segments: [String] = [], cur = "", inQuote = false, escaped = false
        for c in s {
            if escaped { cur.append(c); escaped = false; continue }
            if c == "\\" && inQuote { escaped = true; cur.append(c); continue }
            if c == "\"" { inQuote.toggle() }
            if c == ";" && !inQuote { segments.append(cur); cur = "" } else { cur.append(c) }
        }
        segments.append(cur)
        let value = trimText(segments[0], newlines: false)
        var simple: [String: String] = [:], sections: [String: [(Int, Bool, String)]] = [:]
        for seg in segments.dropFirst() {
            guard let eq = seg.firstIndex(of: "=") else { continue }
            let name = trimText(seg[..<eq], newlines: false).lowercased()
            var v = trimText(seg[seg.index(after: eq)...], newlines: false)
            if v.hasPrefix("\"") { v = unquote(v) }
            guard !name.isEmpty else { continue }
            if let star = name.firstIndex(of: "*") {
                let base = String(name[..<star]), rest = name[name.index(after: star)...]
                let extended = rest.isEmpty || rest.hasSuffix("*")
                guard let n = rest.isEmpty ? 0 : Int(extended ? rest.dropLast() : rest), n >= 0, n < 1000 else { continue }
                sections[base, default: []].append((n, extended, v))
            } else if simple[name] == nil {
                simple[name] = v.contains("=?") ? MailEncoding.decodeEncodedWords(v) : v
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

    private static func tokenize(_ s: String) -> [Token] {
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
            let joined = s.contains(" @ ") ? s.split(separator: " @ ", omittingEmptySubsequences: false).joined(separator: "@") : s
            let t = trimText(s.contains("=?") ? MailEncoding.decodeEncodedWords(joined) : joined, newlines: false)
            return t.isEmpty ? nil : t
        }
        func finish() {
            var addr: String? = nil, name: String? = nil
            if var a = angle {
                if let colon = a.lastIndex(of: ":") { a = String(a[a.index(after: colon)...]) }  // obsolete route
                addr = a; name = clean(phrase.joined(separator: " ")) ?? clean(comment)
            } else if let at = atIndex, at > 0, at + 1 < phrase.count {
                addr = phrase[at - 1] + "@" + phrase[at + 1]
                name = clean(phrase[..<(at - 1)].joined(separator: " ")) ?? clean(comment)
            }
            if let a = addr.map({ trimText($0, newlines: false) }), !a.isEmpty {
                var normalized = a
                if let at = a.lastIndex(of: "@") { normalized = a[..<at] + "@" + a[a.index(after: at)...].lowercased() }
                if name?.lowercased() == normalized.lowercased() { name = nil }
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
            case .word(let w, let q): if inAngle { angleBuf += q ? "\"\(w)\"" : w } else { phrase.append(w) }
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
    private static let zones: [String: Int] = ["UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
                                               "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "MSK": 3, "CET": 1, "CEST": 2]

    /// RFC 5322 date-time with common deviations (no weekday, 2-digit years, missing seconds,
    /// named zones, asctime order, `dd.mm.yyyy`); ISO 8601 as a fallback. Nil if nothing fits.
    static func date(_ s: String) -> Date? {
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
        if let day, let month, let year, (1900...9999).contains(year), (1...12).contains(month) {
            let t = hms ?? [0, 0]
            let (h, mi, sec) = (t[0], t[1], t.count > 2 ? min(t[2], 59) : 0)
            let dim = [31, year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
            guard (1...dim).contains(day), (0...23).contains(h), (0...59).contains(mi), sec >= 0 else { return nil }
            let seconds = daysFromCivil(year, month, day) * 86400 + h * 3600 + mi * 60 + sec - (offset ?? 0)
            return Date(timeIntervalSince1970: TimeInterval(seconds))
        }
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
