import BusinessTime
import EventLog
import Foundation
import SupportDesk

// Rows of payroll entries and outbox entries, positional like ticket rows (`DeskView.TicketRow`):
// fields in a fixed order after a format byte, no names. Keyed `CompactCoding` spent a 5M-event
// rebuild's writer over a second on these small rows' field names. A row that is short, too long
// or malformed throws `CorruptPositional`. Rows are a cache of the log: changing a format bumps
// the projection's `codeVersion`, which rebuilds its rows at start.

extension PositionalWriter {
    mutating func optionalString(_ s: String?) {
        if let s { byte(1); string(s) } else { byte(0) }
    }
}

extension PositionalReader {
    mutating func optionalString() throws -> String? {
        switch try byte() {
        case 0: return nil
        case 1: return try string()
        default: throw CorruptPositional(at: at - 1)
        }
    }

    /// One of `cases`, written as its index.
    mutating func oneOf<T>(_ cases: [T]) throws -> T {
        let i = Int(try byte())
        guard i < cases.count else { throw CorruptPositional(at: at - 1) }
        return cases[i]
    }

    /// Reads a whole row: its format byte, then `body`, then nothing more.
    static func row<T>(_ bytes: UnsafeRawBufferPointer, format: UInt8, _ body: (inout PositionalReader) throws -> T) throws -> T {
        var r = PositionalReader(bytes)
        guard try r.byte() == format else { throw CorruptPositional(at: 0) }
        let value = try body(&r)
        guard r.isAtEnd else { throw CorruptPositional(at: r.at) }
        return value
    }
}

extension LogWriter {
    /// Puts the positional row `write` makes under `key`, built in `buffer` (reused from row to row:
    /// its capacity stays).
    func put(_ key: [UInt8], in database: String, buffer: inout PositionalWriter,
             row write: (inout PositionalWriter) -> Void) throws {
        buffer.bytes.removeAll(keepingCapacity: true)
        write(&buffer)
        try put(key, buffer.bytes, in: database)
    }
}

extension EvaluationEntry {
    static let rowFormat: UInt8 = 0xE1
    static let volumes = AnswerVolume.allCases

    func writeRow(into w: inout PositionalWriter) {
        w.byte(Self.rowFormat)
        w.uint(sequence)
        w.int(ticket)
        w.string(staff)
        w.int(evaluation.kind)
        w.byte(UInt8(Self.volumes.firstIndex(of: evaluation.volume)!))
        w.int(evaluation.links)
        w.int(evaluation.screenshots)
        w.int(evaluation.help)
        w.date(at)
    }

    init(row bytes: UnsafeRawBufferPointer) throws {
        self = try PositionalReader.row(bytes, format: Self.rowFormat) { r in
            EvaluationEntry(sequence: try r.uint(), ticket: try r.int(), staff: try r.string(),
                            evaluation: AnswerEvaluation(kind: try r.int(), volume: try r.oneOf(Self.volumes), links: try r.int(),
                                                         screenshots: try r.int(), help: try r.int()),
                            at: try r.date())
        }
    }
}

extension TimeEntry {
    static let rowFormat: UInt8 = 0xE2

    func writeRow(into w: inout PositionalWriter) {
        w.byte(Self.rowFormat)
        w.uint(sequence)
        w.int(ticket)
        w.string(staff)
        w.int(minutes)
        w.int(on.year)
        w.int(on.month)
        w.int(on.day)
    }

    init(row bytes: UnsafeRawBufferPointer) throws {
        self = try PositionalReader.row(bytes, format: Self.rowFormat) { r in
            TimeEntry(sequence: try r.uint(), ticket: try r.int(), staff: try r.string(), minutes: try r.int(),
                      on: LocalDate(year: try r.int(), month: try r.int(), day: try r.int()))
        }
    }
}

extension Outbox.Entry {
    static let rowFormat: UInt8 = 0xE3
    static let statuses = Outbox.Status.allCases

    func writeRow(into w: inout PositionalWriter) {
        w.byte(Self.rowFormat)
        w.int(ticket)
        w.int(comment)
        w.string(contact)
        w.date(createdAt)
        w.byte(UInt8(Self.statuses.firstIndex(of: status)!))
        w.int(attempts)
        w.date(nextAttemptAt)
        w.optionalString(lastError)
    }

    init(row bytes: UnsafeRawBufferPointer) throws {
        self = try PositionalReader.row(bytes, format: Self.rowFormat) { r in
            Outbox.Entry(ticket: try r.int(), comment: try r.int(), contact: try r.string(), createdAt: try r.date(),
                         status: try r.oneOf(Self.statuses), attempts: try r.int(), nextAttemptAt: try r.date(),
                         lastError: try r.optionalString())
        }
    }
}
