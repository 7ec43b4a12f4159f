import BusinessTime
import DeskEngine
import EventLog
import Foundation
@testable import Projections
@testable import SupportDesk
import Testing

/// A temporary LMDB folder, removed afterwards.
func withTempFolder<T>(_ body: (URL) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("proj-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

/// A desk with a generated history in `store`.
func generated(_ store: any EventStore, tickets: Int, seed: UInt64) async throws -> CommandProcessor {
    let processor = try CommandProcessor(store: store, clock: ManualClock(Date(timeIntervalSince1970: 1_772_431_200)))
    let summary = try await HistoryGenerator(.init(tickets: tickets, seed: seed)).run(on: processor)
    #expect(summary.refused == 0, "generator refusals: \(summary.firstRefusals)")
    return processor
}

/// Comparable content of a view.
func content(_ v: DeskView) -> (DeskState, [EvaluationEntry], [TimeEntry], [TicketNumber: Activity]) {
    v.read { ($0.fullState, $0.evaluations.sorted { $0.sequence < $1.sequence }, $0.timeEntries.sorted { $0.sequence < $1.sequence }, $0.activity.dictionary) }
}

@Suite("Projections")
struct ProjectionsTests {
    @Test("a view followed live, one rebuilt from zero and one loaded from its rows are the same")
    func rebuildEqualsLive() async throws {
        try await withTempFolder { url in
            let store = try LMDBEventStore(directory: url)
            defer { store.close() }
            let live = DeskView(), liveOutbox = Outbox()
            let runner = ProjectionRunner(store: store, projections: [live, liveOutbox], batchSize: 333)
            try await runner.prepare()
            runner.start()
            let processor = try await generated(store, tickets: 250, seed: 11)
            let head = store.committedHead
            try await runner.waitUntil(head)
            runner.stop()
            #expect(runner.position == head)

            // Rebuilt from zero, both projections in one pass over the log; each batch folded in
            // slices, first stored once per batch, then early whenever more than 25 rows wait.
            let sliced = DeskView()
            let r1 = ProjectionRunner(store: store, projections: [sliced, Outbox()], rebuildBatchSize: 700, foldSlice: 90)
            try await r1.rebuild(names: [])
            #expect(content(sliced).0 == content(live).0, "rebuilt in slices")
            let rebuilt = DeskView(), rebuiltOutbox = Outbox()
            rebuilt.liveBudget = 4  // open tickets frozen and thawed again and again on the way
            let r2 = ProjectionRunner(store: store, projections: [rebuilt, rebuiltOutbox], rebuildBatchSize: 700, foldSlice: 90, maxRowsPerFlush: 25)
            try await r2.rebuild(names: [])
            #expect(r2.position("desk") == head && r2.position("outbox") == head)
            let (openTickets, liveTickets) = rebuilt.read { v in (v.openFacts.count, v.tickets.liveCount) }
            #expect(openTickets > 10 && liveTickets < openTickets, "open tickets past the budget are frozen")
            // Loaded from the rows the rebuild persisted, with its checkpoint.
            let loaded = DeskView(), loadedOutbox = Outbox()
            let r3 = ProjectionRunner(store: store, projections: [loaded, loadedOutbox])
            try await r3.prepare()
            #expect(r3.position("desk") == head && r3.position("outbox") == head)
            let outbox = liveOutbox.all
            #expect(!outbox.isEmpty)
            #expect(outbox == rebuiltOutbox.all)
            #expect(outbox == loadedOutbox.all)

            let a = content(live), b = content(rebuilt), c = content(loaded)
            #expect(a.0 == b.0)
            #expect(a.0 == c.0)
            #expect(a.1 == b.1 && a.1 == c.1)
            #expect(a.2 == b.2 && a.2 == c.2)
            #expect(a.3 == b.3 && a.3 == c.3)
            let open = live.read { $0.openFacts }
            #expect(!open.isEmpty && open == rebuilt.read { $0.openFacts } && open == loaded.read { $0.openFacts })
            func facets(_ v: DeskView) -> [String] {
                v.read { v in
                    func rows<K>(_ f: FacetIndex<K>) -> [String] { f.nonEmpty.map { "\($0.key) \($0.value.sorted())" }.sorted() }
                    return rows(v.byStatus) + rows(v.byType) + rows(v.byCriticality) + rows(v.byLevel)
                }
            }
            #expect(facets(live).count > 8 && facets(live) == facets(rebuilt) && facets(live) == facets(loaded))
            let assigned = live.read { $0.assigned.filter { !$0.value.isEmpty } }
            #expect(!assigned.isEmpty && assigned == rebuilt.read { $0.assigned.filter { !$0.value.isEmpty } }
                    && assigned == loaded.read { $0.assigned.filter { !$0.value.isEmpty } })
            // And the view agrees with the command processor's own state.
            let snapshot = await processor.snapshot()
            #expect(a.0.account == snapshot.account)
            #expect(a.0.contacts == snapshot.contacts)
            for (n, t) in snapshot.tickets { #expect(a.0.tickets[n] == t, "ticket \(n)") }
        }
    }

    @Test("closed tickets are frozen, their equal notify lists and participant sets kept once, folded live and loaded from rows")
    func sharedLists() async throws {
        let store = MemoryEventStore()
        _ = try await generated(store, tickets: 120, seed: 4)
        let live = DeskView()
        try await ProjectionRunner(store: store, projections: [live]).prepare()  // folds (no rows yet), then writes rows
        let loaded = DeskView()
        try await ProjectionRunner(store: store, projections: [loaded]).prepare()  // loads the rows
        for view in [live, loaded] {
            view.read { v in
                var values = Set<[Party]>(), buffers = Set<UInt>(), sets = Set<Set<StaffId>>(), setStorages = Set<UInt>()
                var lists = 0, closed = 0
                for t in v.tickets.values where !t.status.isOpen {
                    closed += 1
                    for c in t.comments {
                        values.insert(c.notify)
                        buffers.insert(c.notify.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) })
                        lists += 1
                    }
                    sets.insert(t.participants)
                    setStorages.insert(withUnsafeBytes(of: t.participants) { $0.load(as: UInt.self) })
                }
                #expect(lists > 300 && values.count < lists / 3, "\(values.count) distinct lists of \(lists)")
                #expect(buffers.count == values.count, "one copy per distinct notify list")
                #expect(setStorages.count == sets.count, "one copy per distinct participant set")
                // Closed tickets are frozen at the flush after their last change, open ones after a
                // flush interval without change; loaded from rows, every ticket starts frozen.
                #expect(closed > 60 && v.tickets.frozenCount >= closed && v.tickets.frozenCount + v.tickets.liveCount == v.tickets.count)
                if view === loaded { #expect(v.tickets.liveCount == 0) }
            }
        }
        #expect(content(live).0 == content(loaded).0)
    }

    @Test("a changed code version rebuilds at start; an unknown projection name is refused")
    func codeVersion() async throws {
        let store = MemoryEventStore()
        _ = try await generated(store, tickets: 40, seed: 2)
        let v1 = DeskView()
        try await ProjectionRunner(store: store, projections: [v1]).prepare()
        try await store.write { w in try w.put(Array("desk".utf8), Array("0".utf8), in: ProjectionRunner.metaDB) }
        let v2 = DeskView()
        let runner = ProjectionRunner(store: store, projections: [v2])
        try await runner.prepare()
        #expect(content(v2).0 == content(v1).0)
        await #expect(throws: EventLogError.self) { try await runner.rebuild(names: ["nope"]) }
    }

    @Test("client views never hold an internal comment, a hidden comment or another client's ticket", arguments: [1, 2, 3] as [UInt64])
    func clientViewsAreSafe(seed: UInt64) async throws {
        let store = MemoryEventStore()
        let processor = try await generated(store, tickets: 150, seed: seed)
        // Mix the settings: half of the seeds without "only notified", one without sharing.
        if seed != 1 {
            _ = try await processor.execute(Command(actor: .staff("admin"), .setVisibility(
                VisibilitySettings(onlyNotified: seed == 3, organisationSharing: seed != 2))))
        }
        let view = DeskView()
        try await ProjectionRunner(store: store, projections: [view]).prepare()
        let state = content(view).0
        let settings = state.account.visibility
        var checkedComments = 0
        for contact in state.contacts.values where contact.mergedInto == nil {
            for t in view.clientTickets(contact: contact.id, limit: 10_000) {
                guard let full = state.tickets[t.number] else { Issue.record("unknown ticket \(t.number)"); continue }
                // The ticket is the contact's own, or their organisation's with sharing on.
                let own = state.survivor(of: full.contact) == contact.id
                let shared = settings.organisationSharing && full.organisation != nil && full.organisation == contact.organisation
                #expect(own || shared, "contact \(contact.id) sees #\(t.number) of \(full.contact)")
                #expect(!full.spam)
                for c in t.comments {
                    guard let original = full.comments.first(where: { $0.number == c.number }) else { Issue.record("no comment"); continue }
                    #expect(!original.isInternal, "internal comment \(c.number) of #\(t.number) shown to \(contact.id)")
                    if settings.onlyNotified {
                        let mine = original.notify.contains(.contact(contact.id)) || original.author == .contact(contact.id)
                        #expect(mine, "comment \(c.number) of #\(t.number) not addressed to \(contact.id)")
                    }
                    checkedComments += 1
                }
                #expect(view.clientTicket(contact: contact.id, number: t.number) == t)
            }
            // Someone else's ticket is not reachable by number.
            if let other = state.tickets.values.first(where: { state.survivor(of: $0.contact) != contact.id && $0.organisation != contact.organisation }) {
                #expect(view.clientTicket(contact: contact.id, number: other.number) == nil)
            }
        }
        #expect(checkedComments > 100)
    }

    @Test("a new formula changes the periods it covers without code changes; old figures stay reproducible")
    func payrollUnderFormulas() async throws {
        let store = MemoryEventStore()
        let processor = try await generated(store, tickets: 400, seed: 5)
        let view = DeskView()
        let runner = ProjectionRunner(store: store, projections: [view])
        try await runner.prepare()
        let march = (LocalDate(year: 2026, month: 3, day: 1), LocalDate(year: 2026, month: 3, day: 31))
        let before = try view.payroll(from: march.0, to: march.1, formula: .inForce)
        let underV1 = try view.payroll(from: march.0, to: march.1, formula: .version(1))
        #expect(before.lines == underV1.lines)  // March is under version 1 (version 2 starts in April)
        #expect(before.total > 0)
        // Hand-check one evaluation under version 1: choose(kind, 60, 90, 150, 250, 400) × volume × help + extras.
        let e = view.read { $0.evaluations.first! }
        let day = localDate(e.at, timeZone: "Europe/Moscow")
        let sameDay = view.read { $0.evaluations.filter { $0.staff == e.staff && localDate($0.at, timeZone: "Europe/Moscow") == day } }
        let expected = try sameDay.reduce(0.0) { $0 + (try PayrollFormulaFixture.v1($1.evaluation)) }
        let one = try view.payroll(from: day, to: day, formula: .version(1))
        #expect(abs(one.lines.first { $0.staff == e.staff }!.evaluationAmount - expected) < 0.011)

        // Publish a formula that doubles everything from 1 March.
        let doubled = HistoryGenerator.formulaV1.replacingOccurrences(of: "amount = round(", with: "amount = 2 * round(")
        let published = try await processor.execute(Command(actor: .staff("olga"), .publishFormula(
            effectiveFrom: LocalDate(year: 2026, month: 3, day: 1), source: doubled, note: "double")))
        try await runner.catchUp(view, progress: nil)
        let after = try view.payroll(from: march.0, to: march.1, formula: .inForce)
        #expect(published.formulaVersion == 3)
        for l in before.lines where l.evaluations > 0 {
            let now = after.lines.first { $0.staff == l.staff }!
            #expect(abs(now.evaluationAmount - 2 * l.evaluationAmount) < 0.011, "\(l.staff)")
        }
        // The old figures are still reproducible under the old version.
        #expect(try view.payroll(from: march.0, to: march.1, formula: .version(1)) == underV1)
        // Comparison: per person and in total.
        let cmp = try view.comparePayroll(from: march.0, to: march.1, .version(1), .version(3))
        #expect(abs(cmp.after.total - cmp.before.total - cmp.lines.reduce(0) { $0 + $1.change }) < 0.05)
        // A formula that does not parse is refused, with the reason.
        #expect(throws: ReportError.self) { try view.payroll(from: march.0, to: march.1, formula: .source("amount = (")) }
    }

    @Test("replay --as-of at several instants matches the live views captured then")
    func replayMatchesLive() async throws {
        let store = MemoryEventStore()
        let clock = ManualClock(Date(timeIntervalSince1970: 1_772_431_200))
        let processor = try CommandProcessor(store: store, clock: clock)
        try await HistoryGenerator(.init(tickets: 0, seed: 3)).setUp(on: processor)
        let view = DeskView()
        let runner = ProjectionRunner(store: store, projections: [view])
        try await runner.prepare()
        var captured: [(Date, TicketState)] = []
        func capture() async throws {
            try await runner.catchUp(view, progress: nil)
            captured.append((clock.now(), view.ticketDetail(1, now: clock.now())!.ticket))
            clock.advance(by: 60)
        }
        clock.advance(by: 3600)
        let opened = try await processor.execute(Command(actor: .system("mail"), .openTicket(OpenTicket(
            channel: .email, subject: "Replay", body: "Тело", contact: .email("user0@org0.example", name: nil)))))
        let n = try #require(opened.ticket)
        clock.advance(by: 60)
        try await capture()
        _ = try await processor.execute(Command(actor: .staff("anna"), .acceptTicket(ticket: n)))
        try await capture()
        _ = try await processor.execute(Command(actor: .staff("anna"), .comment(ticket: n, text: "Internal", internal: true, notify: nil,
                                                                                attachments: [], channel: nil, externalId: nil)))
        _ = try await processor.execute(Command(actor: .staff("anna"), .comment(ticket: n, text: "Answer", internal: false, notify: nil,
                                                                                attachments: [], channel: nil, externalId: nil)))
        try await capture()
        _ = try await processor.execute(Command(actor: .staff("anna"), .close(ticket: n, evaluation: AnswerEvaluation(kind: 2, volume: .short), reason: nil)))
        try await capture()
        for (moment, live) in captured {
            let replay = try #require(try Audit.replay(store, ticket: n, asOf: moment))
            #expect(replay.ticket == live, "at \(moment)")
        }
        // Before it was opened there is nothing.
        #expect(try Audit.replay(store, ticket: n, asOf: captured[0].0.addingTimeInterval(-600)) == nil)
        // History names actor and cause; visibility: the internal comment reached no client.
        let history = try Audit.history(store, ticket: n)
        #expect(history.map(\.type) == ["TicketOpened", "TicketAccepted", "CommentAdded", "CommentAdded", "StatusChanged", "AnswerEvaluated"])
        #expect(history[0].cause == "intake (mail)" && history[1].cause == "person")
        let vis = try Audit.visibility(store, ticket: n)
        #expect(vis.first { $0.comment == 2 }?.contacts.isEmpty == true)
        #expect(vis.first { $0.comment == 3 }?.contacts.map(\.contact).contains("c0-0") == true)
    }

    @Test("the staff feed shows newest activity first, marks unaccepted tickets and filters")
    func staffFeed() async throws {
        let store = MemoryEventStore()
        _ = try await generated(store, tickets: 120, seed: 4)
        let view = DeskView()
        try await ProjectionRunner(store: store, projections: [view]).prepare()
        let now = Date(timeIntervalSince1970: 1_772_431_200 + 86_400 * 10)
        let feed = view.staffFeed(staff: "anna", now: now, limit: 30)
        #expect(feed.count == 30)
        #expect(feed.map(\.activity.sequence) == feed.map(\.activity.sequence).sorted(by: >))
        let mine = view.staffFeed(staff: "anna", filter: { var f = FeedFilter(); f.mine = true; return f }(), now: now, limit: 500)
        #expect(!mine.isEmpty && mine.allSatisfy { $0.responsible == "anna" || view.ticketDetail($0.number, now: now)!.ticket.coExecutors.contains("anna") })
        let unaccepted = view.staffFeed(staff: "anna", filter: { var f = FeedFilter(); f.unaccepted = true; return f }(), now: now, limit: 500)
        #expect(unaccepted.allSatisfy { $0.unaccepted && $0.responsible == nil })
        // Paging: the next page starts below the last sequence of this one.
        let page2 = view.staffFeed(staff: "anna", now: now, limit: 30, before: feed.last!.activity.sequence)
        #expect(Set(page2.map(\.number)).isDisjoint(with: feed.map(\.number)))
    }
}

extension ProjectionsTests {
    @Test("the Chronicle's selective filters read indexes and give exactly what walking the whole feed gives")
    func feedIndexes() async throws {
        let store = MemoryEventStore()
        _ = try await generated(store, tickets: 300, seed: 5)
        let view = DeskView()
        try await ProjectionRunner(store: store, projections: [view]).prepare()
        let now = Date(timeIntervalSince1970: 1_772_431_200 + 86_400 * 20)
        let staff = view.read { $0.state.account.staff.keys.sorted() }
        var filters: [FeedFilter] = []
        for mine in [false, true] {
            for unaccepted in [false, true] {
                for status in [nil, TicketStatus.accepted, .new, .closed] as [TicketStatus?] {
                    for premiumFirst in [false, true] {
                        var f = FeedFilter()
                        f.mine = mine; f.unaccepted = unaccepted; f.status = status; f.premiumFirst = premiumFirst
                        filters.append(f)
                    }
                }
            }
        }
        for r in staff.prefix(3) { var f = FeedFilter(); f.responsible = r; filters.append(f) }
        // Every single facet, and some pairs, each rare or common.
        for status in TicketStatus.allCases { var f = FeedFilter(); f.status = status; filters.append(f) }
        for type in TicketType.allCases {
            var f = FeedFilter(); f.type = type; filters.append(f)
            f.level = .l2; filters.append(f)
        }
        for c in Criticality.allCases { var f = FeedFilter(); f.criticality = c; filters.append(f); f.mine = true; filters.append(f) }
        for l in SupportLevel.allCases { var f = FeedFilter(); f.level = l; filters.append(f); f.status = .resolved; filters.append(f) }
        // Unaccepted with a rare second condition: the newest unaccepted candidates do not fill the page.
        for l in SupportLevel.allCases { var f = FeedFilter(); f.unaccepted = true; f.level = l; filters.append(f) }
        for c in Criticality.allCases { var f = FeedFilter(); f.unaccepted = true; f.criticality = c; filters.append(f) }
        for t in TicketType.allCases { var f = FeedFilter(); f.unaccepted = true; f.type = t; filters.append(f) }
        // The definition, plainly: every ticket the person takes part in that passes the filter,
        // by latest activity, newest first.
        let (tickets, activity) = view.read { ($0.tickets.dictionary, $0.activity) }
        func reference(_ s: StaffId, _ f: FeedFilter) -> [TicketNumber] {
            tickets.values.filter { t in
                !t.spam && t.mergedInto == nil && t.involves(s)
                    && (!f.mine || t.responsible == s || t.coExecutors.contains(s))
                    && (!f.unaccepted || (t.responsible == nil && t.status.isOpen))
                    && f.status.map { t.status == $0 } ?? true && f.type.map { t.classification.type == $0 } ?? true
                    && f.criticality.map { t.classification.criticality == $0 } ?? true && f.level.map { t.level == $0 } ?? true
                    && f.responsible.map { t.responsible == $0 } ?? true
            }.compactMap { t in activity[t.number].map { ($0.sequence, t.number) } }.sorted { $0 > $1 }.map(\.1)
        }
        var nonEmpty = 0
        for s in staff {
            for f in filters {
                for limit in [1, 7, 500] {
                    let indexed = view.staffFeed(staff: s, filter: f, now: now, limit: limit, before: nil, sparse: 1).items
                    let walked = view.staffFeed(staff: s, filter: f, now: now, limit: limit, before: nil, sparse: 0).items
                    #expect(indexed == walked, "\(s) \(f) limit \(limit)")
                    if !f.premiumFirst {
                        #expect(walked.map(\.number) == Array(reference(s, f).prefix(limit)), "\(s) \(f) limit \(limit)")
                    }
                    if !indexed.isEmpty { nonEmpty += 1 }
                    if let mid = walked.dropFirst(walked.count / 2).first?.activity.sequence {
                        #expect(view.staffFeed(staff: s, filter: f, now: now, limit: limit, before: mid, sparse: 1).items
                                == view.staffFeed(staff: s, filter: f, now: now, limit: limit, before: mid, sparse: 0).items)
                    }
                }
            }
        }
        #expect(nonEmpty > filters.count, "the filters match something")
    }

    @Test("following commits, rows are written after so many seconds or events, not after every commit; at once on a quiet desk; a restart catches up either way")
    func lazyFlush() async throws {
        try await withTempFolder { url in
            let store = try LMDBEventStore(directory: url)
            defer { store.close() }
            // Under load: with a minute between writes, only the first batch is written.
            let live = DeskView(), counting = Failing(failAt: .max)
            let runner = ProjectionRunner(store: store, projections: [live, counting], lazyFlushEvents: 1_000_000, lazyFlushSeconds: 60)
            try await runner.prepare()
            runner.start()
            let processor = try await generated(store, tickets: 60, seed: 8)
            let head = store.committedHead
            try await runner.waitUntil(head)
            #expect(runner.position("desk") == head)
            let (applies, flushes) = counting.lock.withLock { (counting.applies, counting.liveFlushes) }
            #expect(applies > 2 && flushes == 1, "\(flushes) writes for \(applies) batches")
            let stored = try store.read { try $0.checkpoint("proj.desk") } ?? 0
            #expect(stored > 0 && stored < head)
            runner.stop()
            // Whatever was stored, a restart loads it and catches up to the same state.
            let again = DeskView()
            try await ProjectionRunner(store: store, projections: [again]).prepare()
            #expect(content(again).0 == content(live).0)

            // A quiet desk: once the interval has passed, the next command is written at once.
            let quiet = ProjectionRunner(store: store, projections: [DeskView()], lazyFlushSeconds: 0.2)
            try await quiet.prepare()
            quiet.start()
            defer { quiet.stop() }
            try await Task.sleep(for: .milliseconds(300))
            let o = try await processor.execute(Command(actor: .staff("olga"), .createOrganisation(id: "lazy", name: "Lazy", tierId: nil, domains: [])))
            let now = o.sequences.max()!
            try await quiet.waitUntil(now)
            var written: UInt64 = 0
            for _ in 0..<400 where written < now {
                written = try store.read { try $0.checkpoint("proj.desk") } ?? 0
                if written < now { try await Task.sleep(for: .milliseconds(5)) }
            }
            #expect(written == now)
        }
    }

    /// Counts what it folds; its rows fail to be written from the `failAt`-th flush on.
    final class Failing: Projection, @unchecked Sendable {
        let name = "failing", codeVersion = 1
        var databases: [String] { ["proj.failing"] }
        let lock = NSLock()
        var folded = 0, flushes = 0, applies = 0, liveFlushes = 0
        let failAt: Int
        init(failAt: Int) { self.failAt = failAt }
        func reset() { lock.withLock { folded = 0 } }
        func apply(_ batch: ArraySlice<(event: DeskEvent, record: RecordedEvent)>) { lock.withLock { folded += batch.count; applies += 1 } }
        func flush(into writer: any LogWriter) throws { lock.withLock { liveFlushes += 1 } }
        func didFlush() {}
        func load(from reader: any LogReader) throws {}
        func takeFlush() -> (@Sendable (any LogWriter) throws -> Void)? {
            let n = lock.withLock { flushes += 1; return flushes }
            let failAt = self.failAt
            return { w in
                if n >= failAt { throw EventLogError(.invalidInput, "flush \(n) fails") }
                try w.put([1], [UInt8(n)], in: "proj.failing")
            }
        }
    }

    @Test("a rebuild whose rows cannot be written fails, and leaves no projection ahead of what was stored")
    func rebuildFailureResets() async throws {
        try await withTempFolder { url in
            let store = try LMDBEventStore(directory: url)
            defer { store.close() }
            _ = try await generated(store, tickets: 60, seed: 3)
            let view = DeskView(), failing = Failing(failAt: 3)
            let runner = ProjectionRunner(store: store, projections: [view, failing], rebuildBatchSize: 100)
            await #expect(throws: EventLogError.self) { try await runner.rebuild(names: []) }
            #expect(failing.flushes >= 3)
            #expect(runner.position("desk") == 0 && runner.position("failing") == 0)
            #expect(view.read { $0.tickets.isEmpty } && failing.folded == 0)
            // What was stored is the rows and checkpoint of one batch (the second flush): a view loaded
            // from them and caught up equals one rebuilt whole.
            let stored = try store.read { try $0.checkpoint("proj.desk") } ?? 0
            #expect(stored > 0 && stored < store.committedHead)
            let loaded = DeskView()
            let r2 = ProjectionRunner(store: store, projections: [loaded])
            try await r2.prepare()
            let whole = DeskView()
            try await ProjectionRunner(store: store, projections: [whole], persist: true).rebuild(names: [])
            #expect(content(loaded).0 == content(whole).0)
        }
    }

    @Test("unaccepted, premium first: when the newest unaccepted tickets hold too few premium ones, every unaccepted one is looked at")
    func unacceptedDeepPage() async throws {
        let store = MemoryEventStore()
        let processor = try await generated(store, tickets: 20, seed: 4)
        _ = try await processor.execute(Command(actor: .staff("olga"), .createOrganisation(id: "deep", name: "Deep", tierId: nil, domains: ["deep.example"])))
        _ = try await processor.execute(Command(actor: .staff("olga"), .buyPremiumQuota(organisation: "deep", tickets: 3, note: nil)))
        var opened: [TicketNumber] = []
        for i in 0..<60 {
            // Only the oldest three are premium; fifty-seven newer unaccepted tickets come after them.
            let o = try await processor.execute(Command(actor: .system("mail"), .openTicket(OpenTicket(
                channel: .email, subject: "Waiting \(i)", body: "x", contact: .email("deep\(i % 7)@deep.example", name: nil),
                organisation: "deep", premium: i < 3))))
            opened.append(o.ticket!)
        }
        let view = DeskView()
        try await ProjectionRunner(store: store, projections: [view]).prepare()
        #expect(view.read { v in opened.prefix(3).allSatisfy { v.tickets[$0]!.premium } })
        let now = Date(timeIntervalSince1970: 1_772_431_200 + 86_400 * 20)
        var f = FeedFilter()
        f.unaccepted = true
        f.premiumFirst = true
        var checked = 0
        for s in view.read({ $0.state.account.staff.keys.sorted() }) {
            let indexed = view.staffFeed(staff: s, filter: f, now: now, limit: 2, before: nil, sparse: 1).items
            #expect(indexed == view.staffFeed(staff: s, filter: f, now: now, limit: 2, before: nil, sparse: 8).items, "\(s)")
            #expect(indexed == view.staffFeed(staff: s, filter: f, now: now, limit: 2, before: nil, sparse: 0).items, "\(s)")
            guard view.read({ $0.tickets[opened[0]]!.involves(s) }) else { continue }
            #expect(indexed.map(\.number) == [opened[2], opened[1]], "\(s)")
            checked += 1
        }
        #expect(checked > 3)
    }

    @Test("a client's ticket list, merged from the end of their lists, is the plain definition: through contact merges, with sharing off and on")
    func clientListsMatchTheDefinition() async throws {
        let store = MemoryEventStore()
        let processor = try await generated(store, tickets: 300, seed: 21)
        let view = DeskView()
        let runner = ProjectionRunner(store: store, projections: [view])
        try await runner.prepare()
        // Chains of merges: c → d, then d → e (e's list holds all three contacts' tickets).
        let contacts = view.read { v in v.state.contacts.values.filter { $0.mergedInto == nil }.map(\.id).sorted() }
        #expect(contacts.count > 12)
        for (dup, into) in [(contacts[0], contacts[1]), (contacts[1], contacts[2]), (contacts[5], contacts[2]), (contacts[7], contacts[8])] {
            _ = try await processor.execute(Command(actor: .staff("olga"), .mergeContacts(duplicate: dup, into: into)))
        }
        func check(_ label: String) throws {
            let (tickets, state) = view.read { ($0.tickets.dictionary, $0.state) }
            var nonEmpty = 0
            for c in state.contacts.keys.sorted() {
                let reference = tickets.values.filter { !$0.spam && $0.mergedInto == nil && state.contactReaches(c, $0) }
                    .sorted { ($0.openedAt, $0.number) > ($1.openedAt, $1.number) }.map(\.number)
                for limit in [1, 3, 100] {
                    #expect(view.clientTickets(contact: c, limit: limit).map(\.number) == Array(reference.prefix(limit)), "\(label) \(c) \(limit)")
                }
                if !reference.isEmpty { nonEmpty += 1 }
            }
            #expect(nonEmpty > 10)
        }
        try await runner.catchUp(view, progress: nil)
        #expect(view.read { $0.openedInOrder })
        try check("sharing \(view.account.visibility.organisationSharing)")
        for sharing in [true, false] {
            _ = try await processor.execute(Command(actor: .staff("olga"), .setVisibility(VisibilitySettings(onlyNotified: false, organisationSharing: sharing))))
            try await runner.catchUp(view, progress: nil)
            try check("sharing \(sharing)")
        }
        // A view loaded from its rows finds the merges too.
        let loaded = DeskView()
        try store.read { try loaded.load(from: $0) }
        for c in contacts.prefix(10) {
            #expect(loaded.clientTickets(contact: c).map(\.number) == view.clientTickets(contact: c).map(\.number), "loaded \(c)")
        }
    }

    @Test("a ticket marked as spam or merged away leaves the open tickets even when no status change follows")
    func openFactsWithoutStatusChange() async throws {
        let store = MemoryEventStore()
        _ = try await generated(store, tickets: 40, seed: 5)
        let view = DeskView()
        let runner = ProjectionRunner(store: store, projections: [view])
        try await runner.prepare()
        let open = view.read { v in v.openFacts.map(\.key).sorted() }
        #expect(open.count >= 3)
        // Events alone, as an older desk or another writer may have stored them (the processor
        // closes such tickets in the same command).
        for event in [DeskEvent.markedAsSpam(MarkedAsSpam(ticket: open[0], by: "olga")),
                      .ticketMerged(TicketMerged(ticket: open[1], into: open[2], by: "olga"))] {
            let enc = try EventCodec.encode(event)
            try await store.append(to: Streams.ticket(event.ticket!), [NewEvent(type: enc.type, schemaVersion: enc.schemaVersion,
                                                                                 timestamp: Date(), payload: enc.payload)])
        }
        try await runner.catchUp(view, progress: nil)
        #expect(view.read { v in v.tickets[open[0]]!.status.isOpen && v.tickets[open[1]]!.status.isOpen })
        #expect(view.read { v in v.openFacts[open[0]] == nil && v.openFacts[open[1]] == nil && v.openFacts[open[2]] != nil })
    }

    @Test("the queues, from the open-ticket index, match a scan of every ticket: counts, order and first rows")
    func queues() async throws {
        let store = MemoryEventStore()
        _ = try await generated(store, tickets: 300, seed: 9)
        let view = DeskView()
        try await ProjectionRunner(store: store, projections: [view]).prepare()
        let now = Date(timeIntervalSince1970: 1_772_431_200 + 86_400 * 20)
        // The oracle: every ticket, filtered and sorted here.
        let all = view.read { v in v.tickets.values.filter { $0.status.isOpen && !$0.spam && $0.mergedInto == nil } }
        let activity = view.read { $0.activity }
        #expect(all.count > 10 && all.count < view.read { $0.tickets.count }, "the history has open and finished tickets")
        for sort in QueueSort.allCases {
            let ordered: [TicketState] = switch sort {
            case .number: all.sorted { $0.number > $1.number }
            case .activity: all.sorted { (activity[$0.number]!.sequence, $0.number) > (activity[$1.number]!.sequence, $1.number) }
            case .status: all.sorted { ($0.status.rawValue, $1.number) < ($1.status.rawValue, $0.number) }
            }
            let queues = view.queues(now: now, sort: sort, rows: 7)
            let members: [(String, (TicketState) -> Bool)] = [
                ("Premium", { $0.premium }), ("Normal", { !$0.premium }), ("Unaccepted", { $0.responsible == nil }),
                ("Overdue", { DeskView.overdue($0, now: now) }),
            ]
            #expect(queues.map(\.name) == members.map(\.0))
            for (q, (name, member)) in zip(queues, members) {
                let expected = ordered.filter(member)
                #expect(q.count == expected.count, "\(name) by \(sort)")
                #expect(q.rows.map(\.number) == expected.prefix(7).map(\.number), "\(name) by \(sort)")
            }
        }
        #expect(view.openTickets(now: now, limit: 5).map(\.number) == all.map(\.number).sorted(by: >).prefix(5).map { $0 })
    }
}

enum PayrollFormulaFixture {
    /// Version 1 of the generator's formula, by hand.
    static func v1(_ e: AnswerEvaluation) throws -> Double {
        let base = [60.0, 90, 150, 250, 400][e.kind - 1]
        let volume = e.volume == .long ? 1.4 : 1.0
        let help = [1.0, 0.7, 0.4][e.help - 1]
        return ((base * volume + Double(e.links * 10 + e.screenshots * 15)) * help * 100).rounded() / 100
    }
}

@Suite("Outbox queries")
struct OutboxQueryTests {
    @Test("due() gives the oldest `limit` waiting entries, the same as filtering and sorting everything, through changes that leave stale schedule elements; nextDue is the minimum")
    func dueIsTheOldest() {
        var rng = SystemRandomNumberGenerator()
        let box = Outbox()
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let statuses: [Outbox.Status] = [.pending, .failed, .sending, .parked]
        func entry(_ i: Int) -> Outbox.Entry {
            Outbox.Entry(ticket: 1 + i % 400, comment: i, contact: "c\(i % 10)",
                         createdAt: t0, status: statuses.randomElement(using: &rng)!, attempts: 0,
                         nextAttemptAt: t0.addingTimeInterval(Double(Int.random(in: 0...500, using: &rng))), lastError: nil)
        }
        for i in 0..<3_000 { box.put(entry(i)) }
        // Entries change status and time again and again (each change schedules anew).
        for _ in 0..<4_000 { box.put(entry(Int.random(in: 0..<3_000, using: &rng))) }
        var now = t0.addingTimeInterval(250)
        let waiting = box.all.filter { $0.status == .pending || $0.status == .failed }
        let expected = waiting.filter { $0.nextAttemptAt <= now }
            .sorted { ($0.nextAttemptAt, $0.ticket, $0.comment, $0.contact) < ($1.nextAttemptAt, $1.ticket, $1.comment, $1.contact) }
        for limit in [0, 1, 100, 10_000, 100] {
            #expect(box.due(at: now, limit: limit) == Array(expected.prefix(limit)), "limit \(limit)")
        }
        #expect(box.nextDue == waiting.map(\.nextAttemptAt).min())
        #expect(box.scheduledKeys == Set(waiting.map(\.key)))
        // Nothing waits any more: every element is stale.
        for var e in box.all { e.status = .parked; box.put(e) }
        now = .distantFuture
        #expect(box.due(at: now).isEmpty && box.nextDue == nil && box.scheduledKeys.isEmpty)
        #expect(Outbox().nextDue == nil && Outbox().due(at: now).isEmpty)
    }
}
