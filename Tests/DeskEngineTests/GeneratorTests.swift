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
        let (s1, a, _) = try await generate(tickets: 120, seed: 11)
        let (s2, b, _) = try await generate(tickets: 120, seed: 11)
        #expect(s1 == s2)
        #expect(a.count == b.count)
        #expect(a.count > 1000)
        if let i = a.indices.first(where: { $0 < b.count && a[$0] != b[$0] }) {
            Issue.record("record \(i + 1) differs: \(a[i].type) on \(a[i].stream) vs. \(b[i].type) on \(b[i].stream)")
        }
        #expect(a == b)
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
