import BusinessTime
import DeskEngine
import EventLog
import Foundation
import Hummingbird
import MailDesk
import Projections
import SupportDesk

/// One documented route: the OpenAPI document and the router are made from the same list, and a
/// test checks every route against `/openapi.json`.
struct RouteDoc: Sendable {
    var method: String
    var path: String  // OpenAPI form: /tickets/{n}
    var summary: String
    var who: String
}

// Request bodies (unknown fields are refused).
struct ContactBody: Codable { var id: String?; var email: String?; var phone: String?; var name: String? }
struct OpenBody: Codable {
    var channel: Channel?; var subject: String; var body: String; var contact: ContactBody?; var organisation: String?
    var language: String?; var premium: Bool?; var attachments: [AttachmentRef]?; var externalId: String?
}
struct CommentBody: Codable { var text: String; var `internal`: Bool?; var notify: [Party]?; var attachments: [AttachmentRef]? }
struct StatusBody: Codable { var to: TicketStatus; var reason: String?; var until: Date? }
struct CloseBody: Codable { var evaluation: AnswerEvaluation?; var reason: String? }
struct LevelBody: Codable { var to: SupportLevel }
struct ParticipantBody: Codable { var staff: String; var role: ParticipantRole? }
struct ReassignBody: Codable { var to: String }
struct SplitBody: Codable { var comment: Int; var subject: String? }
struct MergeBody: Codable { var into: Int }
struct TimeBody: Codable { var minutes: Int; var on: LocalDate?; var note: String? }
struct RatingBody: Codable { var comment: Int?; var score: Int; var text: String? }
struct TokenBody: Codable { var party: Party; var label: String? }

extension DeskService {
    static let routes: [RouteDoc] = [
        RouteDoc(method: "get", path: "/health", summary: "Liveness; readiness once projections have caught up", who: "anyone"),
        RouteDoc(method: "get", path: "/metrics", summary: "Prometheus metrics", who: "anyone"),
        RouteDoc(method: "get", path: "/openapi.json", summary: "This document", who: "anyone"),
        RouteDoc(method: "get", path: "/me", summary: "Who the token belongs to", who: "any token"),
        RouteDoc(method: "get", path: "/live", summary: "Server-Sent Events: new activity (ticket=N for one ticket page, max=N to end after N events)", who: "client, staff"),
        RouteDoc(method: "post", path: "/tickets", summary: "Open a ticket (clients for themselves; staff and intake for anyone)", who: "client, staff"),
        RouteDoc(method: "get", path: "/tickets", summary: "Clients: their tickets; staff: the Chronicle (filters: mine, unaccepted, status, type, criticality, level, responsible, premiumFirst, before, limit)", who: "client, staff"),
        RouteDoc(method: "get", path: "/tickets/{n}", summary: "A ticket as the caller may see it; ETag = stream version", who: "client, staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/accept", summary: "Accept (first wins)", who: "staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/comments", summary: "Comment: internal or to the client, notify defaults to the previous recipients", who: "client, staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/status", summary: "Change status (waiting-for-client, postponed, resolved, accepted, reopened)", who: "staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/close", summary: "Close with the answer evaluation", who: "staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/classify", summary: "Classify (type, first line, direction, complexity, criticality, category, effort, date)", who: "staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/level", summary: "Change support level", who: "staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/participants", summary: "Add a participant or co-executor", who: "staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/reassign", summary: "Reassign", who: "manager"),
        RouteDoc(method: "post", path: "/tickets/{n}/split", summary: "Split a comment out into a new ticket", who: "staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/merge", summary: "Merge this duplicate into another ticket", who: "staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/spam", summary: "Mark as spam", who: "staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/time", summary: "Log working time", who: "staff"),
        RouteDoc(method: "post", path: "/tickets/{n}/rating", summary: "Rate an answer", who: "client"),
        RouteDoc(method: "post", path: "/commands", summary: "Any domain command as JSON, e.g. {\"defineSLATier\": {…}}", who: "as the command requires"),
        RouteDoc(method: "post", path: "/tokens", summary: "Issue a token (staff: admins; a contact's portal invitation: staff); returned once", who: "staff"),
        RouteDoc(method: "delete", path: "/tokens/current", summary: "Sign out: revoke the calling token", who: "any token"),
        RouteDoc(method: "post", path: "/invitations", summary: "Invite a contact with portal access: returns a one-time invitation code (send it as a link)", who: "staff"),
        RouteDoc(method: "post", path: "/invitations/accept", summary: "Exchange an invitation code (as the bearer) for the contact's own token; the code stops working", who: "invited contact"),
        RouteDoc(method: "get", path: "/reports/payroll", summary: "Payroll (from, to, formulaVersion, compareWith; JSON or CSV)", who: "manager, auditor"),
        RouteDoc(method: "get", path: "/reports/sla", summary: "SLA report (from, to; JSON or CSV)", who: "manager, auditor"),
        RouteDoc(method: "get", path: "/reports/load", summary: "Load report (from, to)", who: "manager, auditor"),
        RouteDoc(method: "get", path: "/audit/tickets/{n}/history", summary: "Every event of a ticket with actor and cause", who: "admin, auditor"),
        RouteDoc(method: "get", path: "/audit/tickets/{n}/visibility", summary: "Who could see each comment and when (contact)", who: "admin, auditor"),
        RouteDoc(method: "get", path: "/audit/tickets/{n}/replay", summary: "The ticket as it was at asOf (ISO 8601)", who: "admin, auditor"),
        RouteDoc(method: "post", path: "/mail/inbound", summary: "One raw RFC 5322 message (message/rfc822 body): threaded into its ticket, or a new ticket, or set aside; 503 = try again later", who: "mail gateway (system:mail token), admin"),
        RouteDoc(method: "get", path: "/outbox", summary: "Client mail not yet delivered: pending, sending, failed (with the next attempt) and parked (with the reason); status=… filters", who: "staff"),
        RouteDoc(method: "post", path: "/attachments", summary: "Upload one file (raw body; ?filename=…, Content-Type): returns its AttachmentRef for a ticket or comment", who: "client, staff"),
        RouteDoc(method: "get", path: "/attachments/{sha256}", summary: "Download an attachment (clients: ?ticket=N, and only from comments they may see); staff also a raw e-mail by the hash in its MailReceived event", who: "client, staff"),
        RouteDoc(method: "get", path: "/events", summary: "Raw events as JSON lines, streamed (stream, type (repeatable), from, to, since, until, limit)", who: "admin, auditor"),
    ]

    /// The OpenAPI 3.1 document.
    static var openAPI: [String: Any] {
        var paths: [String: [String: Any]] = [:]
        for r in routes {
            var op: [String: Any] = ["summary": r.summary, "description": "Who: \(r.who)",
                                     "responses": ["200": ["description": "OK"], "4XX": ["description": "{ error, message, details }"]]]
            if r.path.contains("{n}") {
                op["parameters"] = [["name": "n", "in": "path", "required": true, "schema": ["type": "integer"]]]
            }
            if r.who != "anyone" { op["security"] = [["bearer": [String]()]] }
            paths[r.path, default: [:]][r.method] = op
        }
        return ["openapi": "3.1.0", "info": ["title": "Helpdesk", "version": "1"], "paths": paths,
                "components": ["securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]]]]
    }

    /// The router with every route.
    func router() -> Router<DeskContext> {
        let router = Router(context: DeskContext.self)
        // Structured request logs (swift-log, at debug: `--log-level debug`); tokens never logged.
        router.add(middleware: LogRequestsMiddleware(.debug, redactHeaders: [.authorization]))
        router.add(middleware: ErrorMiddleware(metrics: metrics))
        router.add(middleware: AuthMiddleware(service: self))
        let limit = options.maxBodyBytes

        router.get("/health") { _, _ in
            let head = self.store.committedHead, position = self.runner.position
            return try jsonResponse(["status": "ok", "ready": position >= head ? "true" : "false",
                                     "logHead": String(head), "projections": String(position)])
        }
        router.get("/metrics") { _, _ in
            textResponse(self.metrics.text(store: self.store, projectionPosition: self.runner.position), contentType: "text/plain; version=0.0.4")
        }
        router.get("/openapi.json") { _, _ in
            let data = try JSONSerialization.data(withJSONObject: Self.openAPI, options: [.sortedKeys])
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/me") { _, ctx in
            let p = try ctx.require()
            return try jsonResponse(["party": p.party.description, "role": p.role?.rawValue ?? "client"])
        }

        router.get("/live") { req, ctx in try self.live(req, try ctx.require()) }
        addWebRoutes(to: router)

        // Tickets.
        router.post("/tickets") { req, ctx in
            let p = try ctx.require()
            let b = try await decodeBody(OpenBody.self, req, limit: limit, allowed: ["channel", "subject", "body", "contact", "organisation", "language", "premium", "attachments", "externalId"])
            var ref: ContactRef?
            if let c = b.contact {
                if let id = c.id { ref = .id(id) } else if let e = c.email { ref = .email(e, name: c.name) } else if let ph = c.phone { ref = .phone(ph, name: c.name) }
            }
            let open = OpenTicket(channel: b.channel ?? (p.isClient ? .portal : .api), subject: b.subject, body: b.body, contact: ref,
                                  organisation: b.organisation, language: b.language, premium: b.premium ?? false,
                                  attachments: b.attachments ?? [], externalId: b.externalId)
            let o = try await self.execute(.openTicket(open), as: p, idempotencyKey: try req.idempotencyKey(), expectedVersion: nil)
            return try jsonResponse(o, status: .created, etag: o.ticket.flatMap { o.versions[Streams.ticket($0)] })
        }
        router.get("/tickets") { req, ctx in
            let p = try ctx.require()
            let limit = min(500, max(1, Int(req.query("limit") ?? "") ?? 50))
            if case .contact(let id) = p.party {
                return try jsonResponse(self.view.clientTickets(contact: id, limit: limit))
            }
            var f = FeedFilter()
            f.mine = req.query("mine") == "true"
            f.unaccepted = req.query("unaccepted") == "true"
            f.premiumFirst = req.query("premiumFirst") == "true"
            f.status = try req.query("status").map { try enumValue(TicketStatus.self, $0, "status") }
            f.type = try req.query("type").map { try enumValue(TicketType.self, $0, "type") }
            f.criticality = try req.query("criticality").map { try enumValue(Criticality.self, $0, "criticality") }
            f.level = try req.query("level").map { s in
                guard let n = Int(s), let l = SupportLevel(rawValue: n) else { throw APIError(.badRequest, "bad-request", "level is 1, 2 or 3") }
                return l
            }
            f.responsible = req.query("responsible")
            let before = req.query("before").flatMap { UInt64($0) }
            let staff = p.party.staffId ?? "", now = self.clock.now()
            // The same page for the same question while nothing changed (`ReadCache`).
            let key = ReadCache.PageKey(staff: staff, filter: f, limit: limit, before: before)
            if let kept = self.readCache.page(key, generation: self.view.generation, now: now) { return jsonResponse(bytes: kept) }
            let page = self.view.staffFeedPage(staff: staff, filter: f, now: now, limit: limit, before: before)
            let bytes = try encodeJSON(page.items)
            self.readCache.keep(key, ReadCache.Page(generation: page.generation, freshUntil: page.freshUntil, bytes: bytes))
            return jsonResponse(bytes: bytes)
        }
        router.get("/tickets/{n}") { req, ctx in
            let p = try ctx.require()
            let n = try ctx.parameters.require("n", as: Int.self)
            if case .contact(let id) = p.party {
                guard let t = self.view.clientTicket(contact: id, number: n) else { throw APIError(.notFound, "not-found", "no ticket #\(n)") }
                return try jsonResponse(t)
            }
            guard let (d, epoch) = self.view.ticketDetailInEpoch(n, now: self.clock.now()) else { throw APIError(.notFound, "not-found", "no ticket #\(n)") }
            // The ticket's own JSON is rendered once per version (`ReadCache`); the rest each time.
            let bytes = try (try? d.json(ticketJSON: try self.readCache.json(of: d.ticket, epoch: epoch))) ?? encodeJSON(d)
            return jsonResponse(bytes: bytes, etag: d.ticket.version)
        }
        func ticketCommand<B: Decodable>(_ path: String, _ body: B.Type, _ fields: Set<String>,
                                         _ make: @escaping @Sendable (Int, B) throws -> CommandBody) {
            router.post(RouterPath(path)) { req, ctx in
                let p = try ctx.require()
                let n = try ctx.parameters.require("n", as: Int.self)
                let b = try await decodeBody(B.self, req, limit: limit, allowed: fields)
                let o = try await self.execute(try make(n, b), as: p, idempotencyKey: try req.idempotencyKey(), expectedVersion: try req.ifMatch())
                return try jsonResponse(o, etag: o.versions[Streams.ticket(n)])
            }
        }
        struct Empty: Codable {}
        ticketCommand("/tickets/{n}/accept", Empty.self, []) { n, _ in .acceptTicket(ticket: n) }
        ticketCommand("/tickets/{n}/comments", CommentBody.self, ["text", "internal", "notify", "attachments"]) { n, b in
            .comment(ticket: n, text: b.text, internal: b.internal ?? false, notify: b.notify, attachments: b.attachments ?? [], channel: nil, externalId: nil)
        }
        ticketCommand("/tickets/{n}/status", StatusBody.self, ["to", "reason", "until"]) { n, b in .changeStatus(ticket: n, to: b.to, reason: b.reason, until: b.until) }
        ticketCommand("/tickets/{n}/close", CloseBody.self, ["evaluation", "reason"]) { n, b in .close(ticket: n, evaluation: b.evaluation, reason: b.reason) }
        ticketCommand("/tickets/{n}/classify", Classification.self,
                      ["type", "firstLine", "direction", "directionType", "complexity", "criticality", "category", "plannedMinutes", "expectedDate"]) { n, b in
            .classify(ticket: n, b)
        }
        ticketCommand("/tickets/{n}/level", LevelBody.self, ["to"]) { n, b in .changeLevel(ticket: n, to: b.to) }
        ticketCommand("/tickets/{n}/participants", ParticipantBody.self, ["staff", "role"]) { n, b in
            .addParticipant(ticket: n, staff: b.staff, role: b.role ?? .participant)
        }
        ticketCommand("/tickets/{n}/reassign", ReassignBody.self, ["to"]) { n, b in .reassign(ticket: n, to: b.to) }
        ticketCommand("/tickets/{n}/split", SplitBody.self, ["comment", "subject"]) { n, b in .splitComment(ticket: n, comment: b.comment, subject: b.subject) }
        ticketCommand("/tickets/{n}/merge", MergeBody.self, ["into"]) { n, b in .mergeTicket(duplicate: n, into: b.into) }
        ticketCommand("/tickets/{n}/spam", Empty.self, []) { n, _ in .markSpam(ticket: n) }
        ticketCommand("/tickets/{n}/time", TimeBody.self, ["minutes", "on", "note"]) { n, b in .logTime(ticket: n, minutes: b.minutes, on: b.on, note: b.note) }
        ticketCommand("/tickets/{n}/rating", RatingBody.self, ["comment", "score", "text"]) { n, b in .rateAnswer(ticket: n, comment: b.comment, score: b.score, text: b.text) }

        router.post("/commands") { req, ctx in
            let p = try ctx.require()
            let buffer: ByteBuffer
            do { buffer = try await req.body.collect(upTo: limit) } catch { throw APIError(.contentTooLarge, "too-large", "the body is larger than \(limit) bytes") }
            let body = try jsonDecoder.decode(CommandBody.self, from: Data(buffer: buffer))
            if case .escalate = body { throw APIError(.forbidden, "forbidden", "escalation is the desk's timer's job") }
            let o = try await self.execute(body, as: p, idempotencyKey: try req.idempotencyKey(), expectedVersion: try req.ifMatch())
            return try jsonResponse(o)
        }

        // Mail.
        let mailLimit = options.mailLimits.maxMessageBytes
        router.post("/mail/inbound") { req, ctx in
            _ = try ctx.requireMailGateway()
            let buffer: ByteBuffer
            do { buffer = try await req.body.collect(upTo: mailLimit) } catch {
                throw APIError(.contentTooLarge, "too-large", "the message is larger than \(mailLimit) bytes")
            }
            let raw = Array(buffer: buffer)
            do {
                let (result, outcome) = try await self.intake.receive(raw)
                if let last = outcome?.sequences.max() { try await self.runner.waitUntil(last) }
                return try jsonResponse(result, status: result.disposition == "duplicate" ? .ok : .created)
            } catch let e as MailIntakeError {
                if e.tooLarge { throw APIError(.contentTooLarge, "too-large", e.message) }
                if e.permanent { throw APIError(.unprocessableContent, "unacceptable-message", e.message) }
                throw APIError(.serviceUnavailable, "try-later", e.message)
            }
        }
        router.get("/outbox") { req, ctx in
            _ = try ctx.requireStaff(.staff)
            var entries = self.outbox.all
            if let s = req.query("status") {
                let status = try enumValue(Outbox.Status.self, s, "status")
                entries = entries.filter { $0.status == status }
            }
            return try jsonResponse(entries)
        }
        let attachmentLimit = options.mailLimits.maxAttachmentBytes
        router.post("/attachments") { req, ctx in
            let p = try ctx.require()
            guard p.isClient || p.atLeast(.staff) else { throw APIError(.forbidden, "forbidden", "auditors change nothing") }
            let name = (req.query("filename") ?? "").trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.count <= 255, !name.contains("/") else {
                throw APIError(.badRequest, "bad-request", "give ?filename= (1…255 characters, no '/')")
            }
            let type = req.headers[.contentType] ?? "application/octet-stream"
            let w = try self.blobs.writer(limit: attachmentLimit)
            do {
                for try await chunk in req.body { try chunk.withUnsafeReadableBytes { try w.append($0) } }
                guard w.size > 0 else { throw APIError(.badRequest, "bad-request", "the file is empty") }
                let (sha, size) = try w.finish()
                return try jsonResponse(AttachmentRef(sha256: sha, filename: name, contentType: type, size: size), status: .created)
            } catch BlobStore.BlobError.tooLarge(let limit) {
                w.abort()
                throw APIError(.contentTooLarge, "too-large", "an attachment is at most \(limit) bytes")
            } catch {
                w.abort()
                throw error
            }
        }
        router.get("/attachments/{sha256}") { req, ctx in
            let p = try ctx.require()
            let sha = try ctx.parameters.require("sha256")
            var ref: AttachmentRef?
            if case .contact(let id) = p.party {
                guard let n = req.query("ticket").flatMap(Int.init), let t = self.view.clientTicket(contact: id, number: n) else {
                    throw APIError(.notFound, "not-found", "no such attachment (clients name the ticket: ?ticket=N)")
                }
                ref = t.comments.flatMap(\.attachments).first { $0.sha256 == sha }
                guard ref != nil else { throw APIError(.notFound, "not-found", "no such attachment on #\(n)") }
            } else {
                _ = try ctx.requireStaff(.auditor)
                if let n = req.query("ticket").flatMap(Int.init), let d = self.view.ticketDetail(n, now: self.clock.now()) {
                    ref = d.ticket.comments.flatMap(\.attachments).first { $0.sha256 == sha }
                }
            }
            guard BlobStore.isName(sha) else { throw APIError(.notFound, "not-found", "no such attachment") }
            let bytes: [UInt8]
            if self.blobs.contains(sha) {
                bytes = try self.blobs.read(sha)
            } else if !p.isClient, let raw = try self.intake.rawMessage(sha) {
                bytes = raw  // staff may read a raw message by the hash its MailReceived event names
                ref = AttachmentRef(sha256: sha, filename: "\(sha.prefix(12)).eml", contentType: "message/rfc822", size: raw.count)
            } else {
                throw APIError(.notFound, "not-found", "no such attachment")
            }
            var headers: HTTPFields = [.contentType: ref?.contentType ?? "application/octet-stream"]
            if let name = ref?.filename {
                headers[.contentDisposition] = "attachment; filename*=UTF-8''" + (name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "file")
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }

        // Tokens.
        router.post("/tokens") { req, ctx in
            let p = try ctx.requireStaff(.staff)
            let b = try await decodeBody(TokenBody.self, req, limit: limit, allowed: ["party", "label"])
            let token = Self.newToken()
            _ = try await self.execute(.issueToken(hash: Self.hash(token), party: b.party, label: b.label ?? ""), as: p,
                                       idempotencyKey: nil, expectedVersion: nil)
            return try jsonResponse(["token": token, "party": b.party.description], status: .created)
        }
        router.post("/invitations") { req, ctx in
            let p = try ctx.requireStaff(.staff)
            struct Body: Codable { var contact: String }
            let b = try await decodeBody(Body.self, req, limit: limit, allowed: ["contact"])
            let code = Self.newToken()
            _ = try await self.execute(.issueToken(hash: Self.hash(code), party: .contact(b.contact), label: Self.invitationLabel), as: p,
                                       idempotencyKey: nil, expectedVersion: nil)
            return try jsonResponse(["invitation": code, "contact": b.contact], status: .created)
        }
        router.post("/invitations/accept") { req, ctx in
            let p = try ctx.require()
            guard let header = req.headers[.authorization], p.isClient else {
                throw APIError(.forbidden, "forbidden", "only an invited contact accepts an invitation")
            }
            let codeHash = Self.hash(String(header.dropFirst(7)))
            guard self.view.account.tokens[codeHash]?.label == Self.invitationLabel else {
                throw APIError(.conflict, "conflict", "this token is not an invitation (it may have been accepted already)")
            }
            // The contact's own token first, then the code is revoked: a failure in between leaves the code usable.
            let token = Self.newToken()
            _ = try await self.execute(.issueToken(hash: Self.hash(token), party: p.party, label: "portal"), as: p,
                                       idempotencyKey: nil, expectedVersion: nil)
            _ = try await self.execute(.revokeToken(hash: codeHash), as: p, idempotencyKey: nil, expectedVersion: nil)
            return try jsonResponse(["token": token, "party": p.party.description], status: .created)
        }
        router.delete("/tokens/current") { req, ctx in
            let p = try ctx.require()
            guard let header = req.headers[.authorization] else { throw APIError(.unauthorized, "unauthorized", "no token") }
            _ = try await self.execute(.revokeToken(hash: Self.hash(String(header.dropFirst(7)))), as: p, idempotencyKey: nil, expectedVersion: nil)
            return Response(status: .noContent)
        }

        // Reports.
        @Sendable func reportReader(_ ctx: DeskContext) throws {
            let p = try ctx.requireStaff(.auditor)
            guard p.role != .staff else { throw APIError(.forbidden, "forbidden", "reports are for managers, admins and auditors") }
        }
        @Sendable func period(_ req: Request) throws -> (LocalDate, LocalDate) {
            guard let f = req.query("from").flatMap(LocalDate.init), let t = req.query("to").flatMap(LocalDate.init), f <= t else {
                throw APIError(.badRequest, "bad-request", "give from and to as YYYY-MM-DD, from ≤ to")
            }
            return (f, t)
        }
        @Sendable func wantsCSV(_ req: Request) -> Bool {
            req.query("format") == "csv" || (req.headers[.accept]?.contains("text/csv") ?? false)
        }
        router.get("/reports/payroll") { req, ctx in
            try reportReader(ctx)
            let (from, to) = try period(req)
            let choice: FormulaChoice = try req.query("formulaVersion").map { s in
                guard let n = Int(s) else { throw APIError(.badRequest, "bad-request", "formulaVersion is a number") }
                return .version(n)
            } ?? .inForce
            do {
                if let other = req.query("compareWith") {
                    guard let n = Int(other) else { throw APIError(.badRequest, "bad-request", "compareWith is a version number") }
                    let c = try self.view.comparePayroll(from: from, to: to, choice, .version(n))
                    if wantsCSV(req) { return textResponse(CSV.payrollComparison(c.lines), contentType: "text/csv; charset=utf-8") }
                    struct Out: Encodable { var before: PayrollReport; var after: PayrollReport; var changes: [PayrollComparisonLine] }
                    return try jsonResponse(Out(before: c.before, after: c.after, changes: c.lines))
                }
                let r = try self.view.payroll(from: from, to: to, formula: choice)
                if wantsCSV(req) { return textResponse(CSV.payroll(r), contentType: "text/csv; charset=utf-8") }
                return try jsonResponse(r)
            } catch let e as ReportError {
                throw APIError(.unprocessableContent, "invalid", e.message)
            }
        }
        router.get("/reports/sla") { req, ctx in
            try reportReader(ctx)
            let (from, to) = try period(req)
            let r = self.view.sla(from: from, to: to)
            if wantsCSV(req) { return textResponse(CSV.sla(r), contentType: "text/csv; charset=utf-8") }
            return try jsonResponse(r)
        }
        router.get("/reports/load") { req, ctx in
            try reportReader(ctx)
            let (from, to) = try period(req)
            let r = self.view.load(from: from, to: to)
            if wantsCSV(req) { return textResponse(CSV.load(r), contentType: "text/csv; charset=utf-8") }
            return try jsonResponse(r)
        }

        // Audit.
        @Sendable func auditor(_ ctx: DeskContext) throws {
            let p = try ctx.requireStaff(.auditor)
            guard p.role == .auditor || p.role == .admin else { throw APIError(.forbidden, "forbidden", "audits are for admins and auditors") }
        }
        router.get("/audit/tickets/{n}/history") { _, ctx in
            try auditor(ctx)
            let n = try ctx.parameters.require("n", as: Int.self)
            let h = try Audit.history(self.store, ticket: n)
            guard !h.isEmpty else { throw APIError(.notFound, "not-found", "no ticket #\(n)") }
            return try jsonResponse(h)
        }
        router.get("/audit/tickets/{n}/visibility") { req, ctx in
            try auditor(ctx)
            let n = try ctx.parameters.require("n", as: Int.self)
            let v = try Audit.visibility(self.store, ticket: n, contact: req.query("contact"), scope: self.view.auditScope(n))
            guard !v.isEmpty else { throw APIError(.notFound, "not-found", "no ticket #\(n)") }
            return try jsonResponse(v)
        }
        router.get("/audit/tickets/{n}/replay") { req, ctx in
            try auditor(ctx)
            let n = try ctx.parameters.require("n", as: Int.self)
            guard let s = req.query("asOf"), let at = ISO8601DateFormatter().date(from: s) else {
                throw APIError(.badRequest, "bad-request", "give asOf as ISO 8601, e.g. 2026-03-03T14:05:00+03:00")
            }
            guard let r = try Audit.replay(self.store, ticket: n, asOf: at, scope: self.view.auditScope(n)) else { throw APIError(.notFound, "not-found", "ticket #\(n) did not exist then") }
            return try jsonResponse(r)
        }
        router.get("/events") { req, ctx in
            try auditor(ctx)
            let from = UInt64(req.query("from") ?? "") ?? 1
            let to = UInt64(req.query("to") ?? "") ?? UInt64.max
            let limit = max(0, Int(req.query("limit") ?? "") ?? Int.max)
            let stream = req.query("stream"), types = Set(req.uri.queryParameters.getAll("type").map { String($0) })
            func moment(_ name: String) throws -> Int64? {
                guard let s = req.query(name) else { return nil }
                guard let d = ISO8601DateFormatter().date(from: s) else { throw APIError(.badRequest, "bad-request", "\(name) must be ISO 8601") }
                return Timestamp.micros(from: d)
            }
            let since = try moment("since"), until = try moment("until")
            let store = self.store
            // Streamed in pages of 1,000 records, each page read in its own snapshot.
            let body = ResponseBody { writer in
                var next = from, sent = 0
                while next <= to, sent < limit {
                    var page: [String] = []
                    var last = next - 1
                    try store.read { r in
                        try r.forEachRawRecord(from: next) { seq, raw in
                            last = seq
                            guard seq <= to else { return false }
                            let rec = try RecordFormat.decode(raw)
                            if let stream, rec.stream != stream { return page.count < 1000 }
                            if !types.isEmpty, !types.contains(rec.type) { return page.count < 1000 }
                            if let since, rec.timestampMicros < since { return page.count < 1000 }
                            if let until, rec.timestampMicros > until { return page.count < 1000 }
                            page.append(EventJSON.line(rec))
                            return page.count < 1000 && sent + page.count < limit
                        }
                    }
                    if page.isEmpty && last < next { break }
                    sent += page.count
                    if !page.isEmpty { try await writer.write(ByteBuffer(string: page.joined(separator: "\n") + "\n")) }
                    if last < next { break }
                    next = last + 1
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: body)
        }
        return router
    }
}

func enumValue<E: RawRepresentable>(_ type: E.Type, _ s: String, _ what: String) throws -> E where E.RawValue == String {
    guard let v = E(rawValue: s) else { throw APIError(.badRequest, "bad-request", "unknown \(what) '\(s)'") }
    return v
}
