import BusinessTime
import Foundation
import Testing
@_spi(Codec) @testable import SupportDesk

// The differential property test that keeps the hand-written compact forms (FastCompact.swift)
// byte-identical to the Codable ones: random values of every fast type, compared with
// `CompactCoding.encodeViaCodable` / `decodeViaCodable` (the Codable path with no fast path inside).

/// SplitMix64: a seeded generator, so that a failure reproduces.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476C_E5B9_E00D
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random values of the fast types: nil and non-nil optionals, empty and non-empty collections,
/// unicode and long strings (multi-byte length varints), extreme integers.
struct Gen {
    var rng: SeededRNG

    mutating func bool() -> Bool { Bool.random(using: &rng) }
    mutating func pick<T>(_ xs: [T]) -> T { xs.randomElement(using: &rng)! }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }

    mutating func int() -> Int {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: pick([0, 1, -1, 63, -64, 64, 127, 128, -129, .max, .min, .max - 1, .min + 1])
        case 1: Int.random(in: .min ... .max, using: &rng)
        case 2: Int.random(in: -1_000_000...1_000_000, using: &rng)
        default: Int.random(in: 0...100, using: &rng)
        }
    }

    mutating func string() -> String {
        let pieces = ["", "a", "anna", "Ещё вопрос", "🔥", "👩🏽‍💻", "日本語", "e\u{301}", "\"quoted\"", "line\nbreak", "\u{0}",
                      "staff:", ":", "tab\t", "ünïcödé", String(repeating: "x", count: 130), String(repeating: "я", count: 70)]
        var s = ""
        for _ in 0..<Int.random(in: 0...3, using: &rng) { s += pick(pieces) }
        return s
    }

    mutating func id() -> String { bool() ? pick(["anna", "max", "olga", "dev", "c1", "auto-4"]) : string() }

    mutating func date() -> Date {
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: Date(timeIntervalSinceReferenceDate: pick([0, -0.0, 1, -1, 1e12, -1e12, .greatestFiniteMagnitude, .leastNonzeroMagnitude]))
        case 1: Date(timeIntervalSinceReferenceDate: Double.random(in: -1e10...1e10, using: &rng))
        default: Date(timeIntervalSinceReferenceDate: 7.6e8 + Double(Int.random(in: 0...100_000_000, using: &rng)))
        }
    }

    mutating func localDate() -> LocalDate {
        LocalDate(year: Int.random(in: 1000...9999, using: &rng), month: Int.random(in: 1...12, using: &rng),
                  day: Int.random(in: 1...28, using: &rng))
    }

    mutating func optional<T>(_ make: (inout Gen) -> T) -> T? { bool() ? make(&self) : nil }

    mutating func array<T>(_ make: (inout Gen) -> T) -> [T] {
        let n = chance(0.3) ? 0 : Int.random(in: 1...4, using: &rng)
        return (0..<n).map { _ in make(&self) }
    }

    mutating func party() -> Party {
        var id = id()
        if id.isEmpty { id = "x" }
        return pick([Party.staff(id), .contact(id), .system(id)])
    }

    mutating func enumCase<E: CaseIterable>(_: E.Type) -> E { pick(Array(E.allCases)) }

    mutating func attachment() -> AttachmentRef {
        AttachmentRef(sha256: string(), filename: string(), contentType: string(), size: int())
    }

    mutating func classification() -> Classification {
        Classification(type: optional { $0.enumCase(TicketType.self) }, firstLine: optional { $0.enumCase(FirstLineCategory.self) },
                       direction: optional { $0.string() }, directionType: optional { $0.string() },
                       complexity: optional { $0.int() }, criticality: optional { $0.enumCase(Criticality.self) },
                       category: optional { $0.string() }, plannedMinutes: optional { $0.int() },
                       expectedDate: optional { $0.localDate() })
    }

    mutating func evaluation() -> AnswerEvaluation {
        AnswerEvaluation(kind: int(), volume: enumCase(AnswerVolume.self), links: int(), screenshots: int(), help: int())
    }

    // Events.

    mutating func commentAdded() -> CommentAdded {
        CommentAdded(ticket: int(), comment: int(), author: party(), text: string(), isInternal: bool(),
                     notify: array { $0.party() }, attachments: array { $0.attachment() },
                     channel: optional { $0.enumCase(Channel.self) }, externalId: optional { $0.string() })
    }

    mutating func statusChanged() -> StatusChanged {
        StatusChanged(ticket: int(), from: enumCase(TicketStatus.self), to: enumCase(TicketStatus.self), by: party(),
                      reason: optional { $0.string() }, until: optional { $0.date() })
    }

    mutating func ticketOpened() -> TicketOpened {
        TicketOpened(ticket: int(), channel: enumCase(Channel.self), subject: string(), body: string(), contact: id(),
                     organisation: optional { $0.id() }, language: string(), openedBy: party(), premium: bool(),
                     premiumRefused: optional { $0.string() }, participants: array { $0.id() }, tierId: optional { $0.id() },
                     reactionDue: optional { $0.date() }, resolutionDue: optional { $0.date() }, escalationDue: optional { $0.date() },
                     attachments: array { $0.attachment() }, externalId: optional { $0.string() },
                     origin: optional { TicketOrigin(splitFrom: $0.int(), comment: $0.int()) })
    }

    mutating func ticketAccepted() -> TicketAccepted { TicketAccepted(ticket: int(), by: id()) }
    mutating func answerEvaluated() -> AnswerEvaluated { AnswerEvaluated(ticket: int(), staff: id(), evaluation: evaluation()) }
    mutating func ticketClassified() -> TicketClassified {
        TicketClassified(ticket: int(), classification: classification(), by: id())
    }
    mutating func answerRated() -> AnswerRated {
        AnswerRated(ticket: int(), contact: id(), comment: optional { $0.int() }, score: int(), text: optional { $0.string() })
    }
    mutating func levelChanged() -> LevelChanged {
        LevelChanged(ticket: int(), from: enumCase(SupportLevel.self), to: enumCase(SupportLevel.self), by: id())
    }
    mutating func participantAdded() -> ParticipantAdded {
        ParticipantAdded(ticket: int(), staff: id(), role: pick([.participant, .coExecutor]), by: party())
    }
    mutating func timeLogged() -> TimeLogged {
        TimeLogged(ticket: int(), staff: id(), minutes: int(), on: localDate(), note: optional { $0.string() })
    }

    // State.

    mutating func commentState() -> CommentState {
        CommentState(number: int(), author: party(), text: string(), isInternal: bool(), notify: array { $0.party() },
                     attachments: array { $0.attachment() }, at: date())
    }

    mutating func dictionary<V>(_ make: (inout Gen) -> V) -> [String: V] {
        var d: [String: V] = [:]
        for _ in 0..<(chance(0.3) ? 0 : Int.random(in: 1...4, using: &rng)) { d[id()] = make(&self) }
        return d
    }

    mutating func ticketState() -> TicketState {
        TicketState(number: int(), version: pick([0, 1, UInt64.max, UInt64.random(in: 0 ... .max, using: &rng)]),
                    status: enumCase(TicketStatus.self), channel: enumCase(Channel.self), subject: string(), contact: id(),
                    organisation: optional { $0.id() }, language: string(), openedAt: date(), premium: bool(),
                    participants: Set(array { $0.id() }), coExecutors: Set(array { $0.id() }), responsible: optional { $0.id() },
                    acceptedAt: optional { $0.date() }, level: enumCase(SupportLevel.self), classification: classification(),
                    tierId: optional { $0.id() }, reactionDue: optional { $0.date() }, resolutionDue: optional { $0.date() },
                    escalationDue: optional { $0.date() }, escalated: bool(), spam: bool(), mergedInto: optional { $0.int() },
                    merged: array { $0.int() }, splitOff: array { $0.int() }, splitComments: array { $0.int() },
                    origin: optional { TicketOrigin(splitFrom: $0.int(), comment: $0.int()) },
                    comments: array { $0.commentState() }, firstResponseAt: optional { $0.date() },
                    resolvedAt: optional { $0.date() }, closedAt: optional { $0.date() },
                    evaluations: dictionary { $0.evaluation() }, loggedMinutes: dictionary { $0.int() },
                    ratingScores: array { $0.int() }, deliveries: dictionary { $0.enumCase(DeliveryStatus.self) },
                    lastMessageId: optional { $0.string() })
    }
}

// MARK: Rewriting payloads: the same value with its keys in another order, or an extra key

/// A parsed compact value, enough to shuffle object entries and rebuild the bytes.
indirect enum Node {
    case scalar([UInt8])
    case array([Node])
    case object([(key: [UInt8], value: Node)])

    static func parse(_ b: [UInt8], _ p: inout Int) -> Node {
        let start = p
        func varint() -> Int {
            var n = 0, shift = 0
            while true {
                let x = b[p]; p += 1
                n |= Int(x & 0x7F) << shift
                if x < 0x80 { return n }
                shift += 7
            }
        }
        let tag = b[p]; p += 1
        switch tag {
        case 0, 1, 2: return .scalar(Array(b[start..<p]))
        case 3, 4: _ = varint(); return .scalar(Array(b[start..<p]))
        case 5: p += 8; return .scalar(Array(b[start..<p]))
        case 6: let n = varint(); p += n; return .scalar(Array(b[start..<p]))
        default:
            let count = Int(b[p + 4]) | Int(b[p + 5]) << 8 | Int(b[p + 6]) << 16 | Int(b[p + 7]) << 24
            p += 8
            if tag == 7 { return .array((0..<count).map { _ in parse(b, &p) }) }
            var entries: [(key: [UInt8], value: Node)] = []
            for _ in 0..<count {
                let keyStart = p
                let n = varint()
                p += n
                let key = Array(b[keyStart..<p])  // length varint and key bytes
                entries.append((key, parse(b, &p)))
            }
            return .object(entries)
        }
    }

    var bytes: [UInt8] {
        func container(_ tag: UInt8, _ count: Int, _ body: [UInt8]) -> [UInt8] {
            let length = UInt32(body.count + 4), c = UInt32(count)
            return [tag] + withUnsafeBytes(of: length.littleEndian, Array.init) + withUnsafeBytes(of: c.littleEndian, Array.init) + body
        }
        switch self {
        case .scalar(let b): return b
        case .array(let xs): return container(7, xs.count, xs.flatMap(\.bytes))
        case .object(let es): return container(8, es.count, es.flatMap { $0.key + $0.value.bytes })
        }
    }

    func shuffled(_ rng: inout SeededRNG) -> Node {
        switch self {
        case .scalar: return self
        case .array(let xs): return .array(xs.map { $0.shuffled(&rng) })
        case .object(let es): return .object(es.map { ($0.key, $0.value.shuffled(&rng)) }.shuffled(using: &rng))
        }
    }
}

func key(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + Array(s.utf8) }

/// Unknown entries of every shape a newer writer might add.
let unknownEntries: [(key: [UInt8], value: Node)] = [
    (key("zzNew"), .scalar([0x06, 3] + Array("new".utf8))),
    (key("futureObject"), .object([(key("a"), .scalar([0x03, 2])), (key("b"), .array([.scalar([0x02])]))])),
    (key("futureNil"), .scalar([0x00])),
    (key(""), .scalar([0x05, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F])),
]

// MARK: The property

/// (a) fast bytes == Codable bytes, (b) fast decode gives the value back, (c) so does the Codable
/// decoder, (d) with keys shuffled (at every level) and an unknown key added, both still give it,
/// (e) truncated and damaged payloads throw or decode, never crash, and both decoders agree.
func checkDifferential<T: FastCompact & Codable & Equatable>(_ value: T, _ rng: inout SeededRNG, damage: Bool,
                                                             sourceLocation: SourceLocation = #_sourceLocation) throws {
    var w = CompactWriter(bytes: [CompactCoding.marker])
    value.writeCompact(into: &w)
    let fast = w.bytes
    let codable = try CompactCoding.encodeViaCodable(value)
    #expect(fast == codable, "\(T.self): fast bytes differ from Codable's for \(value)", sourceLocation: sourceLocation)
    #expect(try CompactCoding.encode(value) == codable, sourceLocation: sourceLocation)

    #expect(try fast.withUnsafeBytes { try T(compactAt: 1, in: Reader(bytes: $0)) } == value, sourceLocation: sourceLocation)
    #expect(try CompactCoding.decode(T.self, from: fast) == value, sourceLocation: sourceLocation)
    #expect(try CompactCoding.decodeViaCodable(T.self, from: fast) == value, sourceLocation: sourceLocation)

    var p = 1
    let tree = Node.parse(fast, &p)
    #expect(p == fast.count, sourceLocation: sourceLocation)
    var rewritten = tree.shuffled(&rng)
    if case .object(var es) = rewritten {
        es.insert(unknownEntries.randomElement(using: &rng)!, at: Int.random(in: 0...es.count, using: &rng))
        rewritten = .object(es)
    }
    let other = [CompactCoding.marker] + rewritten.bytes
    #expect(try CompactCoding.decode(T.self, from: other) == value, sourceLocation: sourceLocation)
    #expect(try CompactCoding.decodeViaCodable(T.self, from: other) == value, sourceLocation: sourceLocation)

    guard damage else { return }
    for n in 0..<fast.count {
        #expect(throws: (any Error).self, sourceLocation: sourceLocation) { try CompactCoding.decode(T.self, from: Array(fast.prefix(n))) }
    }
    for _ in 0..<200 {
        var b = fast
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let i = Int.random(in: 1..<b.count, using: &rng)
            if Bool.random(using: &rng) { b[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng) } else { b[i] = .random(in: 0...255, using: &rng) }
        }
        let f = Result { try CompactCoding.decode(T.self, from: b) }
        let c = Result { try CompactCoding.decodeViaCodable(T.self, from: b) }
        switch (f, c) {
        case (.success(let x), .success(let y)): #expect(x == y, sourceLocation: sourceLocation)
        case (.failure, .failure): break
        default: Issue.record("\(T.self): fast and Codable decoders disagree on \(b): \(f) vs \(c)", sourceLocation: sourceLocation)
        }
    }
}

@Suite("FastCompact")
struct FastCompactTests {
    static let perType = 300

    func run<T: FastCompact & Codable & Equatable>(_ seed: UInt64, count: Int = perType, _ make: (inout Gen) -> T) throws {
        var g = Gen(rng: SeededRNG(state: seed))
        var rng = SeededRNG(state: ~seed)
        for i in 0..<count {
            try checkDifferential(make(&g), &rng, damage: i % 30 == 0)
        }
    }

    @Test func commentAdded() throws { try run(1) { $0.commentAdded() } }
    @Test func statusChanged() throws { try run(2) { $0.statusChanged() } }
    @Test func ticketOpened() throws { try run(3) { $0.ticketOpened() } }
    @Test func ticketAccepted() throws { try run(4) { $0.ticketAccepted() } }
    @Test func answerEvaluated() throws { try run(5) { $0.answerEvaluated() } }
    @Test func ticketClassified() throws { try run(6) { $0.ticketClassified() } }
    @Test func answerRated() throws { try run(7) { $0.answerRated() } }
    @Test func levelChanged() throws { try run(8) { $0.levelChanged() } }
    @Test func participantAdded() throws { try run(9) { $0.participantAdded() } }
    @Test func timeLogged() throws { try run(10) { $0.timeLogged() } }
    @Test func commentState() throws { try run(11) { $0.commentState() } }
    @Test func ticketState() throws { try run(12, count: 100) { $0.ticketState() } }  // large: fewer
    @Test func values() throws {
        try run(13) { $0.attachment() }
        try run(14) { $0.classification() }
        try run(15) { $0.evaluation() }
        try run(16) { $0.party() }
        try run(17) { $0.localDate() }
        try run(18) { TicketOrigin(splitFrom: $0.int(), comment: $0.int()) }
    }

    @Test("fast events go through EventCodec as the Codable payloads did, and come back")
    func eventCodec() throws {
        var g = Gen(rng: SeededRNG(state: 99))
        var events = oneOfEveryEvent + sparseEvents + eventsWithEmptyCollections
        for _ in 0..<50 {
            events += [.commentAdded(g.commentAdded()), .statusChanged(g.statusChanged()), .ticketOpened(g.ticketOpened()),
                       .ticketAccepted(g.ticketAccepted()), .answerEvaluated(g.answerEvaluated()),
                       .ticketClassified(g.ticketClassified()), .answerRated(g.answerRated()), .levelChanged(g.levelChanged()),
                       .participantAdded(g.participantAdded()), .timeLogged(g.timeLogged())]
        }
        for event in events {
            let encoded = try EventCodec.encode(event)
            let p = event.payload
            #expect(encoded.type == Swift.type(of: p).type)
            #expect(encoded.schemaVersion == Swift.type(of: p).schemaVersion)
            #expect(encoded.payload == (try CompactCoding.encodeViaCodable(p)), "\(event.type)")
            #expect(try EventCodec.decode(type: encoded.type, schemaVersion: encoded.schemaVersion, payload: encoded.payload) == event)
        }
        // JSON payloads keep their own path (random dates are left out: ISO 8601 drops fractions).
        for event in oneOfEveryEvent + sparseEvents {
            let json = Array(try EventCodec.makeEncoder().encode(event.payload))
            let kind = Swift.type(of: event.payload)
            #expect(try EventCodec.decode(type: kind.type, schemaVersion: kind.schemaVersion, payload: json) == event)
        }
    }

    @Test("an explicit nil for an optional key reads as nil, as decodeIfPresent reads it")
    func explicitNil() throws {
        let e = CommentAdded(ticket: 1, comment: 2, author: .staff("anna"), text: "x", isInternal: true, notify: [], attachments: [],
                             channel: nil, externalId: nil)
        var p = 1
        let bytes = try CompactCoding.encode(e)
        guard case .object(var es) = Node.parse(bytes, &p) else { Issue.record("not an object"); return }
        es.append((key("channel"), .scalar([0x00])))
        es.append((key("externalId"), .scalar([0x00])))
        let withNils = [CompactCoding.marker] + Node.object(es).bytes
        #expect(try CompactCoding.decode(CommentAdded.self, from: withNils) == e)
        #expect(try CompactCoding.decodeViaCodable(CommentAdded.self, from: withNils) == e)
        // A nil for a required key is an error on both paths.
        es.append((key("text"), .scalar([0x00])))
        es.removeAll { $0.key == key("text") && $0.value.bytes != [0x00] }
        let nilText = [CompactCoding.marker] + Node.object(es).bytes
        #expect(throws: (any Error).self) { try CompactCoding.decode(CommentAdded.self, from: nilText) }
        #expect(throws: (any Error).self) { try CompactCoding.decodeViaCodable(CommentAdded.self, from: nilText) }
    }

    @Test("a missing required key, a bad enum value or a bad party is an error, as through Codable")
    func refusals() throws {
        struct Partial: Codable { var ticket: Int; var by: String }  // StatusChanged without from/to
        let partial = try CompactCoding.encode(Partial(ticket: 1, by: "staff:anna"))
        #expect(throws: DecodingError.self) { try CompactCoding.decode(StatusChanged.self, from: partial) }
        struct BadStatus: Codable { var ticket: Int; var from: String; var to: String; var by: String }
        let bad = try CompactCoding.encode(BadStatus(ticket: 1, from: "new", to: "exploded", by: "staff:anna"))
        #expect(throws: DecodingError.self) { try CompactCoding.decode(StatusChanged.self, from: bad) }
        let badParty = try CompactCoding.encode(BadStatus(ticket: 1, from: "new", to: "closed", by: "robot:x"))
        #expect(throws: DecodingError.self) { try CompactCoding.decode(StatusChanged.self, from: badParty) }
        let ok = try CompactCoding.encode(BadStatus(ticket: 1, from: "new", to: "closed", by: "staff:anna"))
        #expect(try CompactCoding.decode(StatusChanged.self, from: ok) ==
            StatusChanged(ticket: 1, from: .new, to: .closed, by: .staff("anna"), reason: nil, until: nil))
        // Integers written as UInt or as an integral Double read as Codable reads them.
        struct Loose: Codable { var ticket: UInt; var by: Double }
        #expect(throws: DecodingError.self) { try CompactCoding.decode(TicketAccepted.self, from: try CompactCoding.encode(Loose(ticket: 3, by: 1))) }
        struct Looser: Codable { var ticket: Double; var by: String }
        #expect(try CompactCoding.decode(TicketAccepted.self, from: try CompactCoding.encode(Looser(ticket: 3, by: "x"))) ==
            TicketAccepted(ticket: 3, by: "x"))
    }

    @Test("parties and dates read as their own initialisers read them, also off the ASCII fast path")
    func partiesAndDates() throws {
        func both<T: FastCompact & Decodable & Equatable>(_ type: T.Type, _ text: String) -> T? {
            let bytes = try! CompactCoding.encode(text)
            let f = try? CompactCoding.decode(T.self, from: bytes)
            let c = try? CompactCoding.decodeViaCodable(T.self, from: bytes)
            #expect(f == c, "\(text)")
            return f
        }
        #expect(both(Party.self, "staff:anna") == .staff("anna"))
        #expect(both(Party.self, "system:a:b") == .system("a:b"))
        #expect(both(Party.self, "contact:Иван") == .contact("Иван"))
        #expect(both(Party.self, "staff:\u{301}x") == nil)  // the colon and the accent are one Character
        for text in ["staff:", "staff", "", "robot:x", "Staff:x", "contact:", "system", "staff:é", "staff: ", "s:x", "contact:🔥"] {
            _ = both(Party.self, text)
        }
        #expect(both(LocalDate.self, "2025-03-05") == LocalDate(year: 2025, month: 3, day: 5))
        #expect(both(LocalDate.self, "2024-02-29") == LocalDate(year: 2024, month: 2, day: 29))
        for text in ["2025-02-30", "2025-13-01", "2025-00-10", "2025-1-01", "20250-01-01", "２０２５-01-01", "2025-01-0x", "2025/01/01",
                     "2025-01-01\u{301}", "0000-01-01", ""] {
            #expect(both(LocalDate.self, text) == LocalDate(text), "\(text)")
        }
    }

    @Test("fast values nested in Codable ones (a projection row) encode and decode as through Codable")
    func nestedInCodable() throws {
        struct Row: Codable, Equatable {
            var ticket: TicketState
            var note: String?
            var events: [CommentAdded]
            var maybe: [Channel?]
        }
        var g = Gen(rng: SeededRNG(state: 7))
        for _ in 0..<50 {
            let row = Row(ticket: g.ticketState(), note: g.optional { $0.string() }, events: g.array { $0.commentAdded() },
                          maybe: [nil, .email, nil])
            let bytes = try CompactCoding.encode(row)
            #expect(bytes == (try CompactCoding.encodeViaCodable(row)))
            #expect(try CompactCoding.decode(Row.self, from: bytes) == row)
            #expect(try CompactCoding.decodeViaCodable(Row.self, from: bytes) == row)
        }
    }

    @Test("old logs still decode: AnswerRated schema 1 in both forms, and schema 2 without the new fields")
    func oldLogs() throws {
        let compact = try CompactCoding.encode(OldRating(ticket: 1, contact: "c1", stars: 7))
        #expect(try EventCodec.decode(type: "AnswerRated", schemaVersion: 1, payload: compact) ==
            .answerRated(AnswerRated(ticket: 1, contact: "c1", comment: nil, score: 4, text: nil)))
        let json = Array(#"{"ticket":1,"contact":"c1","comment":5,"stars":10}"#.utf8)
        #expect(try EventCodec.decode(type: "AnswerRated", schemaVersion: 1, payload: json) ==
            .answerRated(AnswerRated(ticket: 1, contact: "c1", comment: 5, score: 5, text: nil)))
        struct V2Sparse: Codable { var ticket: Int; var contact: String; var score: Int }
        let sparse = try CompactCoding.encode(V2Sparse(ticket: 2, contact: "c2", score: 3))
        #expect(try EventCodec.decode(type: "AnswerRated", schemaVersion: 2, payload: sparse) ==
            .answerRated(AnswerRated(ticket: 2, contact: "c2", comment: nil, score: 3, text: nil)))
    }
}
