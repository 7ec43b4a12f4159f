import BusinessTime
import DeskEngine
@testable import DeskServer
import EventLog
import Foundation
@testable import Projections
@testable import SupportDesk
import Testing

/// `FastJSON` must give exactly the bytes `JSONEncoder` gives in the API's configuration.
@Suite("FastJSON: the API's JSON, byte for byte as JSONEncoder")
struct FastJSONTests {
    func same<T: Encodable>(_ value: T, _ label: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = Array(try foundationEncoder().encode(value))
        let fast = try FastJSON.encode(value)
        #expect(fast == expected, "\(label()): fast \(String(decoding: fast.prefix(300), as: UTF8.self)) ≠ \(String(decoding: expected.prefix(300), as: UTF8.self))",
                sourceLocation: sourceLocation)
    }

    @Test("every read model of a generated desk: ticket details, feeds, client views, reports, the account")
    func generatedDesk() async throws {
        let store = MemoryEventStore()
        let clock = ManualClock(Date(timeIntervalSince1970: 1_772_431_200))
        let processor = try CommandProcessor(store: store, clock: clock)
        let summary = try await HistoryGenerator(.init(tickets: 150, seed: 11)).run(on: processor)
        #expect(summary.ticketsOpened == 150)
        let view = DeskView()
        let runner = ProjectionRunner(store: store, projections: [view])
        try await runner.prepare()
        let now = clock.now()
        let state = view.read { $0.state }
        var details = 0
        for n in 1...view.lastTicketNumber {
            if let d = view.ticketDetail(n, now: now) {
                try same(d, "ticket \(n)")
                // The route's way: the ticket rendered on its own (kept by ReadCache), the rest around it.
                let expected = Array(try foundationEncoder().encode(d))
                #expect(try d.json(ticketJSON: try encodeJSON(d.ticket)) == expected, "detail of ticket \(n) around its rendered ticket")
                var bare = d
                (bare.activity, bare.organisationName, bare.tierName) = (nil, nil, nil)
                #expect(try bare.json(ticketJSON: try encodeJSON(bare.ticket)) == Array(try foundationEncoder().encode(bare)), "ticket \(n) without the optionals")
                details += 1
            }
        }
        #expect(details == view.lastTicketNumber)
        for staff in state.account.staff.keys.sorted() {
            try same(view.staffFeed(staff: staff, now: now, limit: 50), "feed of \(staff)")
            var mine = FeedFilter()
            mine.mine = true
            try same(view.staffFeed(staff: staff, filter: mine, now: now, limit: 20), "mine of \(staff)")
        }
        for contact in state.contacts.keys.sorted().prefix(40) {
            try same(view.clientTickets(contact: contact), "client view of \(contact)")
        }
        try same(state.account, "account (calendars use a nested container)")
        try same(Array(state.organisations.values.sorted { $0.id < $1.id }), "organisations")
        let from = LocalDate(year: 2026, month: 1, day: 1), to = LocalDate(year: 2026, month: 12, day: 31)
        try same(try view.payroll(from: from, to: to, formula: .inForce), "payroll")
        try same(view.sla(from: from, to: to), "sla")
        try same(view.load(from: from, to: to), "load")
        let outcome = try await processor.execute(Command(actor: .staff("olga"), .createOrganisation(id: "fastjson", name: "Fast \"JSON\" / Ltd", tierId: nil, domains: [])))
        try same(outcome, "command outcome")
    }

    @Test("a ticket's JSON lists its participants and co-executors sorted: the same version gives the same bytes in any process")
    func setsSorted() throws {
        let staff = (0..<12).map { "staff\($0)" }
        var a = Set<String>(), b = Set<String>(minimumCapacity: 200)
        for s in staff { a.insert(s) }
        for s in staff.reversed() { b.insert(s) }
        try #require(a == b && Array(a) != Array(b), "two equal sets that iterate differently")
        var t1 = TicketState(number: 7, channel: .portal, subject: "Sets", contact: "c", organisation: nil, language: "en",
                             openedAt: Date(timeIntervalSince1970: 1_780_000_000), premium: false, participants: a)
        t1.coExecutors = a
        var t2 = t1
        t2.participants = b
        t2.coExecutors = b
        let j1 = try encodeJSON(t1), j2 = try encodeJSON(t2)
        let viaFoundation = Array(try foundationEncoder().encode(t2))
        #expect(j1 == j2 && j1 == viaFoundation)
        #expect(String(decoding: j1, as: UTF8.self).contains(#""participants":["staff0","staff1","staff10","staff11","staff2""#))
        let (c1, c2) = (try CompactCoding.encode(t1), try CompactCoding.encode(t2))
        #expect(c1 == c2)
        #expect(try CompactCoding.decode(TicketState.self, from: c2) == t1)
    }

    struct Sample: Codable {
        var text: String
        var optional: String?
        var number: Double
        var float: Float
        var int: Int
        var small: Int8
        var big: UInt64
        var flag: Bool
        var when: Date
        var list: [String?]
        var byName: [String: Int]
        var byNumber: [Int: String]
        var nested: [Sample]
        var unkeyed: Inner
    }

    /// Mixes nested keyed and unkeyed containers, written out of key order, with the parent written
    /// to after its nested containers.
    struct Inner: Codable, Equatable {
        var a: Int
        var b: [Double]
        enum K: String, CodingKey { case zeta, alpha, mid }
        enum N: String, CodingKey { case y, x }
        init(a: Int, b: [Double]) { self.a = a; self.b = b }
        init(from decoder: any Decoder) throws { a = 0; b = [] }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode(a, forKey: .zeta)
            var n = c.nestedContainer(keyedBy: N.self, forKey: .mid)
            try n.encode("y", forKey: .y)
            var u = n.nestedUnkeyedContainer(forKey: .x)
            for d in b { try u.encode(d) }
            var inner = u.nestedContainer(keyedBy: N.self)
            try inner.encode(true, forKey: .x)
            try c.encode(b.count, forKey: .alpha)
        }
    }

    static func text(_ r: inout SplitMix64) -> String {
        // Control characters, quotes, backslashes, slashes, Cyrillic, line separators, emoji.
        let pool: [String] = ["\u{0}", "\u{1}", "\u{8}", "\t", "\n", "\u{b}", "\u{c}", "\r", "\u{1f}", "\u{7f}", "\"", "\\", "/",
                              "a", "Z", " ", "é", "Ж", "я", "\u{2028}", "\u{2029}", "\u{feff}", "😀", "👩‍💻", "e\u{301}", "<", "&"]
        return String((0..<r.int(12)).map { _ in pool[r.int(pool.count)] }.joined())
    }

    static func number(_ r: inout SplitMix64) -> Double {
        switch r.int(6) {
        case 0: return Double(r.int(2000)) - 1000
        case 1: return Double(r.int(100_000)) / 100
        case 2: return Double(bitPattern: r.next() & 0x7FEF_FFFF_FFFF_FFFF) * (r.int(2) == 0 ? 1 : -1)
        case 3: return pow(10, Double(r.int(60) - 30)) * Double(r.int(9) + 1)
        case 4: return [0.0, -0.0, 1e16, 1e-7, 0.1 + 0.2, 123456.789, 1e21][r.int(7)]
        default: return Double(r.next() % 1_000_000_007) / 7
        }
    }

    static func sample(_ r: inout SplitMix64, depth: Int) -> Sample {
        Sample(text: text(&r), optional: r.int(2) == 0 ? nil : text(&r), number: number(&r), float: Float(max(-1e30, min(1e30, number(&r)))),
               int: Int(bitPattern: UInt(r.next())) >> r.int(64), small: Int8(truncatingIfNeeded: r.next()), big: r.next(), flag: r.int(2) == 0,
               when: Date(timeIntervalSince1970: Double(r.int(8_000_000_000)) - 1_000_000_000 + Double(r.int(1000)) / 1000),
               list: (0..<r.int(4)).map { _ in r.int(3) == 0 ? nil : text(&r) },
               byName: Dictionary((0..<r.int(5)).map { _ in (text(&r), r.int(100)) }, uniquingKeysWith: { a, _ in a }),
               byNumber: Dictionary((0..<r.int(5)).map { _ in (r.int(200) - 100, text(&r)) }, uniquingKeysWith: { a, _ in a }),
               nested: depth > 0 ? (0..<r.int(3)).map { _ in sample(&r, depth: depth - 1) } : [],
               unkeyed: Inner(a: r.int(50), b: (0..<r.int(4)).map { _ in number(&r) }))
    }

    @Test("random values: strings with every kind of character, numbers, dates, optionals, dictionaries, nested containers")
    func randomValues() throws {
        var r = SplitMix64(seed: 20261203)
        for round in 0..<400 {
            let s = Self.sample(&r, depth: 2)
            try same(s, "round \(round)")
        }
        // The hand-written rows: every optional absent and present, any text.
        for round in 0..<300 {
            let item = FeedItem(number: r.int(1_000_000), subject: Self.text(&r), status: TicketStatus.allCases[r.int(TicketStatus.allCases.count)],
                                marker: [ListMarker.answered, .unanswered, .postponed, .closed][r.int(4)], premium: r.int(2) == 0,
                                unaccepted: r.int(2) == 0, overdue: r.int(2) == 0, responsible: r.int(2) == 0 ? nil : Self.text(&r),
                                level: SupportLevel.allCases[r.int(3)], type: r.int(2) == 0 ? nil : TicketType.allCases[r.int(TicketType.allCases.count)],
                                criticality: r.int(2) == 0 ? nil : Criticality.allCases[r.int(Criticality.allCases.count)],
                                activity: Activity(sequence: r.next() >> r.int(64), at: Date(timeIntervalSince1970: Double(r.int(4_000_000_000))),
                                                   type: Self.text(&r), actor: r.int(2) == 0 ? nil : Self.text(&r)))
            try same([item], "feed item \(round)")
        }
        // Top-level fragments and empty containers.
        try same("a/b\"c")
        try same(-0.0)
        try same([String]())
        try same([String: Int]())
        try same(Date(timeIntervalSince1970: -0.5))
    }

    struct Twice: Encodable {
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Inner.K.self)
            try c.encode(1, forKey: .alpha)
            try c.encode(2, forKey: .alpha)
        }
    }

    struct Super: Encodable {
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Inner.K.self)
            try c.encode(1, forKey: .alpha)
            try 5.encode(to: c.superEncoder())
        }
    }

    @Test("what it does not do exactly as JSONEncoder it refuses, and the API falls back to JSONEncoder")
    func refusals() throws {
        #expect(throws: FastJSON.Unsupported.self) { try FastJSON.encode(Twice()) }
        #expect(throws: FastJSON.Unsupported.self) { try FastJSON.encode(Super()) }
        #expect(throws: FastJSON.Unsupported.self) { try FastJSON.encode([Double.nan]) }
        #expect(throws: FastJSON.Unsupported.self) { try FastJSON.encode([Data([1, 2])]) }
        #expect(throws: FastJSON.Unsupported.self) { try FastJSON.encode([Date(timeIntervalSince1970: -70_000_000_000)]) }
        // The API's encoder answers those as JSONEncoder does.
        #expect(try encodeJSON(Super()) == Array(try foundationEncoder().encode(Super())))
        #expect(try encodeJSON([Data([1, 2])]) == Array(try foundationEncoder().encode([Data([1, 2])])))
        #expect(throws: (any Error).self) { try encodeJSON([Double.infinity]) }
    }
}

extension SplitMix64 {
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
