import Foundation

/// Plain-text helpers: HTML → readable text, format=flowed, quoted-reply detection.
enum MailText {
    // MARK: HTML

    private static let skipContent: Set<String> = ["script", "style", "head", "title", "template", "svg"]
    private static let paragraphTags: Set<String> = ["p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "pre", "dl"]
    private static let lineTags: Set<String> = ["div", "tr", "li", "dd", "dt", "hr", "section", "article", "header", "footer",
                                                "address", "center", "form", "fieldset", "figure", "main", "nav", "aside", "tbody", "thead"]
    static let entities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "copy": "©", "reg": "®", "trade": "™",
        "hellip": "…", "mdash": "—", "ndash": "–", "laquo": "«", "raquo": "»", "ldquo": "“", "rdquo": "”", "lsquo": "‘",
        "rsquo": "’", "bdquo": "„", "sbquo": "‚", "bull": "•", "middot": "·", "euro": "€", "deg": "°", "times": "×",
        "divide": "÷", "plusmn": "±", "sect": "§", "para": "¶", "shy": "", "zwnj": "", "zwj": "", "thinsp": " ",
        "ensp": " ", "emsp": " ", "cent": "¢", "pound": "£", "yen": "¥", "larr": "←", "rarr": "→", "numero": "№",
    ]

    /// Drops script/style/head, turns block elements into line breaks, `<br>` into "\n", `<li>` into
    /// "- ", links into "text (url)", decodes entities and collapses whitespace (except in `<pre>`).
    /// Outlook's margin-less `<p class=MsoNormal>` paragraphs are single lines, not blank-line separated.
    static func htmlToText(_ html: String) -> String {
        let u = Array(html.utf8), n = u.count
        var out: [UInt8] = [], pendingSpace = false, pre = 0, i = 0, msoParagraph = false
        var links: [(href: String, start: Int)] = []
        out.reserveCapacity(n / 2)
        func emit<S: Sequence<UInt8>>(_ bytes: S) {
            if pendingSpace, let last = out.last, last != 0x0A, last != 0x20 { out.append(0x20) }
            pendingSpace = false
            out.append(contentsOf: bytes)
        }
        func lineBreak(force: Bool = false, blank: Bool = false) {
            while out.last == 0x20 { out.removeLast() }
            pendingSpace = false
            guard !out.isEmpty else { return }
            let trailing = out.reversed().prefix(while: { $0 == 0x0A }).count
            let want = blank ? 2 : force ? min(trailing + 1, 2) : 1
            if trailing < want { out += [UInt8](repeating: 0x0A, count: want - trailing) }
        }
        func lower(_ s: ArraySlice<UInt8>) -> String { String(decoding: s, as: UTF8.self).lowercased() }
        /// First ASCII-case-insensitive occurrence of `needle` (lowercase ASCII) at or after `from`.
        func find(_ needle: String, from: Int) -> Int? {
            let nd = Array(needle.utf8)
            var k = max(from, 0)
            while k + nd.count <= n {
                var t = 0
                while t < nd.count, (0x41...0x5A).contains(u[k + t]) ? u[k + t] | 0x20 == nd[t] : u[k + t] == nd[t] { t += 1 }
                if t == nd.count { return k }
                k += 1
            }
            return nil
        }
        // Where a search for "</name" already failed: it fails from any later position too, so
        // a thousand unclosed <head> tags do not cost a thousand scans of the rest of the document.
        var noCloseFrom: [String: Int] = [:]
        while i < n {
            let c = u[i]
            if c == 0x3C, i + 1 < n {  // '<'
                if u[(i + 1)...].starts(with: Array("!--".utf8)) { i = (find("-->", from: i + 4).map { $0 + 3 }) ?? n; continue }
                let closing = u[i + 1] == 0x2F
                var j = closing ? i + 2 : i + 1
                let nameStart = j
                while j < n, (0x61...0x7A).contains(u[j] | 0x20) || (j > nameStart && (0x30...0x39).contains(u[j])) { j += 1 }
                let isDecl = !closing && (u[i + 1] == 0x21 || u[i + 1] == 0x3F)
                guard j > nameStart || isDecl else { emit([c]); i += 1; continue }  // a literal '<'
                let name = lower(u[nameStart..<j])
                var quote: UInt8 = 0, k = j
                while k < n, quote != 0 || u[k] != 0x3E {
                    if quote != 0 { if u[k] == quote { quote = 0 } } else if u[k] == 0x22 || u[k] == 0x27 { quote = u[k] }
                    k += 1
                }
                let attrs = u[min(j, n)..<min(k, n)]
                i = min(k + 1, n)
                if isDecl { continue }
                if !closing && skipContent.contains(name) {
                    if noCloseFrom[name].map({ i < $0 }) ?? true {
                        if let p = find("</" + name, from: i) { i = (u[p...].firstIndex(of: 0x3E) ?? n - 1) + 1; continue }
                        noCloseFrom[name] = i
                    }
                    if name != "head" { i = n }  // unclosed <head> is common in broken HTML: keep its text
                    continue
                }
                switch name {
                case "br": lineBreak(force: true)
                case "li" where !closing: lineBreak(); emit(Array("- ".utf8))
                case "td", "th": pendingSpace = true
                case "pre": pre = max(0, pre + (closing ? -1 : 1)); lineBreak(blank: true)
                case "p":  // Outlook's <p class=MsoNormal> has no margins: one line each, an empty one is a blank line
                    if !closing { msoParagraph = attribute("class", in: attrs).lowercased().hasPrefix("mso") }
                    if !msoParagraph { lineBreak(blank: true) } else { lineBreak(force: closing) }
                case "a" where !closing: if links.count < 64 { links.append((attribute("href", in: attrs), out.count)) }
                case "a":
                    guard let link = links.popLast(), out.count - link.start < 2000 else { break }
                    let textPart = String(decoding: out[min(link.start, out.count)...], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    let href = link.href, lowerHref = href.lowercased()
                    if !textPart.isEmpty, !href.isEmpty, href != textPart, lowerHref != "mailto:" + textPart.lowercased(),
                       ["http:", "https:", "ftp:", "mailto:"].contains(where: lowerHref.hasPrefix) {
                        emit(Array(" (\(href))".utf8))
                    }
                default:
                    if paragraphTags.contains(name) { lineBreak(blank: true) } else if lineTags.contains(name) { lineBreak() }
                }
            } else if c == 0x26, let (text, next) = entity(u, i) {  // '&'
                if text == " " { pendingSpace = true } else { emit(Array(text.utf8)) }
                i = next
            } else if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C {
                if pre > 0 { if c != 0x0D { out.append(c) } } else { pendingSpace = true }
                i += 1
            } else { emit(CollectionOfOne(c)); i += 1 }
        }
        return trimLines(String(decoding: out, as: UTF8.self))
    }

    /// Spaces and tabs cut from the end of every line, white space and line ends from both ends of
    /// the whole (Foundation's `.whitespacesAndNewlines`), on bytes where that gives the same.
    static func trimLines(_ text: String) -> String {
        var utf8 = text
        let joined: String = utf8.withUTF8 { p in
            var res: [UInt8] = []
            res.reserveCapacity(p.count)
            for (k, r) in characterLines(p).enumerated() {
                if k > 0 { res.append(0x0A) }
                var z = r.upperBound
                while z > r.lowerBound, p[z - 1] == 0x20 || p[z - 1] == 0x09 { z -= 1 }
                if z < r.upperBound && z > r.lowerBound && p[z - 1] >= 0x80 {  // the run may hang on to a
                    let line = Substring(string(p, r.lowerBound, r.upperBound))  // cluster before it
                    res.append(contentsOf: String(line.reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed()).utf8)
                } else {
                    res.append(contentsOf: UnsafeBufferPointer(rebasing: p[r.lowerBound..<z]))
                }
            }
            return String(decoding: res, as: UTF8.self)
        }
        var j = joined
        let trimmed: String? = j.withUTF8 { p in
            // ASCII white space is 09...0D and 20; a non-ASCII scalar at an end is certainly kept
            // unless it is one that could be white space, which Foundation then decides.
            func unsure(_ v: UInt32) -> Bool { v == 0x85 || v == 0xA0 || v == 0x1680 || v == 0x180E || (0x2000...0x206F).contains(v) || v == 0x3000 || v == 0xFEFF }
            func ws(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
            var a = 0, z = p.count
            while a < z, ws(p[a]) { a += 1 }
            if a < z && p[a] >= 0x80 && unsure(scalarAt(p, a, z).0) { return nil }
            while z > a, ws(p[z - 1]) { z -= 1 }
            if z > a && p[z - 1] >= 0x80 {
                var s = z - 1
                while s > a, p[s] & 0xC0 == 0x80 { s -= 1 }
                if unsure(scalarAt(p, s, z).0) { return nil }
            }
            return substring(joined, a, z)
        }
        return trimmed ?? joined.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `&name;`, `&#123;`, `&#x1F600;` at `i` → (text, index after). Nil if not an entity.
    static func entity(_ u: [UInt8], _ i: Int) -> (String, Int)? {
        guard let semi = u[(i + 1)..<min(u.count, i + 33)].firstIndex(of: 0x3B), semi > i + 1 else { return nil }
        let body = String(decoding: u[(i + 1)..<semi], as: UTF8.self)
        if body.hasPrefix("#") {
            let hex = body.dropFirst().first.map { $0 == "x" || $0 == "X" } ?? false
            guard let v = UInt32(body.dropFirst(hex ? 2 : 1), radix: hex ? 16 : 10) else { return nil }
            return (v == 0xA0 ? " " : String(Unicode.Scalar(v).map(Character.init) ?? "\u{FFFD}"), semi + 1)
        }
        guard let t = entities[body] ?? entities[body.lowercased()] else { return nil }
        return (t, semi + 1)
    }

    static func attribute(_ name: String, in attrs: ArraySlice<UInt8>) -> String {
        let s = String(decoding: attrs, as: UTF8.self)
        guard let r = s.range(of: "\\b\(name)\\s*=\\s*(\"[^\"]*\"|'[^']*'|[^\\s>]+)", options: [.regularExpression, .caseInsensitive]) else { return "" }
        var v = s[r].drop(while: { $0 != "=" }).dropFirst().trimmingCharacters(in: .whitespaces)
        if v.hasPrefix("\"") || v.hasPrefix("'") { v = String(v.dropFirst().dropLast()) }
        let u = Array(v.utf8)
        var out = "", k = 0
        while k < u.count {
            if u[k] == 0x26, let (t, next) = entity(u, k) { out += t; k = next } else {
                let start = k
                k += 1
                while k < u.count, u[k] != 0x26 { k += 1 }
                out += String(decoding: u[start..<k], as: UTF8.self)
            }
        }
        return out
    }

    // MARK: format=flowed (RFC 3676)

    static func unflow(_ s: String, delsp: Bool) -> String {
        var utf8 = s
        return utf8.withUTF8 { p in
            var out: [UInt8] = [], cur: [UInt8]? = nil, curDepth = 0, first = true
            out.reserveCapacity(p.count + 16)
            func emit(_ d: Int, _ c: [UInt8]) {  // out.joined(separator: "\n") of the old code, one at a time
                if !first { out.append(0x0A) }
                first = false
                if d > 0 { out.append(contentsOf: repeatElement(0x3E, count: d)); out.append(0x20) }
                out.append(contentsOf: c)
            }
            for r in characterLines(p) {
                // The quote depth, the line without it and whether it is flowed, on bytes: an ASCII
                // byte at an end of what is looked at is a Character of its own if its neighbour
                // inside the line is ASCII; otherwise the line goes the old way.
                var a = r.lowerBound, depth = 0, unsure = false
                let z = r.upperBound
                while a < z && p[a] == 0x3E { if a + 1 < z && p[a + 1] >= 0x80 { unsure = true; break }; depth += 1; a += 1 }
                if !unsure && a < z && p[a] == 0x20 { if a + 1 < z && p[a + 1] >= 0x80 { unsure = true } else { a += 1 } }
                let endsInSpace = z > a && p[z - 1] == 0x20
                if endsInSpace && z - 1 > a && p[z - 2] >= 0x80 { unsure = true }
                var content: [UInt8], flowed: Bool
                if unsure {
                    var line = Substring(string(p, r.lowerBound, z))
                    depth = 0
                    while line.first == ">" { depth += 1; line = line.dropFirst() }
                    if line.first == " " { line = line.dropFirst() }
                    flowed = line != "-- " && line.hasSuffix(" ")
                    content = Array((flowed && delsp ? line.dropLast() : line).utf8)
                } else {
                    let signature = z - a == 3 && p[a] == 0x2D && p[a + 1] == 0x2D && p[a + 2] == 0x20
                    flowed = !signature && endsInSpace
                    content = Array(p[a..<(flowed && delsp ? z - 1 : z)])
                }
                if let c = cur, depth != curDepth { emit(curDepth, c); cur = nil }
                if cur == nil { cur = content } else { cur!.append(contentsOf: content) }
                curDepth = depth
                if !flowed { emit(depth, cur!); cur = nil }
            }
            if let c = cur { emit(curDepth, c) }
            return String(decoding: out, as: UTF8.self)
        }
    }

    // MARK: Quoted earlier message

    private static let wroteEndings = ["wrote:", "пишет:", "писал(а):", "писал:", "писала:", "написал(а):", "написал:", "написала:"]
    private static let separators: Set<String> = ["original message", "исходное сообщение", "оригинальное сообщение", "исходное письмо",
                                                  "forwarded message", "пересылаемое сообщение", "переадресованное сообщение"]

    /// Splits at the earliest of: a reply header line ("On … wrote:", "… пишет:", "-----Original
    /// Message-----", "-------- Исходное сообщение --------", "---------- Forwarded message ---------",
    /// "Begin forwarded message:", an Outlook "From:/Sent:" block), or the start of a trailing block of
    /// ">" lines together with the attribution line just above it (any line ending in ":" that has a
    /// digit or "@", e.g. "Am 07.03.2024 um 14:10 schrieb Bob <b@x>:"). Interleaved quotes are left alone.
    ///
    /// Works on the UTF-8 bytes: lines and their trimmed bounds are byte ranges, and a line becomes a
    /// String (checked exactly as before, with Characters and lowercasing) only if its bytes could
    /// start or end one of the patterns.
    static func splitQuote(_ text: String) -> (String, String?) {
        var utf8 = text
        return utf8.withUTF8 { p in
            let n = p.count
            var lineStart: [Int] = [], lo: [Int] = [], hi: [Int] = []  // trimmed bounds (trimText, newlines: false)
            lineStart.reserveCapacity(n / 32 + 1); lo.reserveCapacity(n / 32 + 1); hi.reserveCapacity(n / 32 + 1)
            var s = 0
            while true {
                var e = n
                if s < n, let base = p.baseAddress, let lf = memchr(base + s, 10, n - s) {
                    e = UnsafeRawPointer(lf) - UnsafeRawPointer(base)
                }
                let (a, z) = trimBounds(p, s, e, newlines: false)
                lineStart.append(s); lo.append(a); hi.append(z)
                if e == n { break }
                s = e + 1
            }
            let count = lo.count
            var strings: [String?] = []  // the lines made Strings, allocated on first use
            func line(_ k: Int) -> String {  // trimmed[k] of the old code
                if strings.isEmpty { strings = [String?](repeating: nil, count: count) } else if let l = strings[k] { return l }
                let l = substring(text, lo[k], hi[k])
                strings[k] = l
                return l
            }
            func isEmpty(_ k: Int) -> Bool { lo[k] == hi[k] }
            func isQuote(_ k: Int) -> Bool {  // line(k).hasPrefix(">"); a non-ASCII next byte may extend the ">"
                guard hi[k] > lo[k], p[lo[k]] == 0x3E else { return false }
                return hi[k] == lo[k] + 1 || p[lo[k] + 1] < 0x80 || line(k).hasPrefix(">")
            }
            var cut: Int? = nil
            for k in 0..<count where !isEmpty(k) && hi[k] - lo[k] <= 1200 && !isQuote(k) {
                // Every pattern below ends in ":", starts with "--" / "__", or starts with From / От.
                let f = p[lo[k]]
                guard p[hi[k] - 1] == 0x3A || f == 0x2D || f == 0x5F || f == 0x46 || f == 0x66
                    || (f == 0xD0 && hi[k] - lo[k] >= 2 && (p[lo[k] + 1] == 0x9E || p[lo[k] + 1] == 0xBE)) else { continue }
                let t = line(k)
                guard t.hasSuffix(":") || t.hasPrefix("--") || t.hasPrefix("__") || "FfОо".contains(t.first!) else { continue }
                let lower = t.lowercased()
                if t.hasPrefix("--") || t.hasPrefix("__"), separators.contains(trimEnds(lower, of: "-_=* ")) {
                    cut = k; break
                }
                if lower == "begin forwarded message:" { cut = k; break }
                if p[hi[k] - 1] == 0x3A, wroteEndings.contains(where: lower.hasSuffix) {  // each ends in ":"
                    let wrapped = k > 0 && !lower.hasPrefix("on ") && line(k - 1).lowercased().hasPrefix("on ")
                    let combined = wrapped ? line(k - 1) + " " + t : t
                    if containsNumber(combined) || containsText(combined, "@")
                        || ((k + 1)..<count).first(where: { !isEmpty($0) }).map({ line($0).hasPrefix(">") }) == true {
                        cut = wrapped ? k - 1 : k; break
                    }
                }
                if lower.hasPrefix("from:") || lower.hasPrefix("от:"),
                   ((k + 1)..<min(k + 5, count)).contains(where: { l in ["sent:", "отправлено:", "date:", "дата:"].contains { line(l).lowercased().hasPrefix($0) } }) {
                    var s = k, q = k - 1
                    while q >= 0 && isEmpty(q) { q -= 1 }
                    if q >= 0, line(q).count >= 8, line(q).allSatisfy({ $0 == "_" || $0 == "-" }) { s = q }
                    cut = s; break
                }
            }
            var k = count - 1, blockStart: Int? = nil
            while k >= 0, isEmpty(k) || isQuote(k) {
                if !isEmpty(k) { blockStart = k }
                k -= 1
            }
            if let b = blockStart, cut.map({ b < $0 }) ?? true {
                cut = b
                var q = b - 1
                if q >= 0 && isEmpty(q) { q -= 1 }  // at most one blank line between attribution and quote
                if q >= 0, line(q).count <= 300, line(q).hasSuffix(":"), containsNumber(line(q)) || line(q).contains(where: { $0 == "@" }) { cut = q }
            }
            func trimmed(_ a: Int, _ z: Int) -> String {  // trimText(newlines: true) of p[a..<z]
                let (a2, z2) = trimBounds(p, a, z, newlines: true)
                return substring(text, a2, z2)
            }
            guard let cut else { return (trimmed(0, n), nil) }
            let newText = trimmed(0, cut == 0 ? 0 : lineStart[cut] - 1)  // lines[..<cut] joined by "\n"
            let quoted = trimmed(lineStart[cut], n)
            return (newText, quoted.isEmpty ? nil : quoted)
        }
    }
}

/// `s.contains(where: \.isNumber)`: for ASCII text, a digit (the only ASCII numbers).
func containsNumber(_ s: String) -> Bool {
    isASCII(s) ? s.utf8.contains { $0 >= 0x30 && $0 <= 0x39 } : s.contains(where: \.isNumber)
}

/// Cuts spaces and tabs (and line ends, with `newlines`) from both ends, without Foundation (its
/// NSString bridging made trimming the parser's hottest spot).
func trimText(_ s: some StringProtocol, newlines: Bool) -> String {
    let fast: String?? = s.utf8.withContiguousStorageIfAvailable { p -> String? in
        let (a, z) = trimBounds(p, 0, p.count, newlines: newlines)
        return a == 0 && z == p.count ? nil : string(p, a, z)
    }
    if let fast {
        if let t = fast { return t }
        if let str = s as? String { return str }
        return String(Substring(s))
    }
    let sub = Substring(s)
    let u = sub.unicodeScalars
    func blank(_ c: Unicode.Scalar) -> Bool {
        if c == " " || c == "\t" { return true }
        if c.value < 0x80 { return newlines && (c == "\n" || c == "\r" || c.value == 0x0B || c.value == 0x0C) }
        guard c.properties.isWhitespace else { return false }
        return newlines || !(c.value == 0x85 || c.value == 0x2028 || c.value == 0x2029)
    }
    guard let first = u.firstIndex(where: { !blank($0) }) else { return "" }
    let last = u.lastIndex(where: { !blank($0) })!
    return String(Substring(u[first...last]))
}

/// `s` without any of `characters` at either end.
func trimEnds(_ s: String, of characters: String) -> String {
    let set = characters.unicodeScalars
    let u = s.unicodeScalars
    guard let first = u.firstIndex(where: { !set.contains($0) }) else { return "" }
    let last = u.lastIndex(where: { !set.contains($0) })!
    return String(Substring(u[first...last]))
}

/// CRLF and lone CR turned into LF, without Foundation.
func normaliseNewlines(_ s: String) -> String {
    var bytes: [UInt8] = []
    let hasCR = s.utf8.withContiguousStorageIfAvailable { p in
        guard let base = p.baseAddress, memchr(base, 13, p.count) != nil else { return false }
        bytes = Array(p)
        return true
    } ?? s.utf8.contains(13)
    guard hasCR else { return s }
    if bytes.isEmpty { bytes = Array(s.utf8) }
    normaliseNewlines(bytes: &bytes)
    return String(decoding: bytes, as: UTF8.self)
}
