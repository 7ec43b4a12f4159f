import BusinessTime
import DeskEngine
@testable import DeskServer
import EventLog
import Foundation
@testable import SupportDesk
import Projections
import Testing

/// `ReadCache` may only ever answer what the view would answer now.
@Suite("Read cache: Chronicle pages and ticket JSON are reused only while they hold", .serialized)
struct ReadCacheTests {
    @Test("through the server: a kept page or ticket never outlives a command, a reset or a due time passing")
    func endToEnd() async throws {
        let desk = Desk()
        let clock = ManualClock(Date(timeIntervalSince1970: 1_780_000_000))
        var o = ServerOptions(dataDirectory: desk.url)
        o.port = 0
        o.adminToken = Desk.adminToken
        o.mailSender = nil
        let service = try await DeskService.open(o, clock: clock).0
        defer { service.close() }
        // Around the clock, an hour to react, eight to resolve: due times the test can pass.
        for c: CommandBody in [.defineCalendar(.twentyFourSeven()),
                               .defineSLATier(SLATier(id: "std", name: "Standard", calendarId: BusinessCalendar.twentyFourSeven().id,
                                                      reactionHours: 1, resolutionHours: 8), isDefault: true)] {
            _ = try await service.processor.execute(Command(actor: .staff("admin"), c))
        }
        try await serve(service) { api in
            let t = try await api.setUp()
            let opened = try await api.post("/tickets", t.ivan, #"{"subject":"Cache me","body":"first"}"#)
            let n = opened.object["ticket"] as? Int ?? 0
            #expect(opened.status == 201 && n > 0)
            func firstRow(_ r: Reply) -> [String: Any] { (r.json as? [[String: Any]])?.first ?? [:] }

            // A page asked twice is made once; it is the same page.
            let page1 = try await api.get("/tickets?limit=10", t.anna)
            #expect(firstRow(page1)["number"] as? Int == n && firstRow(page1)["overdue"] as? Bool == false)
            #expect(service.readCache.pageCount == 1)
            let page2 = try await api.get("/tickets?limit=10", t.anna)
            #expect(page2.body == page1.body)
            // Another question is kept apart.
            #expect(try await api.get("/tickets?limit=10&unaccepted=true", t.anna).status == 200)
            #expect(service.readCache.pageCount == 2)

            // A command's caller reads its own write: the page is made again.
            #expect(try await api.post("/tickets/\(n)/accept", t.anna).status == 200)
            let afterAccept = try await api.get("/tickets?limit=10", t.anna)
            #expect(firstRow(afterAccept)["responsible"] as? String == "anna", "\(afterAccept.body)")
            #expect((firstRow(afterAccept)["activity"] as? [String: Any])?["type"] as? String == "TicketAccepted")
            #expect(try await api.get("/tickets?limit=10&unaccepted=true", t.anna).body == "[]")

            // Time alone: past the reaction due time the row turns overdue, with no event in between.
            clock.advance(by: 3_600 - 1)
            #expect(firstRow(try await api.get("/tickets?limit=10", t.anna))["overdue"] as? Bool == false)
            clock.advance(by: 2)
            #expect(firstRow(try await api.get("/tickets?limit=10", t.anna))["overdue"] as? Bool == true)

            // Ticket details: the ticket's JSON is rendered once per version.
            let d1 = try await api.get("/tickets/\(n)", t.anna)
            let d2 = try await api.get("/tickets/\(n)", t.boris)
            #expect(d1.status == 200 && d1.body == d2.body && d1.etag == d2.etag)
            #expect(service.readCache.ticketCount.entries == 1)
            #expect(try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"Second thoughts"}"#).status == 200)
            let d3 = try await api.get("/tickets/\(n)", t.anna)
            #expect(d3.body.contains("Second thoughts") && d3.etag != d1.etag, "\(d3.etag ?? "")")
            // What is around the ticket (breaches by the clock) is written fresh: the reaction was late.
            #expect(d1.object["reactionBreached"] as? Bool == true && d3.object["reactionBreached"] as? Bool == true)

            // A reset of the view (a rebuild) starts a new epoch: nothing rendered before is reused.
            let epoch = service.view.epoch
            try await service.runner.rebuild(names: ["desk"])
            #expect(service.view.epoch > epoch)
            // The detail after the rebuild is rendered from the rebuilt state.
            let d4 = try await api.get("/tickets/\(n)", t.anna)
            let rebuilt = try #require(service.view.ticketDetail(n, now: clock.now()))
            #expect(d4.body == String(decoding: try encodeJSON(rebuilt), as: UTF8.self))
        }
    }

    func ticket(_ n: TicketNumber, subject: String, version: UInt64) -> TicketState {
        var t = TicketState(number: n, channel: .portal, subject: subject, contact: "ivan", organisation: nil, language: "en",
                            openedAt: Date(timeIntervalSince1970: 1_780_000_000), premium: false, participants: [])
        t.version = version
        return t
    }

    @Test("a ticket's JSON is known by number, version and epoch")
    func ticketKeys() throws {
        let cache = ReadCache()
        let a = try cache.json(of: ticket(1, subject: "Alpha", version: 1), epoch: 1)
        #expect(String(decoding: a, as: UTF8.self).contains("Alpha"))
        // Same number, version and epoch: the kept rendering (the state is named by its version).
        let kept = try cache.json(of: ticket(1, subject: "Other", version: 1), epoch: 1)
        #expect(kept == a)
        // A new version, or the same version in a new epoch, is rendered anew.
        #expect(String(decoding: try cache.json(of: ticket(1, subject: "Beta", version: 2), epoch: 1), as: UTF8.self).contains("Beta"))
        #expect(String(decoding: try cache.json(of: ticket(1, subject: "Gamma", version: 2), epoch: 2), as: UTF8.self).contains("Gamma"))
        // A reader that raced with an older version never replaces the newer rendering.
        _ = try cache.json(of: ticket(1, subject: "Old", version: 1), epoch: 2)
        #expect(String(decoding: try cache.json(of: ticket(1, subject: "x", version: 2), epoch: 2), as: UTF8.self).contains("Gamma"))
        #expect(try cache.json(of: ticket(2, subject: "Two", version: 1), epoch: 2) == encodeJSON(ticket(2, subject: "Two", version: 1)))
        #expect(cache.ticketCount.entries == 2)
    }

    @Test("bounded: past its limits the cache starts over")
    func bounds() throws {
        let cache = ReadCache(limits: .init(pages: 2, pageBytes: 100, ticketBytes: 2_000))
        func key(_ s: String) -> ReadCache.PageKey { ReadCache.PageKey(staff: s, filter: FeedFilter(), limit: 50, before: nil) }
        let now = Date()
        for s in ["a", "b"] { cache.keep(key(s), .init(generation: 1, freshUntil: nil, bytes: Array(s.utf8))) }
        #expect(cache.page(key("a"), generation: 1, now: now) == Array("a".utf8))
        #expect(cache.page(key("a"), generation: 2, now: now) == nil, "another generation")
        cache.keep(key("c"), .init(generation: 1, freshUntil: now, bytes: [1]))
        #expect(cache.pageCount == 1 && cache.page(key("a"), generation: 1, now: now) == nil)
        #expect(cache.page(key("c"), generation: 1, now: now) == [1])
        #expect(cache.page(key("c"), generation: 1, now: now.addingTimeInterval(0.001)) == nil, "past freshUntil")
        // Bytes: a page that would pass 100 bytes starts it over; replacing a page counts it once.
        cache.keep(key("c"), .init(generation: 2, freshUntil: nil, bytes: [UInt8](repeating: 1, count: 60)))
        #expect(cache.pageBytes == 60)
        cache.keep(key("d"), .init(generation: 2, freshUntil: nil, bytes: [UInt8](repeating: 2, count: 50)))
        #expect(cache.pageCount == 1 && cache.pageBytes == 50 && cache.page(key("d"), generation: 2, now: now) != nil)

        var total = 0
        for n in 1...40 {
            total += try cache.json(of: ticket(n, subject: "Ticket \(n)", version: 1), epoch: 1).count
            #expect(cache.ticketCount.bytes <= 2_000)
        }
        #expect(total > 2_000 && cache.ticketCount.entries < 40)
    }
}
