// Lexer and recursive-descent parser for the payroll formula language (grammar: PayrollFormula.swift).

struct Pos: Sendable, Hashable {
    var line: Int
    var column: Int
    func error(_ message: String) -> FormulaError { FormulaError(line: line, column: column, message: message) }
}

/// One `op rhs` step of a same-precedence chain (`a + b - c` is one node, evaluated by a loop,
/// so long sums cannot exhaust the stack).
struct Link: Sendable {
    var op: String
    var at: Pos
    var rhs: Node
}

indirect enum Node: Sendable {
    case number(Double), string(String), ref(Int), input(String, Pos)
    case negate(Node, Pos), not(Node, Pos), chain(Node, [Link]), call(String, [Node], Pos)
}

struct Definition: Sendable {
    var name: String
    var at: Pos
    var node: Node
    var deps: [Int]
}

enum Tok: Equatable { case number(Double), string(String), name(String), op(String), newline, end }

struct Token {
    var tok: Tok
    var at: Pos
}

/// Canonical name of a keyed definition: `rate.hourly["dev-anna"]`.
func keyed(_ base: String, _ key: String) -> String { "\(base)[\"\(key)\"]" }

func describe(_ t: Tok) -> String {
    switch t {
    case .number(let x): "number \(fmt(x))"
    case .string(let s): "string \"\(s)\""
    case .name(let n): "'\(n)'"
    case .op(let o): "'\(o)'"
    case .newline: "end of line"
    case .end: "end of document"
    }
}

func lex(_ source: String) throws(FormulaError) -> [Token] {
    let s = Array(source.unicodeScalars)
    var out: [Token] = [], i = 0, line = 1, lineStart = 0, nesting = 0
    func isStart(_ c: Unicode.Scalar) -> Bool { c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
    func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }
    func peek(_ k: Int) -> Unicode.Scalar? { k < s.count ? s[k] : nil }
    func text(_ r: Range<Int>) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: s[r]); return String(v) }
    while i < s.count {
        let c = s[i], pos = Pos(line: line, column: i - lineStart + 1), start = i
        i += 1
        switch c {
        case "\n":
            if nesting == 0 { out.append(Token(tok: .newline, at: pos)) }
            line += 1
            lineStart = i
        case " ", "\t", "\r": break
        case "#": while let d = peek(i), d != "\n" { i += 1 }
        case "\"":
            var v = String.UnicodeScalarView()
            while true {
                guard let d = peek(i), d != "\n" else { throw pos.error("unterminated string") }
                i += 1
                if d == "\"" { break }
                guard d == "\\" else { v.append(d); continue }
                switch peek(i) {
                case "\""?: v.append("\"")
                case "\\"?: v.append("\\")
                case "n"?: v.append("\n")
                default: throw Pos(line: line, column: i - lineStart).error("unknown escape in string (use \\\", \\\\ or \\n)")
                }
                i += 1
            }
            out.append(Token(tok: .string(String(v)), at: pos))
        case _ where isDigit(c):
            while let d = peek(i), isDigit(d) { i += 1 }
            if peek(i) == "." {
                guard let d = peek(i + 1), isDigit(d) else { throw pos.error("malformed number: expected digits after '.'") }
                i += 1
                while let d = peek(i), isDigit(d) { i += 1 }
            }
            guard let x = Double(text(start..<i)), x.isFinite else { throw pos.error("number is too large") }
            out.append(Token(tok: .number(x), at: pos))
        case _ where isStart(c):
            while let d = peek(i), isStart(d) || isDigit(d) || (d == "." && peek(i + 1).map(isStart) == true) { i += 1 }
            let word = text(start..<i)
            out.append(Token(tok: ["and", "or", "not"].contains(word) ? .op(word) : .name(word), at: pos))
        default:
            let two = peek(i).map { String(c) + String($0) } ?? ""
            if ["==", "!=", "<=", ">="].contains(two) {
                i += 1
                out.append(Token(tok: .op(two), at: pos))
            } else if "()[],=<>+-*/".unicodeScalars.contains(c) {
                if c == "(" || c == "[" { nesting += 1 } else if c == ")" || c == "]" { nesting = max(0, nesting - 1) }
                out.append(Token(tok: .op(String(c)), at: pos))
            } else {
                throw pos.error("unexpected character '\(c.escaped(asASCII: true))'")
            }
        }
    }
    out.append(Token(tok: .end, at: Pos(line: line, column: i - lineStart + 1)))
    return out
}

/// Two passes: collect every definition target (so a use of a later name is reported as a
/// forward reference, not taken for an input), then parse each right-hand side.
func parseDocument(_ source: String) throws(FormulaError) -> (defs: [Definition], index: [String: Int], inputs: Set<String>) {
    let toks = try lex(source)
    var heads: [(name: String, at: Pos, start: Int)] = [], index: [String: Int] = [:], p = 0
    while toks[p].tok != .end {
        if toks[p].tok == .newline { p += 1; continue }
        let t = toks[p]
        guard case .name(let base) = t.tok else { throw t.at.error("expected a name at the start of a definition, found \(describe(t.tok))") }
        var name = base
        p += 1
        if toks[p].tok == .op("[") {
            guard case .string(let key) = toks[p + 1].tok, toks[p + 2].tok == .op("]") else {
                throw toks[p].at.error("expected [\"key\"] after '\(base)'")
            }
            name = keyed(base, key)
            p += 3
        }
        guard toks[p].tok == .op("=") else { throw toks[p].at.error("expected '=' after '\(name)', found \(describe(toks[p].tok))") }
        if let j = index[name] { throw t.at.error("'\(name)' is already defined on line \(heads[j].at.line)") }
        index[name] = heads.count
        heads.append((name, t.at, p + 1))
        while toks[p].tok != .newline && toks[p].tok != .end { p += 1 }
    }
    var parser = Parser(toks: toks, names: index, lines: heads.map(\.at.line))
    var defs: [Definition] = []
    for (i, h) in heads.enumerated() {
        (parser.p, parser.current, parser.deps) = (h.start, i, [])
        let node = try parser.expression()
        guard parser.peek == .newline || parser.peek == .end else {
            throw parser.toks[parser.p].at.error("unexpected \(describe(parser.peek)) after the expression")
        }
        defs.append(Definition(name: h.name, at: h.at, node: node, deps: parser.deps.sorted()))
    }
    return (defs, index, parser.inputs)
}

struct Parser {
    let toks: [Token]
    let names: [String: Int]
    let lines: [Int]
    var p = 0, depth = 0, current = 0
    var deps = Set<Int>(), inputs = Set<String>()

    static let levels: [[String]] = [["or"], ["and"], ["==", "!=", "<", "<=", ">", ">="], ["+", "-"], ["*", "/"]]
    static let arity: [String: ClosedRange<Int>] = [
        "if": 3...3, "choose": 2...Int.max, "min": 1...Int.max, "max": 1...Int.max,
        "round": 1...2, "floor": 1...1, "ceil": 1...1, "clamp": 3...3,
    ]

    init(toks: [Token], names: [String: Int], lines: [Int]) { (self.toks, self.names, self.lines) = (toks, names, lines) }

    var peek: Tok { toks[p].tok }

    mutating func next() -> Token {
        let t = toks[p]
        if p < toks.count - 1 { p += 1 }
        return t
    }

    mutating func accept(_ op: String) -> Bool {
        guard peek == .op(op) else { return false }
        p += 1
        return true
    }

    mutating func expect(_ op: String) throws(FormulaError) {
        guard accept(op) else { throw toks[p].at.error("expected '\(op)', found \(describe(peek))") }
    }

    mutating func enter() throws(FormulaError) {
        depth += 1
        if depth > PayrollFormula.maxDepth {
            throw toks[p].at.error("expression is nested too deeply (limit \(PayrollFormula.maxDepth) levels)")
        }
    }

    mutating func expression(_ level: Int = 0) throws(FormulaError) -> Node {
        if level == 0 { try enter() }
        defer { if level == 0 { depth -= 1 } }
        if level == Self.levels.count { return try unary() }
        if level == 2, peek == .op("not") {
            let at = next().at
            try enter()
            defer { depth -= 1 }
            return .not(try expression(2), at)
        }
        let first = try expression(level + 1)
        var links: [Link] = []
        while case .op(let op) = peek, Self.levels[level].contains(op) {
            if level == 2, !links.isEmpty { throw toks[p].at.error("comparisons cannot be chained; combine them with 'and'") }
            let at = next().at
            links.append(Link(op: op, at: at, rhs: try expression(level + 1)))
        }
        return links.isEmpty ? first : .chain(first, links)
    }

    mutating func unary() throws(FormulaError) -> Node {
        guard peek == .op("-") else { return try primary() }
        let at = next().at
        try enter()
        defer { depth -= 1 }
        return .negate(try unary(), at)
    }

    mutating func primary() throws(FormulaError) -> Node {
        let t = next()
        switch t.tok {
        case .number(let x): return .number(x)
        case .string(let s): return .string(s)
        case .op("("):
            let e = try expression()
            try expect(")")
            return e
        case .name(let n) where peek == .op("("):
            guard let ar = Self.arity[n] else { throw t.at.error("unknown function '\(n)'") }
            p += 1
            var args: [Node] = []
            if peek != .op(")") {
                repeat { args.append(try expression()) } while accept(",")
            }
            try expect(")")
            guard ar.contains(args.count) else {
                let want = ar.upperBound == Int.max ? "at least \(ar.lowerBound)"
                    : ar.count == 1 ? "\(ar.lowerBound)" : "\(ar.lowerBound) or \(ar.upperBound)"
                throw t.at.error("'\(n)' expects \(want) argument\(want == "1" ? "" : "s"), got \(args.count)")
            }
            return .call(n, args, t.at)
        case .name(let n):
            var name = n
            if accept("[") {
                let k = next()
                guard case .string(let key) = k.tok else { throw k.at.error("expected a quoted key after '['") }
                try expect("]")
                name = keyed(n, key)
            }
            return try resolve(name, t.at)
        default:
            throw t.at.error("expected an expression, found \(describe(t.tok))")
        }
    }

    mutating func resolve(_ name: String, _ at: Pos) throws(FormulaError) -> Node {
        if let j = names[name] {
            if j < current { deps.insert(j); return .ref(j) }
            if j == current { throw at.error("'\(name)' refers to itself") }
            throw at.error("'\(name)' is defined later, on line \(lines[j]); a definition may only use earlier definitions")
        }
        if name.contains(".") || name.contains("[") { throw at.error("unknown name '\(name)'") }
        inputs.insert(name)
        return .input(name, at)
    }
}
