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
        let text = String(decoding: out, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0.reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed()) }
            .joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
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
        var out: [String] = [], cur: String? = nil, curDepth = 0
        func prefix(_ d: Int) -> String { d == 0 ? "" : String(repeating: ">", count: d) + " " }
        for raw in s.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = Substring(raw), depth = 0
            while line.first == ">" { depth += 1; line = line.dropFirst() }
            if line.first == " " { line = line.dropFirst() }
            let flowed = line != "-- " && line.hasSuffix(" ")
            let content = flowed && delsp ? String(line.dropLast()) : String(line)
            if let c = cur, depth != curDepth { out.append(prefix(curDepth) + c); cur = nil }
            if cur == nil { cur = content } else { cur!.append(content) }
            curDepth = depth
            if !flowed { out.append(prefix(depth) + cur!); cur = nil }
        }
        if let c = cur { out.append(prefix(curDepth) + c) }
        return out.joined(separator: "\n")
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
    static func splitQuote(_ text: String) -> (String, String?) {
        let lines = text.utf8.split(separator: 10, omittingEmptySubsequences: false).map { String(Substring($0)) }
        let trimmed = lines.map { trimText($0, newlines: false) }
        func nextNonEmpty(after k: Int) -> String? { trimmed[(k + 1)...].first { !$0.isEmpty } }
        var cut: Int? = nil
        for (k, t) in trimmed.enumerated() where !t.isEmpty && t.utf8.count <= 1200 && !t.hasPrefix(">") {
            // Every pattern below ends in ":", starts with "--" / "__", or starts with From / От.
            guard t.hasSuffix(":") || t.hasPrefix("--") || t.hasPrefix("__") || "FfОо".contains(t.first!) else { continue }
            let lower = t.lowercased()
            if t.hasPrefix("--") || t.hasPrefix("__"), separators.contains(trimEnds(lower, of: "-_=* ")) {
                cut = k; break
            }
            if lower == "begin forwarded message:" { cut = k; break }
            if wroteEndings.contains(where: lower.hasSuffix) {
                let wrapped = k > 0 && !lower.hasPrefix("on ") && trimmed[k - 1].lowercased().hasPrefix("on ")
                let combined = wrapped ? trimmed[k - 1] + " " + t : t
                if combined.contains(where: \.isNumber) || combined.contains("@") || nextNonEmpty(after: k)?.hasPrefix(">") == true {
                    cut = wrapped ? k - 1 : k; break
                }
            }
            if lower.hasPrefix("from:") || lower.hasPrefix("от:"),
               trimmed[(k + 1)..<min(k + 5, trimmed.count)].contains(where: { l in ["sent:", "отправлено:", "date:", "дата:"].contains { l.lowercased().hasPrefix($0) } }) {
                var s = k, p = k - 1
                while p >= 0 && trimmed[p].isEmpty { p -= 1 }
                if p >= 0, trimmed[p].count >= 8, trimmed[p].allSatisfy({ $0 == "_" || $0 == "-" }) { s = p }
                cut = s; break
            }
        }
        var k = lines.count - 1, blockStart: Int? = nil
        while k >= 0, trimmed[k].isEmpty || trimmed[k].hasPrefix(">") {
            if trimmed[k].hasPrefix(">") { blockStart = k }
            k -= 1
        }
        if let b = blockStart, cut.map({ b < $0 }) ?? true {
            cut = b
            var p = b - 1
            if p >= 0 && trimmed[p].isEmpty { p -= 1 }  // at most one blank line between attribution and quote
            if p >= 0, trimmed[p].count <= 300, trimmed[p].hasSuffix(":"), trimmed[p].contains(where: { $0.isNumber || $0 == "@" }) { cut = p }
        }
        guard let cut else { return (trimText(text, newlines: true), nil) }
        let newText = trimText(lines[..<cut].joined(separator: "\n"), newlines: true)
        let quoted = trimText(lines[cut...].joined(separator: "\n"), newlines: true)
        return (newText, quoted.isEmpty ? nil : quoted)
    }
}

/// Cuts spaces and tabs (and line ends, with `newlines`) from both ends, without Foundation (its
/// NSString bridging made trimming the parser's hottest spot).
func trimText(_ s: some StringProtocol, newlines: Bool) -> String {
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
    let set = Set(characters.unicodeScalars)
    let u = s.unicodeScalars
    guard let first = u.firstIndex(where: { !set.contains($0) }) else { return "" }
    let last = u.lastIndex(where: { !set.contains($0) })!
    return String(Substring(u[first...last]))
}

/// CRLF and lone CR turned into LF, without Foundation.
func normaliseNewlines(_ s: String) -> String {
    guard s.utf8.contains(13) else { return s }
    var out: [UInt8] = []
    out.reserveCapacity(s.utf8.count)
    var previousCR = false
    for b in s.utf8 {
        if b == 13 { out.append(10); previousCR = true; continue }
        if b == 10 && previousCR { previousCR = false; continue }
        previousCR = false
        out.append(b)
    }
    return String(decoding: out, as: UTF8.self)
}
