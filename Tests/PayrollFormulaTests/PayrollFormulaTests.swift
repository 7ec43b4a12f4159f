import PayrollFormula
import Testing

let example = """
    # Payroll formula, version of March
    rate.hourly.default = 900          # per hour of logged time, in roubles
    rate.hourly["dev-anna"] = 1200     # per staff member override (staff id as string key)
    base = choose(kind, 60, 90, 150, 250, 400)       # kind is 1…5
    volume_factor = if(volume == "long", 1.4, 1.0)
    extras = links * 10 + screenshots * 15
    help_factor = choose(help, 1.0, 0.7, 0.4)        # 1 = alone, 2 = some help, 3 = mostly helped
    amount = round((base * volume_factor + extras) * help_factor, 2)
    """

func evaluation(_ kind: Int, _ volume: String, _ links: Int, _ screenshots: Int, _ help: Int) -> [String: FormulaValue] {
    ["kind": .number(Double(kind)), "volume": .string(volume), "links": .number(Double(links)),
     "screenshots": .number(Double(screenshots)), "help": .number(Double(help))]
}

/// Value of `expr` evaluated as the first definition of a tiny document.
func value(_ expr: String, _ inputs: [String: FormulaValue] = [:]) throws -> FormulaValue {
    try PayrollFormula(source: "probe = \(expr)\namount = 0").explain(inputs)[0].value
}

/// The error from parsing `doc` and evaluating its amount, or nil.
func failure(_ doc: String, _ inputs: [String: FormulaValue] = [:]) -> FormulaError? {
    do throws(FormulaError) {
        _ = try PayrollFormula(source: doc).amount(inputs)
        return nil
    } catch {
        return error
    }
}

@Suite struct ExampleDocument {
    let f: PayrollFormula
    init() throws { f = try PayrollFormula(source: example) }

    @Test func inputsAreInferred() {
        #expect(f.inputs == ["kind", "volume", "links", "screenshots", "help"])
    }

    // Results are compared with exact literals: without round(…, 2) several of them would be
    // off in the last binary digit (e.g. 151 * 0.7 = 105.69999999999999).
    @Test(arguments: [
        // kind 3 → 150; long → ×1.4 = 210; extras 2·10 + 1·15 = 35; alone ×1.0 → 245
        (evaluation(3, "long", 2, 1, 1), 245.0),
        // kind 5 → 400; short → ×1.0 = 400; extras 0 + 4·15 = 60; some help ×0.7 → 460·0.7 = 322
        (evaluation(5, "short", 0, 4, 2), 322.0),
        // kind 1 → 60; long → 84; extras 3·10 = 30; mostly helped ×0.4 → 114·0.4 = 45.6
        (evaluation(1, "long", 3, 0, 3), 45.6),
        // kind 2 → 90; long → 126; extras 10 + 15 = 25; ×0.7 → 151·0.7 = 105.7
        (evaluation(2, "long", 1, 1, 2), 105.7),
        // kind 4 → 250; long → 350; extras 15; ×0.7 → 365·0.7 = 255.5
        (evaluation(4, "long", 0, 1, 2), 255.5),
        // kind 4 → 250; "medium" is not "long" → ×1.0; extras 70 + 45 = 115; ×0.4 → 365·0.4 = 146
        (evaluation(4, "medium", 7, 3, 3), 146.0),
    ])
    func handWorked(inputs: [String: FormulaValue], expected: Double) throws {
        #expect(try f.amount(inputs) == expected)
    }

    @Test func explainListsEveryDefinitionInOrder() throws {
        let rows = try f.explain(evaluation(2, "long", 1, 1, 2))
        #expect(rows.map(\.name) == ["rate.hourly.default", "rate.hourly[\"dev-anna\"]", "base", "volume_factor",
                                     "extras", "help_factor", "amount"])
        #expect(rows.map(\.value) == [900, 1200, 90, 1.4, 25, 0.7, 105.7])
    }

    @Test func hourlyRates() throws {
        #expect(try f.hourlyRate(staffId: "dev-anna") == 1200)
        #expect(try f.hourlyRate(staffId: "dev-bob") == 900)
        #expect(try f.hourlyRate(staffId: "") == 900)
    }

    @Test func aNewVersionChangesResultsWithoutCode() throws {
        let april = try PayrollFormula(source: example.replacingOccurrences(of: "0.7, 0.4", with: "0.8, 0.5"))
        #expect(try april.amount(evaluation(2, "long", 1, 1, 2)) == 120.8)  // 151·0.8
        #expect(april != f)
    }
}

extension String {
    func replacingOccurrences(of a: String, with b: String) -> String { split(separator: a, omittingEmptySubsequences: false).joined(separator: b) }
}

@Test func hourlyRateVariants() throws {
    #expect(try PayrollFormula(source: "amount = 1").hourlyRate(staffId: "x") == 0)
    let onlyOverride = try PayrollFormula(source: "rate.hourly[\"a\"] = 1000\namount = 1")
    #expect(try onlyOverride.hourlyRate(staffId: "a") == 1000)
    #expect(try onlyOverride.hourlyRate(staffId: "b") == 0)
    let derived = try PayrollFormula(source: "rate.hourly.default = 900\nrate.hourly[\"lead\"] = rate.hourly.default * 1.5\namount = 1")
    #expect(try derived.hourlyRate(staffId: "lead") == 1350)
    let bad = try PayrollFormula(source: "rate.hourly.default = kind * 2\namount = 1")
    #expect(throws: FormulaError(line: 1, column: 23, message: "missing input 'kind'")) { try bad.hourlyRate(staffId: "a") }
}

@Test(arguments: [
    ("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("10 - 4 - 3", 3), ("100 / 10 / 5", 2), ("2 * 3 / 4", 1.5),
    ("-2 * 3", -6), ("2 * -3", -6), ("- - 2", 2), ("2 - -2", 4), ("-(1 + 2) * 2", -6), ("8 - 2 * 3 + 1", 3),
    ("1 + 2 == 3", true), ("1 < 2 and 2 < 1 or 3 == 3", true), ("1 < 2 or 2 < 1 and 3 == 4", true),
    ("not 1 == 1 or 1 == 1", true), ("not (1 == 1 or 1 == 1)", false), ("2 * 3 >= 6", true), ("1 != 1", false),
    ("\"long\" == \"long\"", true), ("\"a\\\"b\" != \"a\"", true),
    ("min(3, 1, 2)", 1), ("max(3, 1, 2)", 3), ("floor(-1.5)", -2), ("ceil(1.2)", 2), ("clamp(15, 0, 10)", 10),
    ("clamp(-1, 0, 10)", 0), ("clamp(5, 0, 10)", 5), ("choose(2, \"a\", \"b\")", "b"), ("if(1 > 2, 1, 2)", 2),
    ("round(2.5)", 3), ("round(-2.5)", -3), ("round(1.005, 2)", 1.01), ("round(2.675, 2)", 2.68),
    ("round(1234.5678, 2)", 1234.57), ("round(-0.004, 2)", 0), ("round(0.125, 2)", 0.13), ("round(-1.005, 2)", -1.01),
    ("round(0.1 + 0.2, 2)", 0.3), ("1.25 * 4", 5),
] as [(String, FormulaValue)])
func expressions(expr: String, expected: FormulaValue) throws {
    #expect(try value(expr) == expected)
}

@Test func lazinessAndContinuationLines() throws {
    #expect(try value("if(x == 0, 0, 1 / x)", ["x": 0]) == 0)
    #expect(try value("x == 0 or 1 / x > 1", ["x": 0]) == true)
    #expect(try value("x != 0 and 1 / x > 1", ["x": 0]) == false)
    #expect(try value("choose(1, 5, 1 / 0)") == 5)
    // an unused failing definition does not break amount, but explain reports it
    let f = try PayrollFormula(source: "d = 1 / x\nunused = nothing * 2\namount = if(x == 0, 0, d)")
    #expect(f.inputs == ["x", "nothing"])
    #expect(try f.amount(["x": 0]) == 0)
    #expect(try f.amount(["x": 4]) == 0.25)
    #expect(throws: FormulaError(line: 1, column: 7, message: "division by zero")) { try f.explain(["x": 0]) }
    // a newline inside parentheses continues the definition
    #expect(try PayrollFormula(source: "amount = max(\n  1,   # first\n  2\n)\n").amount([:]) == 2)
}

@Test func largeButLegalDocuments() throws {
    let sum = "amount = " + Array(repeating: "1", count: 30_000).joined(separator: "+")
    #expect(try PayrollFormula(source: sum).amount([:]) == 30_000)
    var lines = ["v0 = 0"]
    for i in 1..<3_000 { lines.append("v\(i) = v\(i - 1) + 1") }
    lines.append("amount = v2999")
    #expect(try PayrollFormula(source: lines.joined(separator: "\n")).amount([:]) == 2_999)
    let deep = "amount = " + String(repeating: "(", count: 199) + "1" + String(repeating: ")", count: 199)
    #expect(try PayrollFormula(source: deep).amount([:]) == 1)
    let deepCalls = "amount = " + String(repeating: "max(-", count: 99) + "1" + String(repeating: ")", count: 99)
    #expect(try PayrollFormula(source: deepCalls).amount([:]) == -1)
}

struct ErrorCase: Sendable, CustomTestStringConvertible {
    var doc: String, inputs: [String: FormulaValue] = [:], line: Int, column: Int, fragment: String
    var testDescription: String { fragment }
}

@Test(arguments: [
    ErrorCase(doc: "a = 1\namount = rate.hourly.defualt + a", line: 2, column: 10, fragment: "unknown name 'rate.hourly.defualt'"),
    ErrorCase(doc: "amount = rate.hourly[\"bob\"]", line: 1, column: 10, fragment: "unknown name 'rate.hourly[\"bob\"]'"),
    ErrorCase(doc: "amount = pow(2, 3)", line: 1, column: 10, fragment: "unknown function 'pow'"),
    ErrorCase(doc: "base = 1\nbase = 2\namount = base", line: 2, column: 1, fragment: "'base' is already defined on line 1"),
    ErrorCase(doc: "amount = base * 2\nbase = 10", line: 1, column: 10, fragment: "'base' is defined later, on line 2"),
    ErrorCase(doc: "amount = amount + 1", line: 1, column: 10, fragment: "refers to itself"),
    ErrorCase(doc: "base = 1\n# no amount", line: 0, column: 0, fragment: "must define 'amount'"),
    ErrorCase(doc: "amount = links @ 2", line: 1, column: 16, fragment: "unexpected character '@'"),
    ErrorCase(doc: "x = 1\namount = if(volume == \"long, 1, 2)", line: 2, column: 23, fragment: "unterminated string"),
    ErrorCase(doc: "amount = \"a\\q\"", line: 1, column: 12, fragment: "unknown escape"),
    ErrorCase(doc: "amount = 1.", line: 1, column: 10, fragment: "malformed number"),
    ErrorCase(doc: "amount = 1 +", line: 1, column: 13, fragment: "expected an expression, found end of document"),
    ErrorCase(doc: "amount = (1 + 2", line: 1, column: 16, fragment: "expected ')', found end of document"),
    ErrorCase(doc: "amount = 1 2", line: 1, column: 12, fragment: "unexpected number 2 after the expression"),
    ErrorCase(doc: "5 = 1", line: 1, column: 1, fragment: "expected a name at the start of a definition"),
    ErrorCase(doc: "amount 1", line: 1, column: 8, fragment: "expected '=' after 'amount'"),
    ErrorCase(doc: "amount = if(1 < 2 < 3, 1, 0)", line: 1, column: 19, fragment: "cannot be chained"),
    ErrorCase(doc: "amount = round(1, 2, 3)", line: 1, column: 10, fragment: "'round' expects 1 or 2 arguments, got 3"),
    ErrorCase(doc: "amount = choose(kind, 1, 2)", inputs: ["kind": 3], line: 1, column: 10, fragment: "choose index 3 is out of range"),
    ErrorCase(doc: "amount = choose(kind, 1, 2)", inputs: ["kind": 1.5], line: 1, column: 10, fragment: "choose index 1.5 is out of range"),
    ErrorCase(doc: "amount = links * 2", inputs: ["links": "many"], line: 1, column: 16, fragment: "'*' expects a number, got string \"many\""),
    ErrorCase(doc: "amount = if(volume == 1, 1, 2)", inputs: ["volume": "long"], line: 1, column: 20, fragment: "cannot compare string \"long\" with number 1"),
    ErrorCase(doc: "amount = if(kind, 1, 2)", inputs: ["kind": 1], line: 1, column: 10, fragment: "'if' expects a boolean"),
    ErrorCase(doc: "amount = \"x\"", line: 1, column: 1, fragment: "'amount' must be a number, got string"),
    ErrorCase(doc: "amount = 100 / (links - 2)", inputs: ["links": 2], line: 1, column: 14, fragment: "division by zero"),
    ErrorCase(doc: "ratio = 1 / links\namount = ratio + 1", inputs: ["links": 0], line: 1, column: 11, fragment: "division by zero"),
    ErrorCase(doc: "amount = kind * 2", line: 1, column: 10, fragment: "missing input 'kind'"),
    ErrorCase(doc: "amount = round(x, 2.5)", inputs: ["x": 1], line: 1, column: 10, fragment: "'round' digits must be"),
    ErrorCase(doc: "amount = clamp(1, 5, 0)", line: 1, column: 10, fragment: "lower bound 5 is greater"),
    ErrorCase(doc: "amount = " + String(repeating: "9", count: 400), line: 1, column: 10, fragment: "number is too large"),
    ErrorCase(doc: "amount = 1" + String(repeating: "0", count: 300) + " * 1" + String(repeating: "0", count: 300),
              line: 1, column: 312, fragment: "result of '*' is too large"),
    ErrorCase(doc: "amount = " + String(repeating: "(", count: 200) + "1" + String(repeating: ")", count: 200),
              line: 1, column: 210, fragment: "nested too deeply"),
    ErrorCase(doc: "amount = " + String(repeating: "-", count: 300) + "1", line: 1, column: 210, fragment: "nested too deeply"),
    ErrorCase(doc: "amount = " + String(repeating: "not ", count: 5_000) + "1", line: 1, column: 810, fragment: "nested too deeply"),
    ErrorCase(doc: "amount = 1\n" + String(repeating: "#", count: 70_000), line: 0, column: 0, fragment: "larger than 64 KiB"),
])
func errors(_ c: ErrorCase) throws {
    let e = try #require(failure(c.doc, c.inputs))
    #expect(e.message.contains(c.fragment), "\(e)")
    #expect((e.line, e.column) == (c.line, c.column), "\(e)")
}

@Test func errorDescription() {
    #expect(FormulaError(line: 2, column: 10, message: "division by zero").description == "line 2, column 10: division by zero")
    #expect(FormulaError(line: 0, column: 0, message: "the formula must define 'amount'").description == "the formula must define 'amount'")
    #expect(failure("amount = 1 / 0")?.description == "line 1, column 12: division by zero")
}

// MARK: - Fuzzing

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Parses and (if it parses) evaluates with random inputs; checks errors are well-formed.
/// Returns whether the document parsed.
func exercise(_ src: String, _ rng: inout SplitMix64) -> Bool {
    let lines = src.unicodeScalars.filter { $0 == "\n" }.count + 1
    do throws(FormulaError) {
        let f = try PayrollFormula(source: src)
        var inputs: [String: FormulaValue] = [:]
        for name in f.inputs {
            inputs[name] = [FormulaValue.number(Double(Int.random(in: -1...6, using: &rng))), "long", true][Int.random(in: 0...2, using: &rng)]
        }
        _ = try? f.amount(inputs)
        _ = try? f.explain(inputs)
        _ = try? f.hourlyRate(staffId: "a")
        return true
    } catch {
        #expect(error.line >= 0 && error.line <= lines && error.column >= 0 && !error.message.isEmpty, "\(error)")
        return false
    }
}

@Test func fuzzRandomBytesNeverCrash() {
    var rng = SplitMix64(state: 20_240_601)
    for _ in 0..<2_000 {
        let n = Int.random(in: 0...160, using: &rng)
        let ascii = Bool.random(using: &rng)
        let bytes = (0..<n).map { _ in ascii ? UInt8.random(in: 9...126, using: &rng) : UInt8.random(in: 0...255, using: &rng) }
        _ = exercise(String(decoding: bytes, as: UTF8.self), &rng)
    }
}

@Test func fuzzTokenSoupNeverCrashes() {
    let vocabulary = ["amount", "=", "(", ")", "[", "]", ",", "choose", "if", "min", "max", "round", "floor", "ceil", "clamp",
                      "1", "2.5", "0", "\"long\"", "\"", "kind", "x", "y", "rate.hourly", "rate.hourly.default", "+", "-",
                      "*", "/", "==", "!=", "<", ">=", "and", "or", "not", "\n", "#", "\n y =", "\n amount =", "."]
    var rng = SplitMix64(state: 42)
    var parsed = 0
    for _ in 0..<2_000 {
        let count = Int.random(in: 0...30, using: &rng)
        let soup = (0..<count).map { _ in vocabulary.randomElement(using: &rng)! }.joined(separator: Bool.random(using: &rng) ? " " : "")
        if exercise((Bool.random(using: &rng) ? "amount = " : "") + soup, &rng) { parsed += 1 }
    }
    #expect(parsed > 20)  // the soup does reach the evaluator, not just the lexer
}
