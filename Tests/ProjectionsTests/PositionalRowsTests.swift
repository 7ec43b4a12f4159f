import BusinessTime
import Foundation
import Testing
@testable import Projections
@testable import SupportDesk

/// Payroll and outbox rows (`PositionalRows.swift`): every field comes back; a damaged row throws.
@Suite("Positional rows")
struct PositionalRowsTests {
    static func bytes(_ write: (inout PositionalWriter) -> Void) -> [UInt8] {
        var w = PositionalWriter()
        write(&w)
        return w.bytes
    }

    static func read<T>(_ bytes: [UInt8], _ make: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        try bytes.withUnsafeBytes { try make($0) }
    }

    /// Every truncation, an extra byte, and a wrong format byte throw (and never crash).
    static func expectDamagedThrow<T>(_ row: [UInt8], _ make: (UnsafeRawBufferPointer) throws -> T) {
        for n in 0..<row.count {
            #expect(throws: CorruptPositional.self) { try read(Array(row[..<n]), make) }
        }
        #expect(throws: CorruptPositional.self) { try read(row + [0], make) }
        #expect(throws: CorruptPositional.self) { try read([row[0] ^ 0xFF] + row.dropFirst(), make) }
    }

    @Test("evaluation and time entries round-trip, and damaged rows throw")
    func payrollRows() throws {
        var rng = SystemRandomNumberGenerator()
        for i in 0..<200 {
            let e = EvaluationEntry(sequence: UInt64.random(in: 0...UInt64.max, using: &rng), ticket: Int.random(in: -5...Int.max, using: &rng),
                                    staff: i % 2 == 0 ? "anna" : "сотрудник-\(i)",
                                    evaluation: AnswerEvaluation(kind: Int.random(in: 1...5, using: &rng), volume: i % 3 == 0 ? .long : .short,
                                                                 links: Int.random(in: 0...50, using: &rng), screenshots: i, help: Int.random(in: 1...3, using: &rng)),
                                    at: Date(timeIntervalSinceReferenceDate: Double.random(in: -1e9...1e9, using: &rng)))
            let row = Self.bytes { e.writeRow(into: &$0) }
            #expect(try Self.read(row, EvaluationEntry.init(row:)) == e)
            let t = TimeEntry(sequence: UInt64(i), ticket: i * 7, staff: "dev\(i)", minutes: Int.random(in: -10...10_000, using: &rng),
                              on: LocalDate(year: 2020 + i % 10, month: 1 + i % 12, day: 1 + i % 28))
            let trow = Self.bytes { t.writeRow(into: &$0) }
            #expect(try Self.read(trow, TimeEntry.init(row:)) == t)
            if i == 0 {
                Self.expectDamagedThrow(row, EvaluationEntry.init(row:))
                Self.expectDamagedThrow(trow, TimeEntry.init(row:))
            }
        }
    }

    @Test("outbox entries round-trip in every status, with and without an error, and damaged rows throw")
    func outboxRows() throws {
        for (i, status) in Outbox.Entry.statuses.enumerated() {
            for lastError in [nil, "550 mailbox unavailable — «почта»"] {
                let e = Outbox.Entry(ticket: 1_000 + i, comment: i + 2, contact: "contact-\(i)", createdAt: Date(timeIntervalSinceReferenceDate: 812_345_678.25),
                                     status: status, attempts: i * 3, nextAttemptAt: Date(timeIntervalSinceReferenceDate: 812_349_999.5), lastError: lastError)
                let row = Self.bytes { e.writeRow(into: &$0) }
                #expect(try Self.read(row, Outbox.Entry.init(row:)) == e)
                Self.expectDamagedThrow(row, Outbox.Entry.init(row:))
            }
        }
    }
}
