import EventLog
import Foundation
import SupportDesk
import Testing
@testable import DeskEngine

/// The history generator is a deterministic function of its options.
@Suite struct GeneratorTests {
    struct Fact: Hashable {
        var stream: String
        var type: String
        var payload: [UInt8]
        var timestampMicros: Int64
    }

    func generate(tickets: Int, seed: UInt64) async throws -> (HistoryGenerator.Summary, [Fact], MemoryEventStore) {
        let store = MemoryEventStore()
        let p = try CommandProcessor(store: store)
        let summary = try await HistoryGenerator(.init(tickets: tickets, seed: seed)).run(on: p)
        let facts = try allRecords(store).map { Fact(stream: $0.stream, type: $0.type, payload: $0.payload, timestampMicros: $0.timestampMicros) }
        return (summary, facts, store)
    }

    @Test func sameSeedSameHistory() async throws {
        let (s1, a, storeA) = try await generate(tickets: 120, seed: 11)
        let (s2, b, storeB) = try await generate(tickets: 120, seed: 11)
        #expect(s1 == s2)
        #expect(a.count == b.count)
        #expect(a.count > 1000)
        // The same events, in the same order, on the same streams, at the same times.
        let da = try allRecords(storeA).map { ($0.stream, $0.type, $0.timestampMicros, try decode($0)) }
        let db = try allRecords(storeB).map { ($0.stream, $0.type, $0.timestampMicros, try decode($0)) }
        #expect(da.count == db.count)
        for (x, y) in zip(da, db) where x != y {
            Issue.record("\(x.1) on \(x.0) differs: \(x.3) vs. \(y.3)")
            break
        }
        // And the same bytes. Known issue: `BusinessCalendar.holidays` is a `Set` (and
        // `extraWorkingDays` a `Dictionary`), encoded in the iteration order of the instance, which
        // differs between two equal sets; so the `CalendarDefined` payload of the Moscow calendar
        // (four holidays) is not canonical and two runs write different bytes (and hash chains).
        for (i, (x, y)) in zip(a, b).enumerated() where x != y {
            Issue.record("record \(i + 1) differs in its bytes: \(x.type) on \(x.stream)")
        }
        let byteForByte = zip(a, b).filter { $0.0 != $0.1 }.map(\.0.type)
        #expect(Set(byteForByte).isSubset(of: [CalendarDefined.type]), "only calendars may differ: \(byteForByte)")

        let (_, c, _) = try await generate(tickets: 120, seed: 12)
        #expect(a != c)
        #expect(Set(a.map(\.payload)) != Set(c.map(\.payload)))
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func noRefusals(seed: UInt64) async throws {
        let (summary, facts, store) = try await generate(tickets: 300, seed: seed)
        #expect(summary.refused == 0, "\(summary.firstRefusals)")
        #expect(summary.firstRefusals.isEmpty)
        #expect(summary.ticketsOpened == 300)
        #expect(summary.escalations > 0)
        #expect(summary.commands > 300 * 3)
        // Every record decodes, and the opened tickets are the first 300 numbers (splits come after).
        let state = try replay(store)
        #expect(state.lastTicketNumber >= 300)
        #expect(state.tickets.count == state.lastTicketNumber)
        #expect(facts.filter { $0.type == TicketEscalated.type }.count == summary.escalations)
        #expect(state.tickets.values.filter { $0.origin == nil }.count == 300)
    }
}
