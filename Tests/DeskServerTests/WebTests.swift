import BusinessTime
import DeskServer
import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import SupportDesk
import Testing

/// One page request's answer.
struct Page {
    var status: Int
    var body: String
    var location: String?
    var setCookie: String?
}

extension API {
    /// A page request with the session cookie (and a form body for POST).
    func page(_ method: HTTPRequest.Method, _ uri: String, cookie: String?, form: [String: String]? = nil) async throws -> Page {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = "hd_session=\(cookie)" }
        var body: ByteBuffer?
        if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            let text = form.map { k, v in
                "\(k.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)=\(v.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
            }.joined(separator: "&")
            body = ByteBuffer(string: text)
        }
        return try await client.execute(uri: uri, method: method, headers: headers, body: body) { r in
            Page(status: Int(r.status.code), body: String(buffer: r.body), location: r.headers[.location], setCookie: r.headers[.setCookie])
        }
    }

    /// Signs in through the form with an API token; returns the session cookie's value.
    func signIn(_ token: String) async throws -> String {
        let r = try await page(.post, "/ui/signin", cookie: nil, form: ["token": token])
        #expect(r.status == 303, "\(r.body)")
        let cookie = try #require(r.setCookie)
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Secure"))
        return String(cookie.split(separator: ";")[0].dropFirst("hd_session=".count))
    }
}

/// Opens a streaming GET on a raw socket (a browser's open EventSource) and returns the socket.
func openStream(port: Int, path: String, cookie: String) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard rc == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
    let request = "GET \(path) HTTP/1.1\r\nHost: localhost\r\nCookie: hd_session=\(cookie)\r\nAccept: text/event-stream\r\n\r\n"
    _ = request.withCString { send(fd, $0, strlen($0), 0) }
    return fd
}

/// The `_csrf` value in a page's first form.
func csrf(in html: String) -> String? {
    guard let r = html.range(of: #"name="_csrf" value=""#) else { return nil }
    return String(html[r.upperBound...].prefix { $0 != "\"" })
}

@Suite("Web pages: sign-in, the Chronicle, the ticket page and the portal, with the API's authorization", .serialized)
struct WebTests {
    @Test("staff accept and answer from the pages; the client reads and replies in the portal; nobody reaches what is not theirs")
    func pagesEndToEnd() async throws {
        let desk = Desk()
        let service = try await desk.open()
        defer { service.close() }
        try await serve(service) { api in
            let t = try await api.setUp()
            let opened = try await api.post("/tickets", t.ivan, #"{"subject":"Printer <script>alert(1)</script> on fire","body":"Smoke everywhere"}"#)
            let n = try #require(opened.object["ticket"] as? Int)

            // Not signed in: every page leads to the sign-in form.
            let root = try await api.page(.get, "/", cookie: nil)
            #expect(root.status == 303 && root.location == "/ui/signin")
            #expect(try await api.page(.get, "/ui/chronicle", cookie: nil).location == "/ui/signin")
            #expect(try await api.page(.get, "/ui/signin", cookie: nil).body.contains(#"name="token""#))
            let bad = try await api.page(.post, "/ui/signin", cookie: nil, form: ["token": "nope"])
            #expect(bad.status == 401 && bad.body.contains("unknown"))

            // Anna signs in and sees the ticket in the Chronicle, unaccepted, with the subject escaped.
            let anna = try await api.signIn(t.anna)
            let chronicle = try await api.page(.get, "/ui/chronicle", cookie: anna)
            #expect(chronicle.status == 200)
            #expect(chronicle.body.contains("#\(n)</strong>") && chronicle.body.contains("Unaccepted"))
            #expect(chronicle.body.contains("&lt;script&gt;") && !chronicle.body.contains("<script>alert"))
            let token = try #require(csrf(in: chronicle.body))
            // Filters by level, type and criticality: the new ticket is L1 and not classified yet.
            let l1 = try await api.page(.get, "/ui/chronicle?level=1", cookie: anna).body
            #expect(l1.contains("#\(n)</strong>") && l1.contains(#"<option value="1" selected>L1</option>"#))
            #expect(!(try await api.page(.get, "/ui/chronicle?level=2", cookie: anna).body.contains("#\(n)</strong>")))
            #expect(!(try await api.page(.get, "/ui/chronicle?type=outage", cookie: anna).body.contains("#\(n)</strong>")))
            #expect(!(try await api.page(.get, "/ui/chronicle?criticality=high", cookie: anna).body.contains("#\(n)</strong>")))

            // A form without the right CSRF value changes nothing.
            let forged = try await api.page(.post, "/ui/tickets/\(n)/accept", cookie: anna, form: ["_csrf": "0000"])
            #expect(forged.status == 403)
            #expect(try await api.get("/tickets/\(n)", t.anna).body.contains(#""responsible""#) == false)
            // Accept from the Chronicle.
            let accepted = try await api.page(.post, "/ui/tickets/\(n)/accept", cookie: anna, form: ["_csrf": token])
            #expect(accepted.status == 303 && accepted.location?.hasPrefix("/ui/tickets/\(n)") == true)
            let ticketPage = try await api.page(.get, accepted.location!, cookie: anna)
            #expect(ticketPage.body.contains("You accepted") && ticketPage.body.contains("Responsible: Anna"))
            #expect(!ticketPage.body.contains("badge unaccepted"))

            // An internal note and an answer, from the ticket page.
            _ = try await api.page(.post, "/ui/tickets/\(n)/comment", cookie: anna, form: ["_csrf": token, "text": "Check the fuser", "internal": "true"])
            _ = try await api.page(.post, "/ui/tickets/\(n)/comment", cookie: anna, form: ["_csrf": token, "text": "Switch it off, please", "internal": "false"])
            let thread = try await api.page(.get, "/ui/tickets/\(n)", cookie: anna)
            #expect(thread.body.contains("comment internal") && thread.body.contains("Check the fuser") && thread.body.contains("Switch it off"))

            // Ivan's portal shows the answer, never the internal note; he replies and rates.
            let ivan = try await api.signIn(t.ivan)
            let portal = try await api.page(.get, "/ui/portal", cookie: ivan)
            #expect(portal.status == 200 && portal.body.contains("/ui/portal/\(n)"))
            let mine = try await api.page(.get, "/ui/portal/\(n)", cookie: ivan)
            #expect(mine.body.contains("Switch it off, please") && !mine.body.contains("fuser"))
            let ivanToken = try #require(csrf(in: mine.body))
            let reply = try await api.page(.post, "/ui/portal/\(n)/reply", cookie: ivan, form: ["_csrf": ivanToken, "text": "Done, thanks"])
            #expect(reply.status == 303)
            // Ivan's reply is new activity for Anna until she opens the ticket.
            let unread = try await api.page(.get, "/ui/chronicle", cookie: anna)
            #expect(unread.body.contains("badge unread"), "the Chronicle marks the ticket unread")
            #expect(try await api.page(.get, "/ui/tickets/\(n)", cookie: anna).body.contains("Done, thanks"))
            #expect(!(try await api.page(.get, "/ui/chronicle", cookie: anna).body.contains("badge unread")))

            // Who else is viewing: Boris's open ticket page (its live stream) shows up for Anna, and goes when he leaves.
            let boris = try await api.signIn(t.boris)
            let port = try #require(api.client.port)
            let stream = try openStream(port: port, path: "/live?ticket=\(n)", cookie: boris)
            try await waitFor("Boris to be seen viewing") {
                try await api.page(.get, "/ui/tickets/\(n)/viewers", cookie: anna).body.contains("Boris")
            }
            #expect(try await api.page(.get, "/ui/tickets/\(n)", cookie: anna).body.contains("Also viewing now: <span id=\"viewers\">Boris"))
            close(stream)
            try await waitFor("Boris to leave") {
                !(try await api.page(.get, "/ui/tickets/\(n)/viewers", cookie: anna).body.contains("Boris"))
            }
            let rated = try await api.page(.post, "/ui/portal/\(n)/rate", cookie: ivan, form: ["_csrf": ivanToken, "comment": "3", "score": "5"])
            #expect(rated.status == 303, "\(rated.body)")

            // A client never reaches a staff page; another client never reaches this ticket.
            #expect(try await api.page(.get, "/ui/chronicle", cookie: ivan).location == "/ui/portal")
            #expect(try await api.page(.get, "/ui/tickets/\(n)", cookie: ivan).location == "/ui/portal")
            let gina = try await api.signIn(t.other)
            let foreign = try await api.page(.get, "/ui/portal/\(n)", cookie: gina)
            #expect(foreign.status == 404 && !foreign.body.contains("Printer"))
            let ginaPortal = try await api.page(.get, "/ui/portal", cookie: gina)
            #expect(!ginaPortal.body.contains("Printer"))
            // Staff pages answer a staff member's cookie only; the portal sends staff to the Chronicle.
            #expect(try await api.page(.get, "/ui/portal", cookie: anna).location == "/ui/chronicle")

            // The ticket's other actions from its page: classify, level, time; a bad one says why.
            let classified = try await api.page(.post, "/ui/tickets/\(n)/action", cookie: anna,
                                                form: ["_csrf": token, "action": "classify", "type": "incident", "criticality": "high", "complexity": "3"])
            #expect(classified.location?.contains("done=Classified") == true, "\(classified.location ?? "")")
            _ = try await api.page(.post, "/ui/tickets/\(n)/action", cookie: anna, form: ["_csrf": token, "action": "level", "level": "2"])
            _ = try await api.page(.post, "/ui/tickets/\(n)/action", cookie: anna, form: ["_csrf": token, "action": "time", "minutes": "25"])
            let badMerge = try await api.page(.post, "/ui/tickets/\(n)/action", cookie: anna, form: ["_csrf": token, "action": "merge", "into": "\(n)"])
            #expect(badMerge.location?.contains("error=") == true)
            let worked = try #require(service.view.ticketDetail(n, now: Date())).ticket
            #expect(worked.classification.type == .incident && worked.classification.criticality == .high && worked.level == .l2)
            #expect(worked.loggedMinutes["anna"] == 25)
            #expect(try await api.page(.get, "/ui/tickets/\(n)", cookie: anna).body.contains("incident · high · complexity 3"))

            // Close with the evaluation: payroll sees it. The dialog offers the five kinds by name; a
            // wrong evaluation is refused with the reason and leaves the ticket open.
            let closing = try await api.page(.get, "/ui/tickets/\(n)", cookie: anna).body
            #expect(closing.contains(#"name="kind" value="5""#) && closing.contains("step-by-step instructions") && closing.contains(#"name="screenshots""#))
            let refused = try await api.page(.post, "/ui/tickets/\(n)/close", cookie: anna,
                                             form: ["_csrf": token, "volume": "long", "links": "many", "help": "1", "kind": "3"])
            #expect(refused.location?.contains("error=") == true, "\(refused.location ?? "")")
            #expect(try await api.get("/tickets/\(n)", t.anna).body.contains(#""status":"closed""#) == false)
            let closed = try await api.page(.post, "/ui/tickets/\(n)/close", cookie: anna,
                                            form: ["_csrf": token, "kind": "3", "volume": "long", "links": "1", "screenshots": "2", "help": "2"])
            #expect(closed.location?.contains("done=") == true, "\(closed.location ?? "")")
            #expect(try await api.get("/tickets/\(n)", t.anna).body.contains(#""status":"closed""#))
            #expect(service.view.ticketDetail(n, now: Date())?.ticket.evaluations["anna"]
                    == AnswerEvaluation(kind: 3, volume: .long, links: 1, screenshots: 2, help: 2))

            // The live updates use the cookie (EventSource sends no headers); JSON commands never do.
            #expect(try await api.page(.get, "/live?max=0", cookie: anna).status == 200)
            #expect(try await api.page(.post, "/commands", cookie: anna, form: [:]).status == 401)

            // Signing out ends the session (its token is revoked), not the token typed in.
            let out = try await api.page(.post, "/ui/signout", cookie: anna, form: ["_csrf": token])
            #expect(out.status == 303 && out.setCookie?.contains("Max-Age=0") == true)
            #expect(try await api.page(.get, "/ui/chronicle", cookie: anna).location == "/ui/signin")
            #expect(try await api.get("/me", t.anna).status == 200)
        }
    }

    @Test("an invitation link signs a contact into the portal once")
    func invitationLink() async throws {
        let desk = Desk()
        let service = try await desk.open()
        defer { service.close() }
        try await serve(service) { api in
            let t = try await api.setUp()
            let inv = try await api.post("/invitations", t.anna, #"{"contact":"petr"}"#)
            let code = try #require(inv.object["invitation"] as? String)
            let first = try await api.page(.get, "/ui/invite?code=\(code)", cookie: nil)
            #expect(first.status == 303 && first.location == "/ui/portal" && first.setCookie != nil)
            let session = String(first.setCookie!.split(separator: ";")[0].dropFirst("hd_session=".count))
            #expect(try await api.page(.get, "/ui/portal", cookie: session).status == 200)
            let again = try await api.page(.get, "/ui/invite?code=\(code)", cookie: nil)
            #expect(again.status == 404 && again.body.contains("not valid"))
        }
    }

    @Test("reports and audit pages: payroll with a formula comparison and CSV, SVG charts, history and the ticket as it was; managers only")
    func reportsAndAudit() async throws {
        let desk = Desk()
        let service = try await desk.open()
        defer { service.close() }
        try await serve(service) { api in
            let t = try await api.setUp()
            let opened = try await api.post("/tickets", t.ivan, #"{"subject":"Invoice wrong","body":"Please fix"}"#)
            let n = try #require(opened.object["ticket"] as? Int)
            // A moment (whole seconds) after the opening and before the answer.
            try await Task.sleep(nanoseconds: 1_100_000_000)
            let beforeAnswer = ISO8601DateFormatter().string(from: Date())
            try await Task.sleep(nanoseconds: 1_100_000_000)
            #expect(try await api.post("/tickets/\(n)/accept", t.anna).status == 200)
            #expect(try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"Fixed it"}"#).status == 200)
            let close = #"{"evaluation":{"kind":3,"volume":"long","links":1,"screenshots":0,"help":1}}"#
            #expect(try await api.post("/tickets/\(n)/close", t.anna, close).status == 200)
            _ = try await api.post("/commands", Desk.adminToken,
                                   #"{"publishFormula":{"effectiveFrom":"2020-01-02","source":"amount = 100","note":"flat"}}"#)

            let max = try await api.signIn(t.manager)
            let reports = try await api.page(.get, "/ui/reports?from=2000-01-01&to=2100-01-01&formula=1&compare=2", cookie: max)
            #expect(reports.status == 200, "\(reports.body.prefix(300))")
            #expect(reports.body.contains("Payroll") && reports.body.contains("Anna") && reports.body.contains("Download CSV"))
            #expect(reports.body.contains("Comparison") && reports.body.contains("100.00"))
            #expect(reports.body.components(separatedBy: "<svg").count - 1 >= 4)
            let csv = try await api.page(.get, "/reports/payroll?from=2000-01-01&to=2100-01-01&format=csv", cookie: max)
            #expect(csv.status == 200 && csv.body.contains("Anna"))
            // Not for plain staff or clients.
            let anna = try await api.signIn(t.anna)
            #expect(try await api.page(.get, "/ui/reports", cookie: anna).location == "/ui/chronicle")
            let ivan = try await api.signIn(t.ivan)
            #expect(try await api.page(.get, "/ui/reports", cookie: ivan).location == "/ui/portal")
            #expect(try await api.page(.get, "/ui/audit/\(n)", cookie: ivan).location == "/ui/portal")
            #expect(try await api.page(.get, "/reports/payroll?from=2000-01-01&to=2100-01-01&format=csv", cookie: ivan).status == 403)

            // Audit: the history with causes, the ticket before the answer, and visibility.
            let audit = try await api.page(.get, "/ui/audit/\(n)?asOf=\(beforeAnswer)", cookie: max)
            #expect(audit.status == 200)
            #expect(audit.body.contains("TicketOpened") && audit.body.contains("TicketAccepted") && audit.body.contains("client"))
            #expect(audit.body.contains("Please fix"))
            let replaySection = audit.body.components(separatedBy: "Who could see each comment")[0]
            #expect(!replaySection.contains("Fixed it"), "the answer did not exist yet at \(beforeAnswer)")
            let early = try await api.page(.get, "/ui/audit/\(n)?asOf=2001-01-01T00:00:00Z", cookie: max)
            #expect(early.body.contains("did not exist yet"))
            #expect(try await api.page(.get, "/ui/audit/999", cookie: max).status == 404)
        }
    }

    @Test("queues, contacts and settings: premium first, search by phone or ticket number, portal access, visibility and a formula preview and publish")
    func queuesContactsSettings() async throws {
        let desk = Desk()
        let service = try await desk.open()
        defer { service.close() }
        try await serve(service) { api in
            let t = try await api.setUp()
            _ = try await api.post("/commands", Desk.adminToken, #"{"buyPremiumQuota":{"organisation":"acme","tickets":1,"note":null}}"#)
            _ = try await service.processor.execute(Command(actor: .staff("admin"), .defineCalendar(.twentyFourSeven(id: "all"))))
            _ = try await service.processor.execute(Command(actor: .staff("admin"), .defineSLATier(
                SLATier(id: "std", name: "Standard", calendarId: "all", reactionHours: 2, resolutionHours: 8), isDefault: true)))
            let premium = try await api.post("/tickets", t.ivan, #"{"subject":"Urgent outage","body":"All down","premium":true}"#)
            let normal = try await api.post("/tickets", t.other, #"{"subject":"Small question","body":"How to?"}"#)
            let p = try #require(premium.object["ticket"] as? Int), n = try #require(normal.object["ticket"] as? Int)
            _ = try await api.post("/commands", Desk.adminToken, #"{"attachPhone":{"contact":"gina","phone":"+7 (495) 123-45-67"}}"#)

            let anna = try await api.signIn(t.anna)
            let queues = try await api.page(.get, "/ui/queues", cookie: anna)
            #expect(queues.status == 200)
            let premiumSection = queues.body.components(separatedBy: "<h2>Normal ")[0]
            #expect(premiumSection.contains("Urgent outage") && !premiumSection.contains("Small question"))
            #expect(queues.body.contains("#\(n)") && queues.body.contains("#\(p)"))
            // The ticket page counts the SLA down in business hours of the tier's calendar.
            let ticketPage = try await api.page(.get, "/ui/tickets/\(p)", cookie: anna)
            #expect(ticketPage.body.contains("SLA Standard") && ticketPage.body.contains("business h left"), "\(ticketPage.body.prefix(2000))")

            // Contacts: by phone in another format, by ticket number, by name.
            let byPhone = try await api.page(.get, "/ui/contacts?q=84951234567".replacingOccurrences(of: "8495", with: "%2B7495"), cookie: anna)
            #expect(byPhone.body.contains("Gina"), "\(byPhone.body.suffix(800))")
            #expect(try await api.page(.get, "/ui/contacts?q=%23\(p)", cookie: anna).body.contains("Ivan"))
            let petr = try await api.page(.get, "/ui/contacts?q=petr", cookie: anna)
            #expect(petr.body.contains("Revoke portal access"))
            let token = try #require(csrf(in: petr.body))
            let revoked = try await api.page(.post, "/ui/contacts/petr", cookie: anna, form: ["_csrf": token, "action": "portal-off", "q": "petr"])
            #expect(revoked.location?.contains("done=") == true)
            #expect(try await api.get("/me", t.petr).status == 401)

            // Settings are for managers: staff are sent away.
            #expect(try await api.page(.get, "/ui/settings", cookie: anna).location == "/ui/chronicle")
            let max = try await api.signIn(t.manager)
            let settings = try await api.page(.get, "/ui/settings", cookie: max)
            #expect(settings.status == 200 && settings.body.contains("Payroll formula") && settings.body.contains("Anna"))
            let mtoken = try #require(csrf(in: settings.body))
            let vis = try await api.page(.post, "/ui/settings/visibility", cookie: max, form: ["_csrf": mtoken, "onlyNotified": "on"])
            #expect(vis.location?.contains("done=") == true)
            #expect(service.view.account.visibility == .init(onlyNotified: true, organisationSharing: false))
            let preview = try await api.page(.post, "/ui/settings/formula", cookie: max, form: ["_csrf": mtoken, "source": "amount = 7", "action": "preview"])
            #expect(preview.location?.hasPrefix("/ui/settings?preview=1") == true)
            let previewPage = try await api.page(.get, preview.location!, cookie: max)
            #expect(previewPage.body.contains("Preview,") && previewPage.body.contains("amount = 7"))
            let versions = service.view.account.formulas.count
            let published = try await api.page(.post, "/ui/settings/formula", cookie: max,
                                               form: ["_csrf": mtoken, "source": "amount = 7", "action": "publish", "effectiveFrom": "2030-01-01", "note": "flat seven"])
            #expect(published.location?.contains("done=") == true, "\(published.location ?? "")")
            #expect(service.view.account.formulas.count == versions + 1)
            let broken = try await api.page(.get, "/ui/settings?preview=1&source=amount%20%3D%20%28", cookie: max)
            #expect(broken.body.contains("does not work"))
            // Calendars with holidays, SLA tiers and the escalation rule from their forms.
            // A calendar with a lunch break on weekdays, a short Saturday, holidays and an extra working Sunday.
            let cal = try await api.page(.post, "/ui/settings/calendar", cookie: max, form: [
                "_csrf": mtoken, "id": "office", "name": "Office", "timeZone": "Europe/Moscow",
                "mon": "10:00-13:00, 14:00-19:00", "tue": "10:00-13:00, 14:00-19:00", "wed": "10:00-13:00, 14:00-19:00",
                "thu": "10:00-13:00, 14:00-19:00", "fri": "10:00-17:00", "sat": "11:00-15:00", "sun": "",
                "holidays": "2030-01-01, 2030-01-07", "extra": "2030-01-13 10:00-16:00"])
            #expect(cal.location?.contains("done=") == true, "\(cal.location ?? "")")
            let office = try #require(service.view.account.calendars["office"])
            #expect(office.holidays == [LocalDate(year: 2030, month: 1, day: 1), LocalDate(year: 2030, month: 1, day: 7)])
            #expect(office.week[0] == [WorkingInterval(startMinute: 600, endMinute: 780), WorkingInterval(startMinute: 840, endMinute: 1140)])
            #expect(office.week[4] == [WorkingInterval(startMinute: 600, endMinute: 1020)] && office.week[5] == [WorkingInterval(startMinute: 660, endMinute: 900)])
            #expect(office.week[6].isEmpty && office.timeZone == "Europe/Moscow" && !office.alwaysOpen)
            #expect(office.extraWorkingDays == [LocalDate(year: 2030, month: 1, day: 13): [WorkingInterval(startMinute: 600, endMinute: 960)]])
            // The list summarises the week, and Edit fills the form with the calendar as saved.
            let listed = try await api.page(.get, "/ui/settings", cookie: max).body
            #expect(listed.contains("Mon–Thu 10:00-13:00, 14:00-19:00, Fri 10:00-17:00, Sat 11:00-15:00"), "\(listed)")
            let editing = try await api.page(.get, "/ui/settings?calendar=office", cookie: max).body
            #expect(editing.contains(#"name="sat" value="11:00-15:00""#) && editing.contains(#"name="id" value="office""#))
            #expect(editing.contains("2030-01-13 10:00-16:00</textarea>"))
            // Mistakes name the day and change nothing.
            let badCal = try await api.page(.post, "/ui/settings/calendar", cookie: max, form: ["_csrf": mtoken, "id": "office", "mon": "10-9:00"])
            #expect(badCal.location?.contains("error=") == true && badCal.location?.contains("Monday") == true, "\(badCal.location ?? "")")
            let closed = try await api.page(.post, "/ui/settings/calendar", cookie: max, form: ["_csrf": mtoken, "id": "office"])
            #expect(closed.location?.contains("error=") == true, "a week without hours is refused by the domain")
            #expect(service.view.account.calendars["office"] == office)
            let tier = try await api.page(.post, "/ui/settings/tier", cookie: max, form: [
                "_csrf": mtoken, "id": "gold", "name": "Gold", "calendar": "office", "reaction": "1", "resolution": "4", "default": "on"])
            #expect(tier.location?.contains("done=") == true, "\(tier.location ?? "")")
            #expect(service.view.account.tiers["gold"]?.reactionHours == 1 && service.view.account.defaultTier == "gold")
            let esc = try await api.page(.post, "/ui/settings/escalation", cookie: max, form: ["_csrf": mtoken, "manager": "max", "hours": "2"])
            #expect(esc.location?.contains("done=") == true)
            #expect(service.view.account.escalation == EscalationRule(afterBusinessHours: 2, manager: "max"))
            #expect(try await api.page(.get, "/ui/settings", cookie: max).body.contains("2030-01-01, 2030-01-07"))
        }
    }

    @Test("files ride along with the portal's new-ticket form and the staff reply (multipart/form-data), and download only where visible")
    func fileUploads() async throws {
        let desk = Desk()
        let service = try await desk.open()
        defer { service.close() }
        try await serve(service) { api in
            let t = try await api.setUp()
            let ivan = try await api.signIn(t.ivan)
            let portal = try await api.page(.get, "/ui/portal", cookie: ivan)
            let token = try #require(csrf(in: portal.body))
            let boundary = "----hdtest\(UUID().uuidString)"
            func part(_ name: String, _ value: String) -> String {
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
            }
            let body = part("_csrf", token) + part("subject", "Screen is blank") + part("body", "See the photo")
                + "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"screen.png\"\r\nContent-Type: image/png\r\n\r\n"
                + "PNG-BYTES-\u{1}\u{2}\r\n--\(boundary)--\r\n"
            let r = try await api.client.execute(uri: "/ui/portal/new", method: .post,
                                                 headers: [.cookie: "hd_session=\(ivan)", .contentType: "multipart/form-data; boundary=\(boundary)"],
                                                 body: ByteBuffer(string: body)) { r in (Int(r.status.code), r.headers[.location]) }
            #expect(r.0 == 303, "\(r)")
            let n = try #require(r.1.flatMap { Int($0.split(separator: "/").last ?? "") })
            let detail = try #require(service.view.ticketDetail(n, now: Date()))
            let file = try #require(detail.ticket.comments.first?.attachments.first)
            #expect(file.filename == "screen.png" && file.contentType == "image/png" && file.size == 12)
            let page = try await api.page(.get, "/ui/portal/\(n)", cookie: ivan)
            #expect(page.body.contains("screen.png"))
            let download = try await api.page(.get, "/attachments/\(file.sha256)?ticket=\(n)", cookie: ivan)
            #expect(download.status == 200 && download.body.hasPrefix("PNG-BYTES-"))
            let gina = try await api.signIn(t.other)
            #expect(try await api.page(.get, "/attachments/\(file.sha256)?ticket=\(n)", cookie: gina).status == 404)
            // A forged form (no CSRF value) stores no ticket.
            let before = service.view.openTickets(now: Date()).count
            let forged = part("subject", "x") + part("body", "y") + "--\(boundary)--\r\n"
            let f = try await api.client.execute(uri: "/ui/portal/new", method: .post,
                                                 headers: [.cookie: "hd_session=\(ivan)", .contentType: "multipart/form-data; boundary=\(boundary)"],
                                                 body: ByteBuffer(string: forged)) { Int($0.status.code) }
            #expect(f == 403 && service.view.openTickets(now: Date()).count == before)
        }
    }
}
