import Foundation
import BusinessTime
@testable import Projections
import SupportDesk
import Testing

struct Nested: Codable, Hashable {
    var name: String
    var empty: [Int]
    var emptyNested: [[String]]
    var map: [String: [Int]]
    var intMap: [Int: String]
    var optional: String?
    var date: Date
    var numbers: [Double]
    var flag: Bool
    var big: UInt64
    var negative: Int64
    var set: Set<String>
    var last: [String: Int]  // a container as the last field
}

enum Shape: Codable, Hashable {
    case circle(radius: Double)
    case labelled(String, tags: [String])
    case none
}

@Suite("CompactCoding")
struct CompactCodingTests {
    let sample = Nested(name: "Тест ✓", empty: [], emptyNested: [[], ["a"], []], map: ["x": [], "y": [1, -2]],
                        intMap: [3: "three", -1: "minus"], optional: nil, date: Date(timeIntervalSince1970: 1_772_431_200.123456),
                        numbers: [0, -0.5, .greatestFiniteMagnitude], flag: true, big: .max, negative: .min, set: ["b", "a"], last: [:])

    @Test("values round-trip exactly, including empty and nested containers and a container as the last field")
    func roundTrip() throws {
        let bytes = try CompactCoding.encode(sample)
        #expect(bytes.first == CompactCoding.marker)
        #expect(try CompactCoding.decode(Nested.self, from: bytes) == sample)
        for shape in [Shape.circle(radius: 2.5), .labelled("x", tags: []), .none] {
            #expect(try CompactCoding.decode(Shape.self, from: try CompactCoding.encode(shape)) == shape)
        }
        #expect(try CompactCoding.decode([Shape].self, from: try CompactCoding.encode([Shape]())) == [])
    }

    @Test("a new optional field decodes as nil from older payloads; a missing required one is an error")
    func evolution() throws {
        struct Old: Codable { var a: Int }
        struct New: Codable, Equatable { var a: Int; var b: String? }
        struct Required: Codable { var a: Int; var c: String }
        let old = try CompactCoding.encode(Old(a: 7))
        #expect(try CompactCoding.decode(New.self, from: old) == New(a: 7, b: nil))
        #expect(throws: DecodingError.self) { try CompactCoding.decode(Required.self, from: old) }
        #expect(throws: DecodingError.self) { try CompactCoding.decode(Old.self, from: try CompactCoding.encode("text")) }
    }

    @Test("truncated or damaged payloads throw; they never crash (bounded fuzz)")
    func fuzz() throws {
        let bytes = try CompactCoding.encode(sample)
        for n in 0..<bytes.count {
            #expect(throws: (any Error).self) { try CompactCoding.decode(Nested.self, from: Array(bytes.prefix(n))) }
        }
        var rng = SystemRandomNumberGenerator()
        var decodedSome = 0
        for _ in 0..<3000 {
            var b = bytes
            for _ in 0..<(1 + Int.random(in: 0..<4, using: &rng)) {
                b[Int.random(in: 1..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if (try? CompactCoding.decode(Nested.self, from: b)) != nil { decodedSome += 1 }
        }
        #expect(decodedSome < 3000)
    }
}

@Suite("CSV")
struct CSVTests {
    @Test("fields with commas, quotes or line breaks are quoted; amounts have two decimals")
    func quoting() {
        #expect(CSV.field("plain") == "plain")
        #expect(CSV.field("a,b") == "\"a,b\"")
        #expect(CSV.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSV.field("two\nlines") == "\"two\nlines\"")
        #expect(CSV.money(1234.5) == "1234.50")
        let line = PayrollLine(staff: "anna", name: "Кузнецова, Анна", evaluations: 2, evaluationAmount: 10.5, minutes: 0, hourlyAmount: 0, total: 10.5)
        let text = CSV.payroll(PayrollReport(from: LocalDate(year: 2026, month: 1, day: 1), to: LocalDate(year: 2026, month: 1, day: 31),
                                             formula: "v1", lines: [line], total: 10.5))
        #expect(text == "staff,name,evaluations,evaluation_amount,minutes,hourly_amount,total\nanna,\"Кузнецова, Анна\",2,10.50,0,0.00,10.50\n")
    }
}
