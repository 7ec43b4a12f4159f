/// A published payroll formula (requirements R22/R23): a small text document that turns one
/// self-evaluation of a closed ticket into money, plus hourly rates for developers.
///
/// Managers publish new *versions* of the document; reports are rebuilt by constructing a
/// `PayrollFormula` from whichever version's text is wanted. Nothing here does I/O, and a
/// formula is an immutable `Sendable` value, safe to share between tasks.
///
/// ## Grammar
/// ```
/// document   = { [ definition ] [ "#" comment ] NEWLINE }   ; a newline inside ( ) or [ ] continues the line
/// definition = target "=" expr                               ; each target defined once
/// target     = NAME [ "[" STRING "]" ]                       ; e.g. rate.hourly["dev-anna"]
/// expr       = and { "or" and }
/// and        = not { "and" not }
/// not        = "not" not | compare
/// compare    = sum [ ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) sum ]   ; not chainable
/// sum        = product { ( "+" | "-" ) product }              ; left-associative
/// product    = unary { ( "*" | "/" ) unary }                  ; left-associative
/// unary      = "-" unary | primary
/// primary    = NUMBER | STRING | "(" expr ")" | FUNCTION "(" [ expr { "," expr } ] ")"
///            | NAME [ "[" STRING "]" ]
/// NAME       = [A-Za-z_][A-Za-z0-9_]* { "." [A-Za-z_][A-Za-z0-9_]* }   ; "and" "or" "not" are reserved
/// NUMBER     = digits [ "." digits ]                          ; no sign, no exponent
/// STRING     = '"' { any char except '"', '\' or newline | '\"' | '\\' | '\n' } '"'
/// FUNCTION   = if(c, a, b) | choose(i, v1, …, vn) | min(…) | max(…) | round(x[, digits])
///            | floor(x) | ceil(x) | clamp(x, lo, hi)
/// ```
///
/// ## Names
/// A name used in an expression must be a definition *above* it (a later definition, or the
/// definition itself, is an error; cycles are therefore impossible). Any other plain name
/// (no dot, no `[key]`) is an **input variable** supplied per evaluation; an undefined dotted
/// or keyed name (e.g. a typo in `rate.hourly.defualt`) is an "unknown name" error.
/// `amount` must be defined; `rate.hourly.default` and `rate.hourly["<staff id>"]` are optional.
///
/// ## Values and evaluation
/// Values are numbers (`Double`), strings and booleans; there is no implicit conversion and a
/// mismatch is an evaluation error. `if`, `choose`, `and`, `or` are lazy (only the needed
/// branch is evaluated), and so are definitions: a definition that fails is an error only if
/// its value is actually used. Division by zero, non-finite results, an out-of-range `choose`
/// index or a missing input are evaluation errors carrying the line/column of the culprit.
///
/// ## Limits
/// Source at most 64 KiB (UTF-8); expression nesting (parentheses, function arguments, unary
/// `-` and `not`) at most ``maxDepth`` levels. Columns count Unicode scalars, 1-based.
public struct PayrollFormula: Sendable, Hashable {
    /// The document text this formula was built from.
    public let source: String
    /// The input variables read anywhere in the document
    /// (e.g. `["kind", "volume", "links", "screenshots", "help"]`).
    public let inputs: Set<String>
    let defs: [Definition]
    let index: [String: Int]
    let amountIndex: Int
    let amountPlan: [Int]

    /// Maximum size of a document in UTF-8 bytes (64 KiB).
    public static let maxSourceBytes = 65_536
    /// Maximum expression nesting depth.
    public static let maxDepth = 200

    /// Parses `source` and checks every name and reference.
    /// Never crashes, whatever the input; every problem is reported as a ``FormulaError``.
    public init(source: String) throws(FormulaError) {
        guard source.utf8.count <= Self.maxSourceBytes else {
            throw FormulaError(line: 0, column: 0, message: "formula document is larger than 64 KiB (\(source.utf8.count) bytes)")
        }
        let parsed = try parseDocument(source)
        guard let a = parsed.index["amount"] else {
            throw FormulaError(line: 0, column: 0, message: "the formula must define 'amount'")
        }
        self.source = source
        (defs, index, inputs, amountIndex) = (parsed.defs, parsed.index, parsed.inputs, a)
        amountPlan = Self.plan(parsed.defs, upTo: a)
    }

    /// Evaluates `amount` for one evaluation (the money earned for one closed ticket).
    /// - Parameter inputs: input variables by name (numbers or strings; booleans are accepted too).
    /// - Throws: a missing input, type error, division by zero, … with the place it happened.
    public func amount(_ inputs: [String: FormulaValue]) throws(FormulaError) -> Double {
        try number(amountIndex, plan: amountPlan, inputs)
    }

    /// Hourly rate for a staff member: `rate.hourly["<staffId>"]` if defined, else
    /// `rate.hourly.default`, else 0. Rates are evaluated without inputs.
    public func hourlyRate(staffId: String) throws(FormulaError) -> Double {
        guard let i = index[keyed("rate.hourly", staffId)] ?? index["rate.hourly.default"] else { return 0 }
        return try number(i, plan: Self.plan(defs, upTo: i), [:])
    }

    /// Every named value for one evaluation, in definition order (for a "preview"/"explain" view).
    /// Evaluates *all* definitions, so it throws the first error in document order even if
    /// that definition is not needed by `amount`.
    public func explain(_ inputs: [String: FormulaValue]) throws(FormulaError) -> [(name: String, value: FormulaValue)] {
        let values = run(Array(defs.indices), inputs)
        var out: [(name: String, value: FormulaValue)] = []
        for (d, r) in zip(defs, values) { out.append((d.name, try r!.get())) }
        return out
    }

    /// Rounds `x` to `digits` decimal places, halves away from zero (`2.5 → 3`, `-2.5 → -3`).
    /// Values within a few ulps of a half are treated as exact halves, so decimal literals
    /// round as on paper (`1.005 → 1.01`, `2.675 → 2.68`) despite binary representation.
    /// This is what the formula function `round(x, digits)` does.
    public static func roundHalfAwayFromZero(_ x: Double, digits: Int) -> Double {
        var p = 1.0
        for _ in 0..<max(0, min(digits, 22)) { p *= 10 }
        let s = x * p
        guard s.isFinite, abs(s) < 4_503_599_627_370_496 else { return x }  // 2^52: already whole
        let t = s.rounded(.towardZero)
        let r = abs(s - t) >= 0.5 - 8 * s.ulp ? t + (s < 0 ? -1 : 1) : t
        return r / p + 0.0  // + 0.0 turns -0.0 into 0.0
    }

    public static func == (a: Self, b: Self) -> Bool { a.source == b.source }
    public func hash(into h: inout Hasher) { h.combine(source) }

    /// Indices of the definitions `target` depends on (transitively, itself included), in order.
    static func plan(_ defs: [Definition], upTo target: Int) -> [Int] {
        var need = [Bool](repeating: false, count: target + 1)
        need[target] = true
        for i in stride(from: target, through: 0, by: -1) where need[i] {
            for d in defs[i].deps { need[d] = true }
        }
        return need.indices.filter { need[$0] }
    }

    /// Evaluates the planned definitions in order, iteratively (no recursion across definitions).
    /// Failures are stored, and rethrown only where a value is used.
    func run(_ plan: [Int], _ inputs: [String: FormulaValue]) -> [Result<FormulaValue, FormulaError>?] {
        let ev = Evaluator(inputs: inputs, count: defs.count)
        for i in plan {
            do throws(FormulaError) { ev.values[i] = .success(try ev.eval(defs[i].node)) }
            catch { ev.values[i] = .failure(error) }
        }
        return ev.values
    }

    func number(_ i: Int, plan: [Int], _ inputs: [String: FormulaValue]) throws(FormulaError) -> Double {
        let v = try run(plan, inputs)[i]!.get()
        guard case .number(let x) = v else {
            throw defs[i].at.error("'\(defs[i].name)' must be a number, got \(v.typeName) \(v)")
        }
        return x
    }
}

/// A value in a formula: a number, a string or a boolean.
/// Literal-convertible, so inputs can be written `["kind": 3, "volume": "long"]`.
public enum FormulaValue: Sendable, Hashable, CustomStringConvertible,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral {
    case number(Double), string(String), bool(Bool)

    public init(integerLiteral v: Int) { self = .number(Double(v)) }
    public init(floatLiteral v: Double) { self = .number(v) }
    public init(stringLiteral v: String) { self = .string(v) }
    public init(booleanLiteral v: Bool) { self = .bool(v) }

    /// `12`, `1.5`, `"long"`, `true`.
    public var description: String {
        switch self {
        case .number(let x): fmt(x)
        case .string(let s): "\"\(s)\""
        case .bool(let b): String(b)
        }
    }

    var typeName: String {
        switch self {
        case .number: "number"
        case .string: "string"
        case .bool: "boolean"
        }
    }
}

/// A parse or evaluation error. `line`/`column` are 1-based (columns count Unicode scalars);
/// both are 0 when the error is not tied to a place (missing `amount`, document too large).
public struct FormulaError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public init(line: Int, column: Int, message: String) {
        (self.line, self.column, self.message) = (line, column, message)
    }

    /// `"line 3, column 12: division by zero"`, or just the message when there is no place.
    public var description: String { line > 0 ? "line \(line), column \(column): \(message)" : message }
}

/// Formats a number without a trailing `.0` when it is whole.
func fmt(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x) }

/// Tree-walking evaluator. Recursion depth is bounded by the parser's nesting limit.
final class Evaluator {
    let inputs: [String: FormulaValue]
    var values: [Result<FormulaValue, FormulaError>?]

    init(inputs: [String: FormulaValue], count: Int) {
        self.inputs = inputs
        values = Array(repeating: nil, count: count)
    }

    func eval(_ node: Node) throws(FormulaError) -> FormulaValue {
        switch node {
        case .number(let x): return .number(x)
        case .string(let s): return .string(s)
        case .ref(let j):
            guard let r = values[j] else { throw FormulaError(line: 0, column: 0, message: "internal error: definition used before evaluation") }
            return try r.get()
        case .input(let name, let at):
            guard let v = inputs[name] else { throw at.error("missing input '\(name)'") }
            if case .number(let x) = v, !x.isFinite { throw at.error("input '\(name)' is not a finite number") }
            return v
        case .negate(let a, let at): return .number(-(try number(eval(a), at, "unary '-'")))
        case .not(let a, let at): return .bool(!(try bool(eval(a), at, "'not'")))
        case .chain(let first, let links):
            var acc = try eval(first)
            for l in links { acc = try apply(l, acc) }
            return acc
        case .call(let f, let args, let at): return try call(f, args, at)
        }
    }

    func apply(_ l: Link, _ lhs: FormulaValue) throws(FormulaError) -> FormulaValue {
        let what = "'\(l.op)'"
        switch l.op {
        case "and", "or":
            let a = try bool(lhs, l.at, what)
            if a == (l.op == "or") { return .bool(a) }  // short-circuit
            return .bool(try bool(eval(l.rhs), l.at, what))
        case "==", "!=":
            let b = try eval(l.rhs)
            guard lhs.typeName == b.typeName else { throw l.at.error("\(what) cannot compare \(lhs.typeName) \(lhs) with \(b.typeName) \(b)") }
            return .bool((lhs == b) == (l.op == "=="))
        default: break
        }
        let x = try number(lhs, l.at, what), y = try number(eval(l.rhs), l.at, what)
        let r: Double
        switch l.op {
        case "<": return .bool(x < y)
        case "<=": return .bool(x <= y)
        case ">": return .bool(x > y)
        case ">=": return .bool(x >= y)
        case "+": r = x + y
        case "-": r = x - y
        case "*": r = x * y
        default:
            guard y != 0 else { throw l.at.error("division by zero") }
            r = x / y
        }
        guard r.isFinite else { throw l.at.error("result of \(what) is too large") }
        return .number(r)
    }

    func call(_ f: String, _ args: [Node], _ at: Pos) throws(FormulaError) -> FormulaValue {
        let what = "'\(f)'"
        switch f {
        case "if": return try eval(try bool(eval(args[0]), at, what) ? args[1] : args[2])
        case "choose":
            let i = try number(eval(args[0]), at, what)
            guard i == i.rounded(), i >= 1, i <= Double(args.count - 1) else {
                throw at.error("choose index \(fmt(i)) is out of range: expected a whole number from 1 to \(args.count - 1)")
            }
            return try eval(args[Int(i)])
        default: break
        }
        var xs: [Double] = []
        for a in args { xs.append(try number(eval(a), at, what)) }
        switch f {
        case "min": return .number(xs.min()!)
        case "max": return .number(xs.max()!)
        case "floor": return .number(xs[0].rounded(.down))
        case "ceil": return .number(xs[0].rounded(.up))
        case "clamp":
            guard xs[1] <= xs[2] else { throw at.error("'clamp' lower bound \(fmt(xs[1])) is greater than upper bound \(fmt(xs[2]))") }
            return .number(Swift.min(Swift.max(xs[0], xs[1]), xs[2]))
        default:  // round
            let d = xs.count > 1 ? xs[1] : 0
            guard d == d.rounded(), d >= 0, d <= 10 else { throw at.error("'round' digits must be a whole number from 0 to 10, got \(fmt(d))") }
            return .number(PayrollFormula.roundHalfAwayFromZero(xs[0], digits: Int(d)))
        }
    }

    func number(_ v: FormulaValue, _ at: Pos, _ what: String) throws(FormulaError) -> Double {
        if case .number(let x) = v { return x }
        throw at.error("\(what) expects a number, got \(v.typeName) \(v)")
    }

    func bool(_ v: FormulaValue, _ at: Pos, _ what: String) throws(FormulaError) -> Bool {
        if case .bool(let b) = v { return b }
        throw at.error("\(what) expects a boolean (a comparison), got \(v.typeName) \(v)")
    }
}
