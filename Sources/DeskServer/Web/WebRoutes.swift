import BusinessTime
import Foundation
import Hummingbird
import HTTPTypes
import Projections
import SupportDesk

/// The web interface: server-rendered pages under `/ui/` for staff (the Chronicle, the ticket page)
/// and clients (the portal), on the same read models and commands as the JSON API and with the same
/// authorization (a client never reaches a staff page). See `Web` for sessions and CSRF.
extension DeskService {
    /// Activity types that refresh an open page (the mail sender's and intake's records do not).
    static let liveTypes = #"["TicketOpened","TicketAccepted","CommentAdded","StatusChanged","ParticipantAdded","ParticipantRemoved","TicketReassigned","TicketEscalated","TicketClassified","LevelChanged","CommentSplitOff","TicketMerged","MarkedAsSpam","AnswerEvaluated","AnswerRated","TimeLogged"]"#

    /// Activity in words for the Chronicle.
    static func activityText(_ a: Activity) -> String {
        let words: [String: String] = [
            "TicketOpened": "opened", "TicketAccepted": "accepted", "CommentAdded": "new comment", "StatusChanged": "status changed",
            "ParticipantAdded": "participant added", "ParticipantRemoved": "participant removed", "TicketReassigned": "reassigned",
            "TicketEscalated": "escalated", "TicketClassified": "classified", "LevelChanged": "level changed",
            "CommentSplitOff": "comment split off", "TicketMerged": "merged", "DuplicateMergedIn": "duplicate merged in",
            "MarkedAsSpam": "marked as spam", "TimeLogged": "time logged", "AnswerEvaluated": "answer evaluated", "AnswerRated": "answer rated",
        ]
        return words[a.type] ?? a.type
    }

    func webSession(_ request: Request) async -> WebSession? {
        guard let token = Web.sessionToken(request), let p = await authenticate(token) else { return nil }
        if case .system = p.party { return nil }
        return WebSession(principal: p, token: token, name: displayName(p.party))
    }

    func displayName(_ party: Party) -> String {
        switch party {
        case .staff(let id): view.account.staff[id]?.name ?? id
        case .contact(let id): view.contact(id)?.name ?? id
        case .system(let s): s
        }
    }

    func addWebRoutes(to router: Router<DeskContext>) {
        let renderer = WebRenderer()
        addReportPages(to: router, renderer: renderer)
        addAdminPages(to: router, renderer: renderer)
        let secure = options.secureCookies

        @Sendable func requireSession(_ req: Request) async throws -> WebSession {
            guard let s = await webSession(req) else { throw WebRedirect(location: "/ui/signin") }
            return s
        }
        @Sendable func requireStaffSession(_ req: Request) async throws -> WebSession {
            let s = try await requireSession(req)
            guard s.principal.atLeast(.staff) || s.principal.role == .auditor else { throw WebRedirect(location: "/ui/portal") }
            return s
        }
        @Sendable func requireClientSession(_ req: Request) async throws -> WebSession {
            let s = try await requireSession(req)
            guard s.principal.isClient else { throw WebRedirect(location: "/ui/chronicle") }
            return s
        }
        @Sendable func form(_ req: Request, _ s: WebSession) async throws -> [String: String] { try await self.webForm(req, s) }
        /// A form that may carry files (`multipart/form-data`): its fields, and each file stored in the blob
        /// store as an attachment (at most the attachment limit each, after the CSRF check).
        @Sendable func formWithFiles(_ req: Request, _ s: WebSession) async throws -> ([String: String], [AttachmentRef]) {
            let type = req.headers[.contentType] ?? ""
            guard type.lowercased().hasPrefix("multipart/form-data") else { return (try await form(req, s), []) }
            let limit = self.options.mailLimits.maxAttachmentBytes + 64 * 1024
            let body: ByteBuffer
            do { body = try await req.body.collect(upTo: limit) } catch {
                throw APIError(.contentTooLarge, "too-large", "a file is at most \(self.options.mailLimits.maxAttachmentBytes) bytes")
            }
            let parts = Web.multipart(Array(buffer: body), contentType: type)
            var fields: [String: String] = [:]
            for p in parts where p.filename == nil { fields[p.name] = String(decoding: p.data, as: UTF8.self) }
            guard fields["_csrf"] == s.csrf else { throw APIError(.forbidden, "csrf", "the form is stale or not from this site; reload the page") }
            var files: [AttachmentRef] = []
            for p in parts where p.filename?.isEmpty == false && !p.data.isEmpty {
                let name = String(p.filename!.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last ?? "file").prefix(255)
                let (sha, size) = try self.blobs.put(p.data)
                files.append(AttachmentRef(sha256: sha, filename: String(name), contentType: p.contentType ?? "application/octet-stream", size: size))
            }
            return (fields, files)
        }
        @Sendable func run(_ body: CommandBody, _ s: WebSession) async -> String? { await self.webRun(body, s) }
        @Sendable func page(_ template: String, _ title: String, _ s: WebSession?, _ values: [String: Any],
                            status: HTTPResponse.Status = .ok) -> Response { renderer.response(template, title, s, values, status: status) }

        router.get("/") { req, _ in
            guard let s = await self.webSession(req) else { return Web.redirect("/ui/signin") }
            return Web.redirect(s.principal.isClient ? "/ui/portal" : "/ui/chronicle")
        }
        router.get("/ui") { _, _ in Web.redirect("/") }
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }

        // Sign-in and sign-out.
        router.get("/ui/signin") { _, _ in page("signin", "Sign in", nil, [:]) }
        router.post("/ui/signin") { req, _ in
            let f = Web.form(try await req.body.collect(upTo: 16 * 1024))
            guard let token = f["token"]?.first, let p = await self.authenticate(token) else {
                return page("signin", "Sign in", nil, ["error": "That token is unknown, revoked, or its owner has no access."], status: .unauthorized)
            }
            if case .system = p.party {
                return page("signin", "Sign in", nil, ["error": "The mail gateway's token cannot sign in."], status: .forbidden)
            }
            // A session token of its own, so that signing out never revokes the token typed in.
            let session = Self.newToken()
            _ = try await self.execute(.issueToken(hash: Self.hash(session), party: p.party, label: Web.sessionLabel), as: p,
                                       idempotencyKey: nil, expectedVersion: nil)
            return Web.redirect(p.isClient ? "/ui/portal" : "/ui/chronicle", cookie: Web.cookie(session, secure: secure))
        }
        router.get("/ui/invite") { req, _ in
            // An invitation link: the code is exchanged for the contact's own session, and spent.
            guard let code = req.uri.queryParameters.get("code"), let p = await self.authenticate(code), p.isClient,
                  self.view.account.tokens[Self.hash(code)]?.label == Self.invitationLabel else {
                return page("message", "Invitation", nil, ["heading": "Invitation", "kind": "error",
                                                           "text": "This invitation link is not valid any more. Ask us for a new one."], status: .notFound)
            }
            let session = Self.newToken()
            _ = try await self.execute(.issueToken(hash: Self.hash(session), party: p.party, label: Web.sessionLabel), as: p,
                                       idempotencyKey: nil, expectedVersion: nil)
            _ = try await self.execute(.revokeToken(hash: Self.hash(code)), as: p, idempotencyKey: nil, expectedVersion: nil)
            return Web.redirect("/ui/portal", cookie: Web.cookie(session, secure: secure))
        }
        router.post("/ui/signout") { req, _ in
            if let s = await self.webSession(req) {
                _ = try await form(req, s)
                _ = await run(.revokeToken(hash: Self.hash(s.token)), s)
            }
            return Web.redirect("/ui/signin", cookie: Web.expiredCookie(secure: secure))
        }

        // The Chronicle.
        router.get("/ui/chronicle") { req, _ in
            let s = try await requireStaffSession(req)
            var f = FeedFilter()
            let q = req.uri.queryParameters
            f.mine = q.get("mine") == "true"
            f.unaccepted = q.get("unaccepted") == "true"
            f.premiumFirst = q.get("premiumFirst") == "true"
            f.status = q.get("status").flatMap { TicketStatus(rawValue: $0) }
            f.type = q.get("type").flatMap { TicketType(rawValue: $0) }
            f.criticality = q.get("criticality").flatMap { Criticality(rawValue: $0) }
            f.level = q.get("level").flatMap { Int($0) }.flatMap { SupportLevel(rawValue: $0) }
            let items = self.view.staffFeed(staff: s.principal.party.staffId ?? "", filter: f, now: self.clock.now(), limit: 100)
            let me = s.principal.party.staffId ?? ""
            let rows: [[String: Any]] = items.map { i in
                ["number": i.number, "subject": i.subject, "status": i.status.rawValue, "marker": i.marker.rawValue,
                 "unread": i.activity.sequence > self.seen.seen(me, i.number) && i.activity.actor != "staff:\(me)",
                 "premium": i.premium, "overdue": i.overdue, "unaccepted": i.unaccepted, "csrf": s.csrf,
                 "responsible": i.responsible.map { self.displayName(.staff($0)) } ?? "", "level": i.level.rawValue,
                 "activityText": Self.activityText(i.activity), "activityAt": Web.time(i.activity.at)]
            }
            func options<T: CaseIterable & RawRepresentable & Equatable>(_ selected: T?, label: (T) -> String = { "\($0.rawValue)" }) -> [[String: Any]] {
                T.allCases.map { ["value": "\($0.rawValue)", "label": label($0), "selected": selected == $0] }
            }
            return page("chronicle", "Chronicle", s, ["items": rows, "statuses": options(f.status), "types": options(f.type),
                                                      "criticalities": options(f.criticality), "levels": options(f.level) { "L\($0.rawValue)" },
                                                      "mine": f.mine, "unaccepted": f.unaccepted,
                                                      "premiumFirst": f.premiumFirst, "liveTypes": Self.liveTypes])
        }

        // The ticket page (staff).
        router.get("/ui/tickets/{n}") { req, ctx in
            let s = try await requireStaffSession(req)
            let n = try ctx.parameters.require("n", as: Int.self)
            guard let d = self.view.ticketDetail(n, now: self.clock.now()) else {
                return page("message", "Not found", s, ["heading": "No ticket #\(n)", "kind": "error", "text": "There is no such ticket.",
                                                        "back": "/ui/chronicle"], status: .notFound)
            }
            let t = d.ticket
            let comments: [[String: Any]] = t.comments.map { c in
                ["number": c.number, "author": self.displayName(c.author), "at": Web.time(c.at), "internal": c.isInternal, "text": c.text,
                 "fromClient": c.author.contactId != nil,
                 "notify": c.notify.map { self.displayName($0) }.joined(separator: ", "), "ticket": n,
                 "attachments": c.attachments.map { ["sha256": $0.sha256, "filename": $0.filename, "size": $0.size, "ticket": n] as [String: Any] }]
            }
            // SLA due times counting down in business time of the ticket's calendar.
            let account = self.view.account
            let calendar = t.tierId.flatMap { account.tiers[$0] }.flatMap { account.calendars[$0.calendarId] } ?? .twentyFourSeven()
            let now = self.clock.now()
            func left(_ due: Date?, done: Bool) -> String {
                guard let due, !done, t.status.isOpen else { return "" }
                if now >= due { return "overdue by \(String(format: "%.1f", Double(calendar.businessSeconds(from: due, to: now)) / 3600)) business h" }
                return "\(String(format: "%.1f", Double(calendar.businessSeconds(from: now, to: due)) / 3600)) business h left"
            }
            let last = t.comments.last { !$0.isInternal }
            let recipients = (last?.notify ?? []).filter { $0.contactId != nil }.map { self.displayName($0) }
            let q = req.uri.queryParameters
            let me = s.principal.party.staffId ?? ""
            if let seq = d.activity?.sequence { await self.seen.mark(me, n, upTo: seq, in: self.store) }
            let others = self.viewers.on(n).filter { $0 != me }.map { self.displayName(.staff($0)) }
            return page("ticket", "#\(n) \(t.subject)", s, [
                "viewers": others.joined(separator: ", "),
                "open": t.status != .closed,
                "evaluations": t.evaluations.sorted { $0.key < $1.key }.map { staff, e in
                    ["staff": self.displayName(.staff(staff)), "kind": e.kind, "volume": e.volume.rawValue, "links": e.links + e.screenshots,
                     "help": ["alone", "some help", "mostly helped"][max(0, min(2, e.help - 1))]] as [String: Any]
                },
                "number": n, "subject": t.subject, "status": t.status.rawValue, "level": t.level.rawValue, "premium": t.premium,
                "unaccepted": t.responsible == nil && t.status.isOpen, "csrf": s.csrf, "contactName": d.contactName,
                "organisationName": d.organisationName ?? "", "tierName": d.tierName ?? "",
                "responsible": t.responsible.map { self.displayName(.staff($0)) } ?? "nobody yet",
                "reactionDue": t.reactionDue.map(Web.time) ?? "", "resolutionDue": t.resolutionDue.map(Web.time) ?? "",
                "breached": d.reactionBreached || d.resolutionBreached, "comments": comments,
                "reactionLeft": left(t.reactionDue, done: t.firstResponseAt != nil), "resolutionLeft": left(t.resolutionDue, done: t.resolvedAt != nil),
                "defaultRecipients": recipients.isEmpty ? d.contactName : recipients.joined(separator: ", "),
                "statusChoices": ["waiting-for-client", "postponed", "resolved", "accepted", "reopened"],
                "answerKinds": Web.answerKinds.enumerated().map { ["value": $0.offset + 1, "label": $0.element, "checked": $0.offset == 0] as [String: Any] },
                "types": TicketType.allCases.map(\.rawValue), "criticalities": Criticality.allCases.map(\.rawValue),
                "staffChoices": self.view.account.staff.values.filter { $0.active && $0.role != .auditor }.sorted { $0.id < $1.id }
                    .map { ["id": $0.id, "name": $0.name] as [String: Any] },
                "classification": [t.classification.type?.rawValue, t.classification.criticality?.rawValue,
                                   t.classification.complexity.map { "complexity \($0)" }, t.classification.category]
                    .compactMap { $0 }.joined(separator: " · "),
                "notice": q.get("done") ?? "", "error": q.get("error") ?? "", "liveTypes": Self.liveTypes,
            ])
        }
        router.get("/ui/tickets/{n}/viewers") { req, ctx in
            let s = try await requireStaffSession(req)
            let n = try ctx.parameters.require("n", as: Int.self)
            let me = s.principal.party.staffId ?? ""
            return try jsonResponse(self.viewers.on(n).filter { $0 != me }.map { self.displayName(.staff($0)) })
        }
        @Sendable func back(_ n: Int, _ error: String?, done: String) -> Response { Web.back("/ui/tickets/\(n)", error: error, done: done) }
        router.post("/ui/tickets/{n}/accept") { req, ctx in
            let s = try await requireStaffSession(req)
            let n = try ctx.parameters.require("n", as: Int.self)
            _ = try await form(req, s)
            return back(n, await run(.acceptTicket(ticket: n), s), done: "You accepted #\(n).")
        }
        router.post("/ui/tickets/{n}/comment") { req, ctx in
            let s = try await requireStaffSession(req)
            let n = try ctx.parameters.require("n", as: Int.self)
            let (f, files) = try await formWithFiles(req, s)
            let body = CommandBody.comment(ticket: n, text: f["text"] ?? "", internal: f["internal"] == "true", notify: nil,
                                           attachments: files, channel: nil, externalId: nil)
            return back(n, await run(body, s), done: f["internal"] == "true" ? "Internal comment added." : "Answer sent.")
        }
        router.post("/ui/tickets/{n}/status") { req, ctx in
            let s = try await requireStaffSession(req)
            let n = try ctx.parameters.require("n", as: Int.self)
            let f = try await form(req, s)
            guard let to = f["to"].flatMap(TicketStatus.init(rawValue:)) else { return back(n, "Choose a status.", done: "") }
            let until = to == .postponed ? self.clock.now().addingTimeInterval(24 * 3600) : nil
            return back(n, await run(.changeStatus(ticket: n, to: to, reason: nil, until: until), s), done: "Status changed to \(to.rawValue).")
        }
        // The ticket's other actions: classify, level, participants, split, merge, spam, time.
        router.post("/ui/tickets/{n}/action") { req, ctx in
            let s = try await requireStaffSession(req)
            let n = try ctx.parameters.require("n", as: Int.self)
            let f = try await form(req, s)
            func opt(_ k: String) -> String? { f[k].flatMap { $0.isEmpty ? nil : $0 } }
            let body: CommandBody
            let done: String
            switch f["action"] {
            case "classify":
                body = .classify(ticket: n, Classification(type: opt("type").flatMap(TicketType.init(rawValue:)),
                                                           complexity: opt("complexity").flatMap(Int.init),
                                                           criticality: opt("criticality").flatMap(Criticality.init(rawValue:)),
                                                           category: opt("category"), plannedMinutes: opt("plannedMinutes").flatMap(Int.init),
                                                           expectedDate: opt("expectedDate").flatMap(LocalDate.init)))
                done = "Classified."
            case "level":
                body = .changeLevel(ticket: n, to: SupportLevel(rawValue: Int(f["level"] ?? "") ?? 0) ?? .l1)
                done = "Level changed."
            case "participant":
                body = .addParticipant(ticket: n, staff: f["staff"] ?? "", role: f["role"] == "co-executor" ? .coExecutor : .participant)
                done = "Added."
            case "split":
                body = .splitComment(ticket: n, comment: Int(f["comment"] ?? "") ?? 0, subject: opt("subject"))
                done = "Split into a new ticket."
            case "merge":
                body = .mergeTicket(duplicate: n, into: Int(f["into"] ?? "") ?? 0)
                done = "Merged."
            case "spam":
                body = .markSpam(ticket: n)
                done = "Marked as spam."
            case "time":
                body = .logTime(ticket: n, minutes: Int(f["minutes"] ?? "") ?? 0, on: nil, note: opt("note"))
                done = "Time logged."
            default:
                return back(n, "Unknown action.", done: "")
            }
            return back(n, await run(body, s), done: done)
        }
        router.post("/ui/tickets/{n}/close") { req, ctx in
            let s = try await requireStaffSession(req)
            let n = try ctx.parameters.require("n", as: Int.self)
            let f = try await form(req, s)
            // Blank numbers are 0; anything else that is not a number is refused by the domain's checks.
            func number(_ key: String, blank: Int) -> Int {
                let v = (f[key] ?? "").trimmingCharacters(in: .whitespaces)
                return v.isEmpty ? blank : Int(v) ?? -1
            }
            guard let volume = AnswerVolume(rawValue: f["volume"] ?? "") else { return back(n, "Choose the answer's volume.", done: "") }
            let evaluation = AnswerEvaluation(kind: number("kind", blank: 0), volume: volume, links: number("links", blank: 0),
                                              screenshots: number("screenshots", blank: 0), help: number("help", blank: 1))
            return back(n, await run(.close(ticket: n, evaluation: evaluation, reason: nil), s), done: "#\(n) is closed.")
        }

        // The client portal.
        router.get("/ui/portal") { req, _ in
            let s = try await requireClientSession(req)
            guard case .contact(let id) = s.principal.party else { throw WebRedirect(location: "/ui/signin") }
            let tickets: [[String: Any]] = self.view.clientTickets(contact: id, limit: 200).map { t in
                ["number": t.number, "subject": t.subject, "marker": t.marker.rawValue, "openedAt": Web.time(t.openedAt),
                 "updatedAt": Web.time(t.updatedAt)]
            }
            return page("portal", "My tickets", s, ["tickets": tickets, "csrf": s.csrf])
        }
        router.post("/ui/portal/new") { req, _ in
            let s = try await requireClientSession(req)
            let (f, files) = try await formWithFiles(req, s)
            let open = OpenTicket(channel: .portal, subject: f["subject"] ?? "", body: f["body"] ?? "", attachments: files)
            do {
                let o = try await self.execute(.openTicket(open), as: s.principal, idempotencyKey: nil, expectedVersion: nil)
                return Web.redirect("/ui/portal/\(o.ticket ?? 0)")
            } catch let e as DomainError {
                return page("message", "Not sent", s, ["heading": "Not sent", "kind": "error", "text": e.message, "back": "/ui/portal"],
                            status: .unprocessableContent)
            }
        }
        router.get("/ui/portal/{n}") { req, ctx in
            let s = try await requireClientSession(req)
            let n = try ctx.parameters.require("n", as: Int.self)
            guard case .contact(let id) = s.principal.party, let t = self.view.clientTicket(contact: id, number: n) else {
                return page("message", "Not found", s, ["heading": "No ticket #\(n)", "kind": "error", "text": "There is no such ticket.",
                                                        "back": "/ui/portal"], status: .notFound)
            }
            let comments: [[String: Any]] = t.comments.map { c in
                ["number": c.number, "author": c.authorName, "at": Web.time(c.at), "text": c.text, "fromStaff": c.fromStaff, "ticket": n,
                 "csrf": s.csrf, "attachments": c.attachments.map { ["sha256": $0.sha256, "filename": $0.filename, "ticket": n] as [String: Any] }]
            }
            return page("portalTicket", "#\(n) \(t.subject)", s, ["number": n, "subject": t.subject, "marker": t.marker.rawValue,
                                                                  "closed": t.status == .closed,
                                                                  "comments": comments, "csrf": s.csrf])
        }
        router.post("/ui/portal/{n}/reply") { req, ctx in
            let s = try await requireClientSession(req)
            let n = try ctx.parameters.require("n", as: Int.self)
            let (f, files) = try await formWithFiles(req, s)
            if let error = await run(.comment(ticket: n, text: f["text"] ?? "", internal: false, notify: nil, attachments: files,
                                              channel: .portal, externalId: nil), s) {
                return page("message", "Not sent", s, ["heading": "Not sent", "kind": "error", "text": error, "back": "/ui/portal/\(n)"],
                            status: .unprocessableContent)
            }
            return Web.redirect("/ui/portal/\(n)")
        }
        router.post("/ui/portal/{n}/rate") { req, ctx in
            let s = try await requireClientSession(req)
            let n = try ctx.parameters.require("n", as: Int.self)
            let f = try await form(req, s)
            if let error = await run(.rateAnswer(ticket: n, comment: f["comment"].flatMap(Int.init), score: Int(f["score"] ?? "") ?? 0, text: nil), s) {
                return page("message", "Not rated", s, ["heading": "Not rated", "kind": "error", "text": error, "back": "/ui/portal/\(n)"],
                            status: .unprocessableContent)
            }
            return Web.redirect("/ui/portal/\(n)")
        }
    }
}

/// Thrown by a page that needs another one first (sign-in, or the right side of the desk).
struct WebRedirect: Error, HTTPResponseError {
    var location: String
    var status: HTTPResponse.Status { .seeOther }
    func response(from request: Request, context: some RequestContext) throws -> Response {
        Web.redirect(location)
    }
}
