import BusinessTime
import Foundation
import Testing
@testable import Projections
@testable import SupportDesk

/// `FrozenTicket`: a closed ticket as compact bytes in memory gives back exactly what was frozen.
@Suite("FrozenTicket")
struct FrozenTicketTests {
    /// A ticket with every optional field set and every collection non-empty.
    static func full() -> TicketState {
        var t = TicketState(number: 123_456, channel: .portal, subject: "Сбой оплаты — ошибка 500 🙈", contact: "contact-with-a-long-identifier",
                            organisation: "org7", language: "ru", openedAt: Date(timeIntervalSinceReferenceDate: 812_345_678.123_456),
                            premium: true, participants: ["s1", "s2", "a-staff-member-with-a-long-id"])
        t.version = 1 << 40
        t.status = .closed
        t.coExecutors = ["s2"]
        t.responsible = "s1"
        t.acceptedAt = Date(timeIntervalSinceReferenceDate: -1.5)
        t.level = .l3
        t.classification = Classification(type: .incident, firstLine: .technical, direction: "billing", directionType: "cards",
                                          complexity: 4, criticality: .critical, category: "payments", plannedMinutes: 90,
                                          expectedDate: LocalDate(year: 2026, month: 3, day: 3))
        t.tierId = "gold"
        t.reactionDue = Date(timeIntervalSinceReferenceDate: 812_400_000)
        t.resolutionDue = Date(timeIntervalSinceReferenceDate: 812_500_000)
        t.escalationDue = Date(timeIntervalSinceReferenceDate: .pi)
        t.escalated = true
        t.spam = true
        t.mergedInto = 99
        t.merged = [5, 6]
        t.splitOff = [7]
        t.splitComments = [3, -1]
        t.origin = TicketOrigin(splitFrom: 42, comment: 2)
        t.comments = [
            CommentState(number: 1, author: .contact("contact-with-a-long-identifier"), text: "Не проходит оплата", isInternal: false,
                         notify: [.staff("s1"), .contact("c9")], attachments: [], at: Date(timeIntervalSinceReferenceDate: 812_345_678.5)),
            CommentState(number: 2, author: .staff("s1"), text: "", isInternal: true, notify: [],
                         attachments: [AttachmentRef(sha256: String(repeating: "ab", count: 32), filename: "log.txt", contentType: "text/plain", size: 1 << 33),
                                       AttachmentRef(sha256: "x", filename: "", contentType: "image/png", size: 0)],
                         at: Date(timeIntervalSinceReferenceDate: 812_345_700)),
            CommentState(number: 3, author: .system("escalation"), text: String(repeating: "long text ", count: 50), isInternal: false,
                         notify: [.staff("s1"), .contact("c9")], attachments: [], at: Date(timeIntervalSinceReferenceDate: 812_345_800)),
        ]
        t.firstResponseAt = Date(timeIntervalSinceReferenceDate: 812_345_701)
        t.resolvedAt = Date(timeIntervalSinceReferenceDate: 812_345_900)
        t.closedAt = Date(timeIntervalSinceReferenceDate: 812_346_000)
        t.evaluations = ["s1": AnswerEvaluation(kind: 5, volume: .long, links: 2, screenshots: 1, help: 3),
                         "s2": AnswerEvaluation(kind: 1, volume: .short)]
        t.loggedMinutes = ["s1": 30, "dev": 240]
        t.ratingScores = [5, 1, -2]
        t.deliveries = ["<m1@desk>": .delivered, "<m2@desk>": .parked]
        t.lastMessageId = "<m2@desk>"
        return t
    }

    func roundTrip(_ t: TicketState, _ pools: inout FrozenPools, _ scratch: inout [UInt8]) -> FrozenTicket {
        let f = t.frozen(pools: &pools, scratch: &scratch)
        #expect(TicketState(frozen: f, pools: pools) == t)
        var thin = t
        thin.comments = t.comments.last { !$0.isInternal }.map { [$0] } ?? []
        #expect(TicketState(frozen: f, pools: pools, thread: false) == thin)
        #expect(DeskView.marker(TicketState(frozen: f, pools: pools, thread: false)) == DeskView.marker(t))
        let facts = TicketState.payrollFacts(of: f)
        #expect(facts.level == t.level && facts.premium == t.premium && facts.complexity == t.classification.complexity)
        return f
    }

    @Test("every field comes back, with and without the thread")
    func everyField() {
        var pools = FrozenPools(), scratch: [UInt8] = []
        let t = Self.full()
        let f = roundTrip(t, &pools, &scratch)
        // Much smaller than its compact row (keys and all), and than the Swift value.
        #expect(f.byteCount < (try! CompactCoding.encode(t)).count / 2)
        // The two equal notify lists are kept once; so are the sets.
        #expect(pools.counts.notifyLists == 2)
        #expect(pools.counts.staffSets == 2)
        // A bare ticket: nothing optional, every collection empty.
        _ = roundTrip(TicketState(number: -7, channel: .email, subject: "", contact: "", organisation: nil, language: "",
                                  openedAt: Date(timeIntervalSinceReferenceDate: 0), premium: false, participants: []), &pools, &scratch)
    }

    @Test("random tickets round-trip, and the shared pools hand back shared storage")
    func randomTickets() {
        var rng = SystemRandomNumberGenerator()
        var pools = FrozenPools(), scratch: [UInt8] = []
        let staff = ["s1", "s2", "s3", "a-much-longer-staff-identifier"]
        func maybe<T>(_ v: @autoclosure () -> T) -> T? { Bool.random(using: &rng) ? v() : nil }
        func date() -> Date { Date(timeIntervalSinceReferenceDate: Double.random(in: -1e9...1e9, using: &rng)) }
        func int() -> Int { Int.random(in: Int.min...Int.max, using: &rng) >> Int.random(in: 0...63, using: &rng) }
        var frozen: [(TicketState, FrozenTicket)] = []
        for _ in 0..<300 {
            var t = TicketState(number: int(), channel: Channel.allCases.randomElement(using: &rng)!, subject: "subject \(int())",
                                contact: "c\(Int.random(in: 0..<5, using: &rng))", organisation: maybe("org"), language: "en",
                                openedAt: date(), premium: .random(using: &rng),
                                participants: Set(staff.filter { _ in Bool.random(using: &rng) }))
            t.version = UInt64.random(in: 0...UInt64.max, using: &rng)
            t.status = TicketStatus.allCases.randomElement(using: &rng)!
            t.level = SupportLevel.allCases.randomElement(using: &rng)!
            t.responsible = maybe(staff.randomElement(using: &rng)!)
            t.acceptedAt = maybe(date())
            t.classification = Classification(type: maybe(TicketType.allCases.randomElement(using: &rng)!),
                                              firstLine: maybe(FirstLineCategory.allCases.randomElement(using: &rng)!),
                                              direction: maybe("d"), directionType: maybe("dt"), complexity: maybe(int()),
                                              criticality: maybe(Criticality.allCases.randomElement(using: &rng)!),
                                              category: maybe("cat"), plannedMinutes: maybe(int()),
                                              expectedDate: maybe(LocalDate(year: int(), month: 1, day: 31)))
            t.tierId = maybe("tier")
            t.reactionDue = maybe(date()); t.resolutionDue = maybe(date()); t.escalationDue = maybe(date())
            t.escalated = .random(using: &rng); t.spam = .random(using: &rng)
            t.mergedInto = maybe(int())
            t.merged = (0..<Int.random(in: 0...3, using: &rng)).map { _ in int() }
            t.origin = maybe(TicketOrigin(splitFrom: int(), comment: int()))
            t.comments = (0..<Int.random(in: 0...5, using: &rng)).map { i in
                CommentState(number: i + 1, author: [Party.staff("s1"), .contact(t.contact), .system("timer")].randomElement(using: &rng)!,
                             text: String(repeating: "é", count: Int.random(in: 0...40, using: &rng)), isInternal: .random(using: &rng),
                             notify: staff.filter { _ in Bool.random(using: &rng) }.map(Party.staff), attachments: [], at: date())
            }
            t.firstResponseAt = maybe(date()); t.resolvedAt = maybe(date()); t.closedAt = maybe(date())
            for s in staff where Bool.random(using: &rng) {
                t.evaluations[s] = AnswerEvaluation(kind: int(), volume: AnswerVolume.allCases.randomElement(using: &rng)!,
                                                    links: int(), screenshots: int(), help: int())
                t.loggedMinutes[s] = int()
            }
            t.ratingScores = (0..<Int.random(in: 0...2, using: &rng)).map { _ in int() }
            t.deliveries = Bool.random(using: &rng) ? ["<\(int())@x>": DeliveryStatus.allCases.randomElement(using: &rng)!] : [:]
            t.lastMessageId = maybe("<m@x>")
            frozen.append((t, roundTrip(t, &pools, &scratch)))
        }
        // Decoded again after all the others were frozen (the pools only grew), and as rows made
        // from the frozen bytes with the lists they refer to.
        // One memo for every row of the snapshot, as a flush writes them: the same bytes as a row
        // written alone.
        let snapshot = pools.snapshot
        var memo = RowListMemo()
        for (t, f) in frozen {
            #expect(TicketState(frozen: f, pools: pools) == t)
            var w = PositionalWriter(), alone = PositionalWriter(), fresh = RowListMemo()
            DeskView.TicketRow.write(f, lists: snapshot, memo: &memo, activity: nil, into: &w)
            DeskView.TicketRow.write(f, lists: snapshot, memo: &fresh, activity: nil, into: &alone)
            #expect(w.bytes == alone.bytes)
            let row = try? w.bytes.withUnsafeBytes { try DeskView.TicketRow($0) }
            #expect(row?.ticket == t && row?.activity == nil)
        }
        // At most 2⁴ staff sets and 2⁴ notify lists exist here, whatever the number of tickets.
        #expect(pools.counts.staffSets <= 16 && pools.counts.notifyLists <= 16)
        let lists = frozen.flatMap { TicketState(frozen: $0.1, pools: pools).comments.map(\.notify) }.filter { !$0.isEmpty }
        let storages = Set(lists.map { $0.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } })
        #expect(storages.count <= 15, "equal notify lists share one storage")
    }

    @Test("a desk row (ticket with its lists written out, and its activity) reads back exactly")
    func rows() throws {
        var t = Self.full()
        for activity in [nil, Activity(sequence: 77, at: Date(timeIntervalSinceReferenceDate: 5.25), type: "TicketReassigned", actor: nil),
                         Activity(sequence: 1 << 50, at: Date(timeIntervalSinceReferenceDate: -3), type: "CommentAdded", actor: "contact:a-long-contact-id")] {
            var w = PositionalWriter()
            DeskView.TicketRow.write(t, activity: activity, into: &w)
            let back = try w.bytes.withUnsafeBytes { try DeskView.TicketRow($0) }
            #expect(back.ticket == t && back.activity == activity)
            // Less than half the keyed row.
            #expect(w.bytes.count * 2 < (try CompactCoding.encode(t)).count)
            t.comments.removeLast()
        }
    }

    @Test("a damaged row throws, never crashes: every truncation, and random byte changes")
    func damagedRows() throws {
        var w = PositionalWriter()
        DeskView.TicketRow.write(Self.full(), activity: Activity(sequence: 9, at: Date(), type: "X", actor: "staff:s1"), into: &w)
        let good = w.bytes
        for n in 0..<good.count {
            #expect(throws: (any Error).self, "cut at \(n)") { try Array(good.prefix(n)).withUnsafeBytes { _ = try DeskView.TicketRow($0) } }
        }
        var rng = SystemRandomNumberGenerator()
        var threw = 0
        for _ in 0..<500 {
            var bad = good
            for _ in 0..<Int.random(in: 1...4, using: &rng) { bad[Int.random(in: 0..<bad.count, using: &rng)] = .random(in: 0...255, using: &rng) }
            do { _ = try bad.withUnsafeBytes { try DeskView.TicketRow($0) } } catch { threw += 1 }
        }
        #expect(threw > 0)
    }

    @Test("the table freezes only tickets that are no longer open, and a change thaws one")
    func tableFreezes() {
        var table = TicketTable()
        var open = Self.full()
        open.number = 1
        open.status = .accepted
        var closed = Self.full()
        closed.number = 2
        table[1] = open
        table[2] = closed
        let froze = (table.freeze(1), table.freeze(2), table.freeze(2))
        #expect(froze == (false, true, false), "only the closed one, once")
        #expect(table.frozenCount == 1 && table.liveCount == 1 && table.count == 2)
        #expect(table[2] == closed && table[1] == open)
        var thin = closed
        thin.comments = [closed.comments[2]]  // the last one to the client
        #expect(table[withoutThread: 2] == thin)
        #expect(table[withoutThread: 1] == open, "a live ticket is lent whole")
        // A change to a frozen ticket thaws it, and sticks.
        table[2]!.ratingScores.append(4)
        closed.ratingScores.append(4)
        #expect(table.frozenCount == 0 && table.liveCount == 2)
        #expect(table[2] == closed)
        let refroze = table.freeze(2)
        #expect(refroze && table[2] == closed)
        // Removing a frozen ticket.
        table[2] = nil
        #expect(table.count == 1 && table.frozenCount == 0 && table[2] == nil && table.numbers == [1])
        // Reopened and changed in place: stays live while open.
        table[3] = closed
        table[3]!.status = .reopened
        let frozeOpen = table.freeze(3)
        #expect(!frozeOpen && table.liveCount == 2)
        let frozeAnyway = table.freeze(3, evenIfOpen: true)
        #expect(frozeAnyway && table.liveCount == 1 && table[3]?.status == .reopened)
    }

    @Test("the intern tables' own hash: equal values share an index, different ones never do")
    func internTables() {
        var sets = InternTable<Set<StaffId>>()
        let a = sets.id(of: ["anna", "boris", "vera"])
        var built = Set<StaffId>(minimumCapacity: 64)  // another capacity, so another order inside
        for s in ["vera", "anna", "boris"] { built.insert(s) }
        #expect(sets.id(of: built) == a, "the same set however it was built")
        #expect(sets.id(of: ["anna", "boris"]) != a && sets.id(of: ["anna", "boris", "ver"]) != a)
        #expect(sets.id(of: []) == sets.id(of: Set()) && sets[a] == ["anna", "boris", "vera"])

        var lists = InternTable<[Party]>()
        let l = lists.id(of: [.staff("ab"), .contact("c")])
        #expect(lists.id(of: [.staff("ab"), .contact("c")]) == l)
        let others: [[Party]] = [[.staff("a"), .contact("bc")], [.contact("ab"), .contact("c")], [.contact("c"), .staff("ab")],
                                 [.staff("ab")], [.staff("ab"), .contact("c"), .system("c")], [.system("ab"), .contact("c")]]
        let ids = others.map { lists.id(of: $0) }
        #expect(Set(ids + [l]).count == others.count + 1, "boundaries, kinds and order all count")
        for (id, list) in zip(ids, others) { #expect(lists[id] == list) }

        // Random values against a dictionary keyed by the values themselves.
        var strings = InternTable<String>()
        var reference: [String: UInt32] = [:]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let s = String((0..<Int.random(in: 0...6, using: &rng)).map { _ in "abcé🙈".randomElement(using: &rng)! })
            let id = strings.id(of: s)
            #expect(reference[s, default: id] == id && strings[id] == s)
            reference[s] = id
        }
        #expect(strings.count == reference.count)
    }

    @Test("notify lists found by their storage give the same index as by their parties, however arrays are made and freed")
    func listsByAddress() {
        var pools = FrozenPools()
        var reference: [[Party]: UInt32] = [:]
        var kept: [[Party]] = []
        var rng = SystemRandomNumberGenerator()
        for round in 0..<5_000 {
            // Fresh arrays (freed again at once, so their addresses are reused for other lists),
            // arrays the pools hold, and the empty list.
            let list: [Party]
            switch round % 3 {
            case 0 where !kept.isEmpty: list = kept.randomElement(using: &rng)!
            default: list = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                Bool.random(using: &rng) ? .staff("s\(Int.random(in: 0..<4, using: &rng))") : .contact("c\(Int.random(in: 0..<4, using: &rng))")
            }
            }
            let id = pools.id(of: list)
            #expect(reference[list, default: id] == id, "\(list)")
            reference[list] = id
            if round % 7 == 0 { kept.append(pools.snapshot.notifyLists[Int(id)]) }
        }
        #expect(pools.counts.notifyLists == reference.count)
    }

    @Test("a notify list cache hands back the same array for the same bytes, and starts again when full")
    func notifyListCache() throws {
        func comment(_ notify: [Party]) throws -> EventCodec.Encoded {
            try EventCodec.encode(.commentAdded(CommentAdded(ticket: 1, comment: 2, author: .staff("anna"), text: "hi", isInternal: false,
                                                             notify: notify, attachments: [], channel: nil, externalId: nil)))
        }
        func decoded(_ e: EventCodec.Encoded, _ cache: NotifyListCache?) throws -> [Party] {
            let event = try e.payload.withUnsafeBytes { try EventCodec.decodeIfKnown(type: e.type, schemaVersion: e.schemaVersion, bytes: $0, lists: cache) }
            guard case .commentAdded(let c)? = event else { Issue.record("not a comment"); return [] }
            return c.notify
        }
        func address(_ l: [Party]) -> UInt { l.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }
        let cache = NotifyListCache(capacity: 2)
        let a: [Party] = [.staff("anna"), .contact("c1")], b: [Party] = [.staff("anna"), .contact("c2")], c: [Party] = [.contact("c3")]
        let (ea, eb, ec) = (try comment(a), try comment(b), try comment(c))
        let first = try decoded(ea, cache)
        let second = try decoded(ea, cache), uncached = try decoded(ea, nil)
        #expect(first == a && address(second) == address(first))
        #expect(uncached == a && address(uncached) != address(first), "without a cache each is decoded")
        let other = try decoded(eb, cache)
        #expect(other == b && cache.count == 2)
        let third = try decoded(ec, cache)
        #expect(third == c && cache.count == 1, "full: started again")
        let again = (try decoded(ea, cache), try decoded(ec, cache))
        #expect(again.0 == a && again.1 == c)
        // A list made (not decoded) finds the decoded one, and the other way round.
        let both = NotifyListCache()
        let fromEvent = try decoded(ea, both)
        #expect(address(both.canonical(a)) == address(fromEvent))
        let made = both.canonical(b)
        #expect(address(try decoded(eb, both)) == address(made) && both.count == 2)
    }

    @Test("the fold's in-place paths: evolve opens, thaws and changes a ticket; peek reads live and frozen ones")
    func tableInPlace() {
        var table = TicketTable()
        let at = Date(timeIntervalSinceReferenceDate: 800_000_000)
        let open = TicketOpened(ticket: 5, channel: .portal, subject: "Printer", body: "On fire", contact: "c1", organisation: nil,
                                language: "ru", openedBy: .contact("c1"), premium: false, premiumRefused: nil, participants: ["anna"],
                                tierId: nil, reactionDue: nil, resolutionDue: nil, escalationDue: nil, attachments: [], externalId: nil, origin: nil)
        var expected: TicketState? = nil
        for e: DeskEvent in [.ticketOpened(open), .ticketAccepted(TicketAccepted(ticket: 5, by: "anna"))] {
            table.evolve(5, e, at: at)
            DeskState.evolve(&expected, e, at: at)
        }
        #expect(table[5] == expected && table.isLive(5))
        #expect(table.peek(5) { $0.responsible } == "anna" && table.peek(6) { $0.number } == nil)
        // Frozen (even though open), then changed: thawed and changed as a plain state would be.
        #expect(table.freeze(5, evenIfOpen: true) && !table.isLive(5))
        #expect(table.peek(5) { $0 == expected! } == true, "a frozen ticket is read too")
        let rated = DeskEvent.answerRated(AnswerRated(ticket: 5, contact: "c1", comment: nil, score: 5, text: nil))
        table.evolve(5, rated, at: at)
        DeskState.evolve(&expected, rated, at: at)
        #expect(table.isLive(5) && table[5] == expected && table.frozenCount == 0)
        // An event for a ticket that is not there leaves no slot behind.
        table.evolve(9, rated, at: at)
        #expect(table[9] == nil && table.count == 1 && table.numbers == [5])
        // The open ticket's row form is its frozen bytes; it stays live.
        let form = table.frozenForm(5)
        #expect(form.map { TicketState(frozen: $0, pools: table.pools) } == expected && table.isLive(5))
    }
}
