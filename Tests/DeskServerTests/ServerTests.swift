import DeskServer
import EventLog
import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import SupportDesk
import Testing

/// A desk in a temporary LMDB folder, served live on a loopback port.
final class Desk: @unchecked Sendable {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("srv-\(UUID().uuidString)")
    static let adminToken = "test-admin-token"

    func open() async throws -> DeskService {
        var o = ServerOptions(dataDirectory: url)
        o.port = 0
        o.adminToken = Self.adminToken
        o.maxBodyBytes = 64 * 1024
        o.mailSender = nil  // the mail tests switch it on with a test sendmail
        o.liveHeartbeat = 0.2
        return try await DeskService.open(o).0
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

struct Reply {
    var status: Int
    var body: String
    var etag: String?
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
}

/// A small client over HummingbirdTesting's live client.
struct API: Sendable {
    let client: any TestClientProtocol

    func call(_ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil, headers extra: HTTPFields = [:],
              body raw: String? = nil) async throws -> Reply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: uri, method: method, headers: headers, body: (json ?? raw).map { ByteBuffer(string: $0) }) { r in
            Reply(status: Int(r.status.code), body: String(buffer: r.body), etag: r.headers[.eTag])
        }
    }

    func get(_ uri: String, _ token: String?) async throws -> Reply { try await call(.get, uri, token: token) }
    func post(_ uri: String, _ token: String?, _ json: String = "{}", headers: HTTPFields = [:]) async throws -> Reply {
        try await call(.post, uri, token: token, json: json, headers: headers)
    }

    /// Issues a token for `party` (as the admin) and returns it.
    func token(for party: String) async throws -> String {
        let r = try await post("/tokens", Desk.adminToken, "{\"party\":\"\(party)\",\"label\":\"test\"}")
        #expect(r.status == 201, "token for \(party): \(r.body)")
        return r.object["token"] as? String ?? ""
    }

    /// Account fixture: an organisation with sharing, two of its contacts, one other client, staff of every role.
    func setUp() async throws -> (anna: String, boris: String, manager: String, auditor: String, ivan: String, petr: String, other: String) {
        let admin = Desk.adminToken
        for c in [
            #"{"addStaff":{"id":"anna","name":"Anna","email":"anna@desk.example","role":"staff","isDeveloper":false}}"#,
            #"{"addStaff":{"id":"boris","name":"Boris","email":"boris@desk.example","role":"staff","isDeveloper":false}}"#,
            #"{"addStaff":{"id":"max","name":"Max","email":"max@desk.example","role":"manager","isDeveloper":false}}"#,
            #"{"addStaff":{"id":"audrey","name":"Audrey","email":"audrey@desk.example","role":"auditor","isDeveloper":false}}"#,
            #"{"createOrganisation":{"id":"acme","name":"Acme","domains":["acme.example"]}}"#,
            #"{"createOrganisation":{"id":"globex","name":"Globex","domains":["globex.example"]}}"#,
            #"{"createContact":{"id":"ivan","name":"Ivan","emails":["ivan@acme.example"],"phones":[],"organisation":"acme"}}"#,
            #"{"createContact":{"id":"petr","name":"Petr","emails":["petr@acme.example"],"phones":[],"organisation":"acme"}}"#,
            #"{"createContact":{"id":"gina","name":"Gina","emails":["gina@globex.example"],"phones":[],"organisation":"globex"}}"#,
            #"{"setPortalAccess":{"contact":"ivan","granted":true}}"#,
            #"{"setPortalAccess":{"contact":"petr","granted":true}}"#,
            #"{"setPortalAccess":{"contact":"gina","granted":true}}"#,
            #"{"setVisibility":{"_0":{"onlyNotified":false,"organisationSharing":true}}}"#,
            #"{"publishFormula":{"effectiveFrom":"2020-01-01","source":"amount = choose(kind, 10, 20, 30, 40, 50)","note":null}}"#,
        ] {
            let r = try await post("/commands", admin, c)
            #expect(r.status == 200, "\(c): \(r.body)")
        }
        return (try await token(for: "staff:anna"), try await token(for: "staff:boris"), try await token(for: "staff:max"),
                try await token(for: "staff:audrey"), try await token(for: "contact:ivan"), try await token(for: "contact:petr"),
                try await token(for: "contact:gina"))
    }
}

func serve<T: Sendable>(_ service: DeskService, _ body: @Sendable (API) async throws -> T) async throws -> T {
    try await service.application().test(.live) { client in try await body(API(client: client)) }
}

@Suite("HTTP service, end to end on loopback with real LMDB files", .serialized)
struct ServerTests {
    @Test("the full life of a ticket by every role; clients see only what is theirs; a restart keeps everything")
    func fullLife() async throws {
        let desk = Desk()
        let service = try await desk.open()
        let t = try await serve(service) { api in
            let t = try await api.setUp()
            // A client opens a ticket in the portal.
            let opened = try await api.post("/tickets", t.ivan, #"{"subject":"Import fails","body":"Error 500 on import"}"#)
            #expect(opened.status == 201, "\(opened.body)")
            let n = opened.object["ticket"] as? Int ?? 0
            #expect(n == 1 && opened.etag == "\"1\"")
            // Staff: the Chronicle shows it unaccepted; Anna accepts; Boris is refused, naming Anna.
            let feed = try await api.get("/tickets?unaccepted=true", t.boris)
            #expect((feed.json as? [[String: Any]])?.first?["number"] as? Int == n)
            #expect(try await api.post("/tickets/\(n)/accept", t.anna).status == 200)
            let second = try await api.post("/tickets/\(n)/accept", t.boris)
            #expect(second.status == 409 && second.body.contains("Anna"))
            // An internal note, then the answer.
            #expect(try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"Looks like the CSV bug","internal":true}"#).status == 200)
            #expect(try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"Fixed, please retry"}"#).status == 200)
            // The client sees the answer but never the internal note.
            let seen = try await api.get("/tickets/\(n)", t.ivan)
            #expect(seen.status == 200 && seen.body.contains("Fixed, please retry") && !seen.body.contains("CSV bug"))
            // A colleague of the same organisation sees it (sharing on); another client does not, even by number.
            #expect(try await api.get("/tickets/\(n)", t.petr).status == 200)
            let foreign = try await api.get("/tickets/\(n)", t.other)
            #expect(foreign.status == 404 && !foreign.body.contains("Import"))
            #expect(try await api.post("/tickets/\(n)/comments", t.other, #"{"text":"let me in"}"#).status == 404)
            #expect(try await api.get("/tickets", t.other).body == "[]")
            // Auditors read but change nothing; staff cannot change settings.
            #expect(try await api.get("/tickets/\(n)", t.auditor).status == 200)
            #expect(try await api.post("/tickets/\(n)/comments", t.auditor, #"{"text":"hi"}"#).status == 403)
            #expect(try await api.post("/commands", t.anna, #"{"setVisibility":{"_0":{"onlyNotified":true,"organisationSharing":false}}}"#).status == 403)
            // Closing needs the evaluation; then the client rates; the manager reads payroll.
            let noEval = try await api.post("/tickets/\(n)/close", t.anna)
            #expect(noEval.status == 422 && noEval.body.contains("evaluate"))
            #expect(try await api.post("/tickets/\(n)/close", t.anna, #"{"evaluation":{"kind":3,"volume":"short","links":1,"screenshots":0,"help":1}}"#).status == 200)
            #expect(try await api.post("/tickets/\(n)/rating", t.ivan, #"{"score":5,"text":"Спасибо!"}"#).status == 200)
            let today = ISO8601DateFormatter().string(from: Date()).prefix(10)
            let payroll = try await api.get("/reports/payroll?from=2020-01-01&to=\(today)", t.manager)
            #expect(payroll.status == 200 && payroll.body.contains("\"total\":30"), "\(payroll.body)")
            let csv = try await api.call(.get, "/reports/payroll?from=2020-01-01&to=\(today)", token: t.manager, headers: [.accept: "text/csv"])
            #expect(csv.body.hasPrefix("staff,name,evaluations") && csv.body.contains("anna,Anna,1,30.00"))
            #expect(try await api.get("/reports/payroll?from=2020-01-01&to=\(today)", t.anna).status == 403)
            let events = try await api.get("/events?stream=ticket-\(n)&type=TicketAccepted&type=AnswerEvaluated", t.auditor)
            let lines = events.body.split(separator: "\n")
            #expect(lines.count == 2 && lines[0].contains("\"type\":\"TicketAccepted\"") && lines[1].contains("\"kind\":3"), "\(events.body)")
            #expect(try await api.get("/events?limit=5", t.auditor).body.split(separator: "\n").count == 5)
            #expect(try await api.get("/events", t.anna).status == 403)
            let history = try await api.get("/audit/tickets/\(n)/history", t.auditor)
            #expect(history.status == 200 && history.body.contains("AnswerEvaluated"))
            #expect(try await api.get("/audit/tickets/\(n)/history", t.anna).status == 403)
            return t
        }
        let head = service.store.committedHead
        service.close()

        // Restart: the same folder, a new process state.
        let again = try await desk.open()
        defer { again.close() }
        #expect(again.store.committedHead == head)
        try await serve(again) { api in
            let seen = try await api.get("/tickets/1", t.ivan)
            #expect(seen.status == 200 && seen.body.contains("Fixed, please retry") && !seen.body.contains("CSV bug"))
            let detail = try await api.get("/tickets/1", t.anna)
            #expect(detail.body.contains("\"status\":\"closed\"") && detail.body.contains("\"ratingScores\":[5]"))
            #expect(try await api.post("/tickets", t.ivan, #"{"subject":"Second","body":"Another one"}"#).object["ticket"] as? Int == 2)
        }
    }

    @Test("turning on 'only notified' mid-life hides what a contact was not notified of")
    func visibilityMidLife() async throws {
        let desk = Desk()
        let service = try await desk.open()
        defer { service.close() }
        try await serve(service) { api in
            let t = try await api.setUp()
            let n = try await api.post("/tickets", t.ivan, #"{"subject":"Q","body":"Question"}"#).object["ticket"] as? Int ?? 0
            #expect(try await api.post("/tickets/\(n)/accept", t.anna).status == 200)
            #expect(try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"Answer for Ivan only","notify":["contact:ivan","staff:anna"]}"#).status == 200)
            #expect(try await api.get("/tickets/\(n)", t.petr).body.contains("Answer for Ivan only"))
            #expect(try await api.post("/commands", Desk.adminToken, #"{"setVisibility":{"_0":{"onlyNotified":true,"organisationSharing":true}}}"#).status == 200)
            let petr = try await api.get("/tickets/\(n)", t.petr)
            #expect(petr.status == 200 && !petr.body.contains("Answer for Ivan only"))
            #expect(try await api.get("/tickets/\(n)", t.ivan).body.contains("Answer for Ivan only"))
        }
    }

    @Test("two staff accepting at once: exactly one wins")
    func simultaneousAccepts() async throws {
        let desk = Desk()
        let service = try await desk.open()
        defer { service.close() }
        try await serve(service) { api in
            let t = try await api.setUp()
            for round in 1...5 {
                let n = try await api.post("/tickets", t.ivan, #"{"subject":"Race \#(round)","body":"x"}"#).object["ticket"] as? Int ?? 0
                async let a = api.post("/tickets/\(n)/accept", t.anna)
                async let b = api.post("/tickets/\(n)/accept", t.boris)
                let statuses = [try await a.status, try await b.status].sorted()
                #expect(statuses == [200, 409])
            }
            let accepted = service.store.readAllForTest().filter { $0.type == "TicketAccepted" }.count
            #expect(accepted == 5)
        }
    }

    @Test("bad input gets a 4xx JSON error and changes nothing; ETag/If-Match and Idempotency-Key")
    func edge() async throws {
        let desk = Desk()
        let service = try await desk.open()
        defer { service.close() }
        try await serve(service) { api in
            let t = try await api.setUp()
            let n = try await api.post("/tickets", t.ivan, #"{"subject":"Edge","body":"x"}"#).object["ticket"] as? Int ?? 0
            let head = service.store.committedHead
            let cases: [(HTTPRequest.Method, String, String?, Int)] = [
                (.post, "/tickets/\(n)/comments", "{not json", 400),
                (.post, "/tickets/\(n)/comments", #"{"text":"x","colour":"red"}"#, 400),
                (.post, "/tickets/\(n)/comments", #"{"text":42}"#, 400),
                (.post, "/tickets/\(n)/comments", "{\"text\":\"" + String(repeating: "x", count: 70_000) + "\"}", 413),
                (.post, "/tickets/999/accept", "{}", 404),
                (.post, "/tickets/\(n)/status", #"{"to":"resolved"}"#, 409),
                (.post, "/tickets/\(n)/status", #"{"to":"sideways"}"#, 400),
                (.get, "/no/such/route", nil, 404),
                (.put, "/tickets/\(n)/accept", "{}", 405),
                (.get, "/tickets", nil, 401),
            ]
            for (method, uri, body, expected) in cases {
                let r = try await api.call(method, uri, token: expected == 401 ? nil : t.anna, json: body)
                #expect(r.status == expected, "\(method) \(uri): \(r.status) \(r.body.prefix(200))")
                #expect(r.object["error"] is String && r.object["message"] is String, "\(uri): \(r.body.prefix(200))")
            }
            #expect(service.store.committedHead == head)

            // Optimistic concurrency: a stale If-Match is refused with 412 and writes nothing.
            let etag = try await api.get("/tickets/\(n)", t.anna).etag ?? ""
            #expect(try await api.post("/tickets/\(n)/accept", t.anna, "{}", headers: [.ifMatch: etag]).status == 200)
            let stale = try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"late"}"#, headers: [.ifMatch: etag])
            #expect(stale.status == 412)
            // Idempotency-Key: the retry returns the first response and writes nothing.
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "abc-1"]
            let first = try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"once"}"#, headers: key)
            let headAfter = service.store.committedHead
            let retry = try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"once"}"#, headers: key)
            #expect(first.status == 200 && retry.body == first.body && service.store.committedHead == headAfter)
        }
    }

    @Test("live updates by Server-Sent Events: staff get new activity, clients only what they may see")
    func live() async throws {
        let desk = Desk()
        let service = try await desk.open()
        defer { service.close() }
        try await serve(service) { api in
            let t = try await api.setUp()
            let n = try await api.post("/tickets", t.ivan, #"{"subject":"Live","body":"x"}"#).object["ticket"] as? Int ?? 0
            let after = service.store.committedHead
            // Each stream on its own connection (one test client is one HTTP/1.1 connection).
            func stream(_ uri: String, _ token: String) async throws -> Reply {
                let c = TestClient(host: "localhost", port: api.client.port!)
                c.connect()
                let r = try await c.execute(TestClient.Request(uri, method: .get, headers: [.authorization: "Bearer \(token)"]))
                try? await c.shutdown()
                return Reply(status: Int(r.status.code), body: r.body.map { String(buffer: $0) } ?? "", etag: nil)
            }
            async let staffStream = stream("/live?ticket=\(n)&after=\(after)&max=3", t.boris)
            async let clientStream = stream("/live?after=\(after)&max=1", t.ivan)
            async let otherClient = stream("/live?after=\(after)&max=1", t.other)
            #expect(try await api.post("/tickets/\(n)/accept", t.anna).status == 200)
            #expect(try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"secret","internal":true}"#).status == 200)
            #expect(try await api.post("/tickets/\(n)/comments", t.anna, #"{"text":"public"}"#).status == 200)
            // Someone else's ticket, for the other client's stream to end on.
            #expect(try await api.post("/tickets", t.other, #"{"subject":"Mine","body":"y"}"#).status == 201)
            let staff = try await staffStream.body
            #expect(staff.components(separatedBy: "event: ").count - 1 == 3)
            #expect(staff.contains("event: TicketAccepted") && staff.contains("event: CommentAdded"))
            let client = try await clientStream.body
            // The client's first event is the accept; the internal comment never reaches them.
            #expect(client.contains("event: TicketAccepted"))
            let other = try await otherClient.body
            #expect(other.contains("TicketOpened") && !other.contains("\"ticket\":\(n),"))
        }
        // After the stream, the client's view holds the public comment only.
    }

    @Test("portal invitation: staff invite a contact, the code is exchanged once for the contact's own token")
    func invitation() async throws {
        let desk = Desk()
        let service = try await desk.open()
        defer { service.close() }
        try await serve(service) { api in
            let t = try await api.setUp()
            #expect(try await api.post("/invitations", t.ivan, #"{"contact":"petr"}"#).status == 403)
            let invited = try await api.post("/invitations", t.anna, #"{"contact":"petr"}"#)
            #expect(invited.status == 201)
            let code = invited.object["invitation"] as? String ?? ""
            let accepted = try await api.post("/invitations/accept", code)
            #expect(accepted.status == 201, "\(accepted.body)")
            let token = accepted.object["token"] as? String ?? ""
            #expect(try await api.get("/me", token).body.contains("contact:petr"))
            // The code is spent; an ordinary token is not an invitation.
            #expect(try await api.post("/invitations/accept", code).status == 401)
            #expect(try await api.post("/invitations/accept", token).status == 409)
            // Without portal access there is no invitation.
            _ = try await api.post("/commands", Desk.adminToken, #"{"setPortalAccess":{"contact":"petr","granted":false}}"#)
            #expect(try await api.post("/invitations", t.anna, #"{"contact":"petr"}"#).status == 409)
            #expect(try await api.get("/me", token).status == 401)
        }
    }

    @Test("every route in /openapi.json is served, and nothing else")
    func openAPI() async throws {
        let desk = Desk()
        let service = try await desk.open()
        defer { service.close() }
        try await serve(service) { api in
            let doc = try await api.get("/openapi.json", nil)
            let paths = (doc.object["paths"] as? [String: [String: Any]]) ?? [:]
            #expect(doc.object["openapi"] as? String == "3.1.0" && paths.count > 20)
            for (path, ops) in paths {
                for method in ops.keys {
                    var uri = path.replacingOccurrences(of: "{n}", with: "1").replacingOccurrences(of: "{sha256}", with: String(repeating: "0", count: 64))
                    if path == "/live" { uri += "?max=0" }
                    // Signing out revokes the calling token: use a token of its own.
                    let token = path == "/tokens/current" ? try await api.token(for: "staff:admin") : Desk.adminToken
                    if path == "/invitations/accept" { continue }  // needs an invitation code: tested on its own
                    let r = try await api.call(HTTPRequest.Method(rawValue: method.uppercased())!, uri, token: token,
                                               json: method == "get" || method == "delete" ? nil : "{}")
                    #expect(r.status != 405 && !(r.status == 404 && r.body.contains("no route")), "\(method) \(path): \(r.status) \(r.body.prefix(120))")
                }
            }
            let undocumented = try await api.get("/undocumented", Desk.adminToken)
            #expect(undocumented.status == 404, "\(undocumented.status) \(undocumented.body)")
            let health = try await api.get("/health", nil)
            #expect(health.object["status"] as? String == "ok")
            let metrics = try await api.get("/metrics", nil)
            #expect(metrics.body.contains("helpdesk_http_requests_total") && metrics.body.contains("helpdesk_log_head"))
        }
    }
}

extension LMDBEventStore {
    func readAllForTest() -> [RecordedEvent] { (try? readAll(from: 1, limit: 1_000_000)) ?? [] }
}
