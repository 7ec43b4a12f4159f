import BusinessTime
import Foundation
import Hummingbird
import HTTPTypes
import Projections
import SupportDesk

/// Queues, contacts and settings pages.
extension DeskService {
    func addAdminPages(to router: Router<DeskContext>, renderer: WebRenderer) {
        @Sendable func session(_ req: Request, minimum: Role) async throws -> WebSession {
            guard let s = await webSession(req) else { throw WebRedirect(location: "/ui/signin") }
            guard let role = s.principal.role else { throw WebRedirect(location: "/ui/portal") }
            guard role >= minimum || (minimum <= .staff && role == .auditor) else { throw WebRedirect(location: "/ui/chronicle") }
            return s
        }
        @Sendable func page(_ template: String, _ title: String, _ s: WebSession, _ values: [String: Any],
                            status: HTTPResponse.Status = .ok) -> Response { renderer.response(template, title, s, values, status: status) }
        @Sendable func form(_ req: Request, _ s: WebSession) async throws -> [String: String] { try await self.webForm(req, s) }
        @Sendable func run(_ body: CommandBody, _ s: WebSession) async -> String? { await self.webRun(body, s) }
        @Sendable func back(_ path: String, _ error: String?, _ done: String) -> Response { Web.back(path, error: error, done: done) }

        // Queues: premium and normal (R20), unaccepted, overdue; sortable.
        router.get("/ui/queues") { req, _ in
            let s = try await session(req, minimum: .staff)
            let sort = QueueSort(rawValue: req.uri.queryParameters.get("sort") ?? "") ?? .number
            // Each queue shows its first 200 rows (the count says how many there are).
            let queues: [[String: Any]] = self.view.queues(now: self.clock.now(), sort: sort, rows: 200).map { q in
                ["name": q.name, "count": q.count, "more": q.count > q.rows.count, "rows": q.rows.map { i in
                    ["number": i.number, "subject": i.subject, "status": i.status.rawValue, "marker": i.marker.rawValue,
                     "overdue": i.overdue, "unaccepted": i.unaccepted, "premium": i.premium,
                     "responsible": i.responsible.map { self.displayName(.staff($0)) } ?? "—", "activity": Web.time(i.activity.at)] as [String: Any]
                }]
            }
            return page("queues", "Queues", s, ["queues": queues, "sort": sort.rawValue])
        }

        // Contacts: search by name, e-mail, phone or ticket number (R3); portal access, addresses, merge.
        router.get("/ui/contacts") { req, _ in
            let s = try await session(req, minimum: .staff)
            let q = req.uri.queryParameters.get("q") ?? ""
            let orgs = Dictionary(uniqueKeysWithValues: self.view.organisations.map { ($0.id, $0) })
            let found: [[String: Any]] = self.view.searchContacts(q).map { c in
                ["id": c.id, "name": c.name, "emails": c.emails.joined(separator: ", "), "phones": c.phones.joined(separator: ", "),
                 "organisation": c.organisation.flatMap { orgs[$0]?.name } ?? "—", "portal": c.portalAccess, "csrf": s.csrf,
                 "premiumLeft": c.organisation.flatMap { orgs[$0]?.premiumLeft } ?? 0, "org": c.organisation ?? ""]
            }
            let q2 = req.uri.queryParameters
            return page("contacts", "Contacts", s, ["q": q, "contacts": found, "searched": !q.isEmpty, "csrf": s.csrf,
                                                    "done": q2.get("done") ?? "", "error": q2.get("error") ?? ""])
        }
        router.post("/ui/contacts/{id}") { req, ctx in
            let s = try await session(req, minimum: .staff)
            let id = try ctx.parameters.require("id")
            let f = try await form(req, s)
            let here = "/ui/contacts?q=" + (f["q"] ?? id).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            switch f["action"] {
            case "portal-on": return back(here, await run(.setPortalAccess(contact: id, granted: true), s), "Portal access granted.")
            case "portal-off": return back(here, await run(.setPortalAccess(contact: id, granted: false), s), "Portal access revoked.")
            case "email": return back(here, await run(.attachEmail(contact: id, email: f["value"] ?? ""), s), "Address attached.")
            case "phone": return back(here, await run(.attachPhone(contact: id, phone: f["value"] ?? ""), s), "Phone attached.")
            case "merge": return back(here, await run(.mergeContacts(duplicate: id, into: f["value"] ?? ""), s), "Contacts merged.")
            case "premium":
                return back(here, await run(.buyPremiumQuota(organisation: f["org"] ?? "", tickets: Int(f["value"] ?? "") ?? 0, note: nil), s),
                            "Premium quota added.")
            default: return back(here, "Unknown action.", "")
            }
        }

        // Settings (managers): visibility, the payroll formula (preview, publish), staff, calendars and tiers.
        router.get("/ui/settings") { req, _ in
            let s = try await session(req, minimum: .manager)
            let account = self.view.account
            let q = req.uri.queryParameters
            var values: [String: Any] = [
                "csrf": s.csrf, "onlyNotified": account.visibility.onlyNotified, "organisationSharing": account.visibility.organisationSharing,
                "staff": account.staff.values.sorted { $0.id < $1.id }.map { ["id": $0.id, "name": $0.name, "email": $0.email,
                                                                             "role": $0.role.rawValue, "active": $0.active] as [String: Any] },
                "calendars": account.calendars.values.sorted { $0.id < $1.id }.map {
                    ["id": $0.id, "name": $0.name, "timeZone": $0.timeZone, "week": CalendarForm.weekSummary($0),
                     "edit": "/ui/settings?calendar=" + ($0.id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") + "#calendars",
                     "holidays": $0.holidays.sorted().map(\.description).joined(separator: ", ")] as [String: Any]
                },
                "calendarForm": CalendarForm.values(q.get("calendar").flatMap { account.calendars[$0] }, timeZone: account.timeZone),
                "managers": account.staff.values.filter { $0.active && $0.role >= .manager }.sorted { $0.id < $1.id }
                    .map { ["id": $0.id, "name": $0.name, "selected": account.escalation?.manager == $0.id] as [String: Any] },
                "escalationHours": account.escalation.map { String($0.afterBusinessHours) } ?? "",
                "timeZone": account.timeZone,
                "tiers": account.tiers.values.sorted { $0.id < $1.id }.map { ["id": $0.id, "name": $0.name, "reaction": $0.reactionHours,
                                                                            "resolution": $0.resolutionHours, "calendar": $0.calendarId] as [String: Any] },
                "formulas": account.formulas.sorted { $0.version > $1.version }.map { ["version": $0.version, "from": $0.effectiveFrom.description,
                                                                                     "note": $0.note ?? ""] as [String: Any] },
                "done": q.get("done") ?? "", "error": q.get("error") ?? "",
            ]
            let source = q.get("source") ?? account.formulas.max { $0.version < $1.version }?.source ?? ""
            values["source"] = source
            if q.get("preview") == "1", !source.isEmpty {
                // Preview against last month: the draft beside the formulas in force.
                let today = localDate(self.clock.now(), timeZone: account.timeZone)
                let first = LocalDate(year: today.month == 1 ? today.year - 1 : today.year, month: today.month == 1 ? 12 : today.month - 1, day: 1)
                // The previous month's last day (days past the end are fine for a `≤` bound).
                let last = LocalDate(year: first.year, month: first.month, day: 31)
                do {
                    let c = try self.view.comparePayroll(from: first, to: last, .inForce, .source(source))
                    values["preview"] = c.lines.map { ["name": $0.name, "before": String(format: "%.2f", $0.before),
                                                       "after": String(format: "%.2f", $0.after),
                                                       "change": String(format: "%+.2f", $0.change)] as [String: Any] }
                    values["previewPeriod"] = "\(first) – \(last)"
                    values["hasPreview"] = true
                } catch {
                    values["error"] = "The formula does not work: \(error)"
                }
            }
            return page("settings", "Settings", s, values)
        }
        router.post("/ui/settings/visibility") { req, _ in
            let s = try await session(req, minimum: .manager)
            let f = try await form(req, s)
            let v = VisibilitySettings(onlyNotified: f["onlyNotified"] == "on", organisationSharing: f["organisationSharing"] == "on")
            return back("/ui/settings", await run(.setVisibility(v), s), "Visibility saved.")
        }
        router.post("/ui/settings/formula") { req, _ in
            let s = try await session(req, minimum: .manager)
            let f = try await form(req, s)
            let source = f["source"] ?? ""
            if f["action"] == "preview" {
                return Web.redirect("/ui/settings?preview=1&source=" + (source.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
            }
            guard let from = f["effectiveFrom"].flatMap(LocalDate.init) else { return back("/ui/settings", "Give the date it takes effect.", "") }
            return back("/ui/settings", await run(.publishFormula(effectiveFrom: from, source: source, note: f["note"].flatMap { $0.isEmpty ? nil : $0 }), s),
                        "Formula published as a new version.")
        }
        router.post("/ui/settings/calendar") { req, _ in
            let s = try await session(req, minimum: .manager)
            let f = try await form(req, s)
            let calendar: BusinessCalendar
            do throws(CalendarForm.Invalid) { calendar = try CalendarForm.parse(f) } catch { return back("/ui/settings", error.message, "") }
            return back("/ui/settings", await run(.defineCalendar(calendar), s), "Calendar \(calendar.name) saved.")
        }
        router.post("/ui/settings/tier") { req, _ in
            let s = try await session(req, minimum: .manager)
            let f = try await form(req, s)
            let tier = SLATier(id: f["id"] ?? "", name: f["name"] ?? "", calendarId: f["calendar"] ?? "",
                               reactionHours: Double(f["reaction"] ?? "") ?? 0, resolutionHours: Double(f["resolution"] ?? "") ?? 0)
            return back("/ui/settings", await run(.defineSLATier(tier, isDefault: f["default"] == "on"), s), "SLA tier \(tier.name) saved.")
        }
        router.post("/ui/settings/escalation") { req, _ in
            let s = try await session(req, minimum: .manager)
            let f = try await form(req, s)
            let rule = f["manager"].flatMap { $0.isEmpty ? nil : EscalationRule(afterBusinessHours: Double(f["hours"] ?? "") ?? 0, manager: $0) }
            return back("/ui/settings", await run(.setEscalationRule(rule), s), rule == nil ? "Escalation turned off." : "Escalation rule saved.")
        }
        router.post("/ui/settings/staff") { req, _ in
            let s = try await session(req, minimum: .manager)
            let f = try await form(req, s)
            let role = f["role"].flatMap(Role.init(rawValue:)) ?? .staff
            return back("/ui/settings", await run(.addStaff(id: f["id"] ?? "", name: f["name"] ?? "", email: f["email"] ?? "", role: role,
                                                            isDeveloper: f["developer"] == "on"), s), "Staff member added.")
        }
    }
}

extension WebTemplates {
    static let queues = """
    <h1>Queues</h1>
    <p class="muted">Sort: <a href="/ui/queues?sort=number">newest</a> · <a href="/ui/queues?sort=activity">latest activity</a> · <a href="/ui/queues?sort=status">status</a></p>
    {{#queues}}
    <section class="card"><h2>{{name}} <span class="muted">({{count}})</span></h2>
      <div style="overflow-x:auto"><table>
        <thead><tr><th>#</th><th>Subject</th><th>Status</th><th>Responsible</th><th>Last activity</th></tr></thead>
        <tbody>{{#rows}}<tr class="marker-{{marker}}"><td><a href="/ui/tickets/{{number}}">#{{number}}</a></td><td>{{subject}}
          {{#premium}}<span class="badge premium">premium</span>{{/premium}}{{#overdue}}<span class="badge overdue">overdue</span>{{/overdue}}{{#unaccepted}}<span class="badge unaccepted">Unaccepted</span>{{/unaccepted}}</td>
          <td>{{status}}</td><td>{{responsible}}</td><td>{{activity}}</td></tr>{{/rows}}</tbody>
      </table></div>
      {{^rows}}<p class="muted">Empty.</p>{{/rows}}
      {{#more}}<p class="muted">Showing the first 200; use the Chronicle's filters for the rest.</p>{{/more}}
    </section>
    {{/queues}}
    """

    static let contacts = """
    <h1>Contacts</h1>
    {{#done}}<p class="notice" role="status">{{done}}</p>{{/done}}
    {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
    <form class="filters card" method="get" action="/ui/contacts">
      <label>Name, e-mail, phone or ticket number <input name="q" value="{{q}}" autofocus></label>
      <button>Search</button>
    </form>
    {{#contacts}}
    <div class="card">
      <div class="row"><strong>{{name}}</strong><span class="muted">{{id}}</span><span class="badge">{{organisation}}</span>
        {{#portal}}<span class="badge">portal access</span>{{/portal}}</div>
      <div class="muted">{{emails}} {{phones}}</div>
      <form class="inline" method="post" action="/ui/contacts/{{id}}"><input type="hidden" name="_csrf" value="{{csrf}}">
        {{#portal}}<button class="secondary" name="action" value="portal-off">Revoke portal access</button>{{/portal}}
        {{^portal}}<button class="secondary" name="action" value="portal-on">Grant portal access</button>{{/portal}}</form>
      <form class="filters" method="post" action="/ui/contacts/{{id}}"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Attach or merge <input name="value" placeholder="address, phone, or contact id"></label>
        <button class="secondary" name="action" value="email">Attach e-mail</button>
        <button class="secondary" name="action" value="phone">Attach phone</button>
        <button class="secondary" name="action" value="merge">Merge into contact id</button>
      </form>
      {{#org}}<form class="filters" method="post" action="/ui/contacts/{{id}}"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="org" value="{{org}}">
        <label>Premium tickets left: {{premiumLeft}}. Add <input name="value" type="number" min="1" value="5"></label>
        <button class="secondary" name="action" value="premium">Add premium quota</button></form>{{/org}}
    </div>
    {{/contacts}}
    {{#searched}}{{^contacts}}<p class="muted">Nobody found.</p>{{/contacts}}{{/searched}}
    """

    static let settings = """
    <h1>Settings</h1>
    {{#done}}<p class="notice" role="status">{{done}}</p>{{/done}}
    {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
    <form class="card" method="post" action="/ui/settings/visibility"><input type="hidden" name="_csrf" value="{{csrf}}">
      <h2>What clients see</h2>
      <label><input type="checkbox" name="onlyNotified" {{#onlyNotified}}checked{{/onlyNotified}}> only comments they were notified of</label>
      <label><input type="checkbox" name="organisationSharing" {{#organisationSharing}}checked{{/organisationSharing}}> colleagues of one organisation see each other's tickets</label>
      <p><button>Save</button></p>
    </form>
    <form class="card" method="post" action="/ui/settings/formula"><input type="hidden" name="_csrf" value="{{csrf}}">
      <h2>Payroll formula</h2>
      <textarea name="source" rows="8" spellcheck="false">{{source}}</textarea>
      <div class="filters"><button class="secondary" name="action" value="preview">Preview against last month</button>
        <label>Takes effect <input type="date" name="effectiveFrom"></label><label>Note <input name="note"></label>
        <button name="action" value="publish">Publish as a new version</button></div>
      {{#hasPreview}}<h3>Preview, {{previewPeriod}}</h3><table><thead><tr><th>Staff</th><th>In force</th><th>Draft</th><th>Change</th></tr></thead>
        <tbody>{{#preview}}<tr><td>{{name}}</td><td>{{before}}</td><td>{{after}}</td><td>{{change}}</td></tr>{{/preview}}</tbody></table>{{/hasPreview}}
      <p class="muted">Versions: {{#formulas}}v{{version}} from {{from}} {{note}}; {{/formulas}}</p>
    </form>
    <section class="card"><h2>Staff</h2>
      <table><thead><tr><th>Id</th><th>Name</th><th>E-mail</th><th>Role</th><th>Active</th></tr></thead>
      <tbody>{{#staff}}<tr><td>{{id}}</td><td>{{name}}</td><td>{{email}}</td><td>{{role}}</td><td>{{#active}}yes{{/active}}{{^active}}no{{/active}}</td></tr>{{/staff}}</tbody></table>
      <form class="filters" method="post" action="/ui/settings/staff"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Id <input name="id" required></label><label>Name <input name="name" required></label><label>E-mail <input name="email" type="email" required></label>
        <label>Role <select name="role"><option>staff</option><option>manager</option><option>admin</option><option>auditor</option></select></label>
        <label><input type="checkbox" name="developer"> developer</label><button>Add (admins)</button></form>
    </section>
    <section class="card" id="calendars"><h2>Business calendars</h2>
      {{#calendars}}<div><strong>{{name}}</strong> <span class="muted">{{id}}, {{timeZone}}: {{week}}{{#holidays}}; holidays {{holidays}}{{/holidays}}</span>
        <a href="{{edit}}">Edit</a></div>{{/calendars}}
      {{#calendarForm}}<form class="calendar" method="post" action="/ui/settings/calendar"><input type="hidden" name="_csrf" value="{{csrf}}">
        <div class="filters"><label>Id <input name="id" value="{{id}}" required></label><label>Name <input name="name" value="{{name}}"></label>
        <label>Time zone <input name="timeZone" value="{{timeZone}}"></label>
        <label><input type="checkbox" name="always"{{#always}} checked{{/always}}> open 24/7</label></div>
        <fieldset><legend>Working hours (e.g. <code>09:00-13:00, 14:00-18:00</code>; empty = closed)</legend>
        {{#days}}<label class="day">{{label}} <input name="{{key}}" value="{{hours}}" placeholder="closed"></label>{{/days}}</fieldset>
        <div class="filters"><label>Holidays <input name="holidays" value="{{holidays}}" placeholder="2026-01-01, 2026-01-07"></label>
        <label>Extra working days <textarea name="extra" rows="2" placeholder="2026-11-28 10:00-15:00">{{extra}}</textarea></label>
        <button>Save calendar</button></div></form>{{/calendarForm}}
      <p class="muted">Saving an existing id replaces that calendar (the log keeps every version).</p>
    </section>
    <section class="card"><h2>SLA tiers</h2>
      <table><thead><tr><th>Tier</th><th>Reaction, h</th><th>Resolution, h</th><th>Calendar</th></tr></thead>
      <tbody>{{#tiers}}<tr><td>{{name}}</td><td>{{reaction}}</td><td>{{resolution}}</td><td>{{calendar}}</td></tr>{{/tiers}}</tbody></table>
      <form class="filters" method="post" action="/ui/settings/tier"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Id <input name="id" required></label><label>Name <input name="name" required></label>
        <label>Calendar <select name="calendar">{{#calendars}}<option value="{{id}}">{{name}}</option>{{/calendars}}</select></label>
        <label>Reaction, business h <input name="reaction" type="number" step="0.25" min="0.25" required></label>
        <label>Resolution, business h <input name="resolution" type="number" step="0.25" min="0.25" required></label>
        <label><input type="checkbox" name="default"> default tier</label>
        <button>Save tier</button></form>
    </section>
    <section class="card"><h2>Escalation</h2>
      <form class="filters" method="post" action="/ui/settings/escalation"><input type="hidden" name="_csrf" value="{{csrf}}">
        <label>Unaccepted tickets go to <select name="manager"><option value="">nobody (off)</option>{{#managers}}<option value="{{id}}" {{#selected}}selected{{/selected}}>{{name}}</option>{{/managers}}</select></label>
        <label>after business hours <input name="hours" type="number" step="0.25" min="0.25" value="{{escalationHours}}"></label>
        <button>Save</button></form>
    </section>
    """
}
