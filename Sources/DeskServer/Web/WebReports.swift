import BusinessTime
import Foundation
import Hummingbird
import HTTPTypes
import Projections
import SupportDesk

/// Report and audit pages (managers, admins, auditors): payroll with a formula picker and a
/// side-by-side comparison of two formulas, CSV download; SLA and load with server-made SVG charts;
/// a ticket's history, the ticket as it was at a moment, and who could see each comment when.
extension DeskService {
    func addReportPages(to router: Router<DeskContext>, renderer: WebRenderer) {
        @Sendable func requireReader(_ req: Request) async throws -> WebSession {
            guard let s = await webSession(req) else { throw WebRedirect(location: "/ui/signin") }
            guard let role = s.principal.role else { throw WebRedirect(location: "/ui/portal") }
            guard role != .staff else { throw WebRedirect(location: "/ui/chronicle") }
            return s
        }
        @Sendable func page(_ template: String, _ title: String, _ s: WebSession, _ values: [String: Any],
                            status: HTTPResponse.Status = .ok) -> Response { renderer.response(template, title, s, values, status: status) }
        @Sendable func money(_ v: Double) -> String { String(format: "%.2f", v) }
        @Sendable func hours(_ v: Double?) -> String { v.map { String(format: "%.1f h", $0) } ?? "—" }
        @Sendable func percent(_ v: Double?) -> String { v.map { String(format: "%.0f %%", $0 * 100) } ?? "—" }
        @Sendable func choice(_ s: String?) -> FormulaChoice? {
            guard let s, !s.isEmpty else { return nil }
            if s == "in-force" { return .inForce }
            return Int(s).map { .version($0) }
        }

        router.get("/ui/reports") { req, _ in
            let s = try await requireReader(req)
            let q = req.uri.queryParameters
            let today = localDate(self.clock.now(), timeZone: self.view.account.timeZone)
            let monthStart = LocalDate(year: today.year, month: today.month, day: 1)
            let from = q.get("from").flatMap(LocalDate.init) ?? monthStart
            let to = q.get("to").flatMap(LocalDate.init) ?? today
            var values: [String: Any] = ["from": from.description, "to": to.description]
            let formulas = self.view.account.formulas.sorted { $0.version < $1.version }
            let picked = q.get("formula") ?? "in-force"
            let compare = q.get("compare") ?? ""
            func options(_ selected: String, none: Bool) -> [[String: Any]] {
                var o: [[String: Any]] = none ? [["value": "", "label": "—", "selected": selected.isEmpty]] : []
                o.append(["value": "in-force", "label": "in force at closing", "selected": selected == "in-force"])
                for f in formulas {
                    o.append(["value": String(f.version), "label": "v\(f.version) from \(f.effectiveFrom)\(f.note.map { " — \($0)" } ?? "")",
                              "selected": selected == String(f.version)])
                }
                return o
            }
            values["formulaOptions"] = options(picked, none: false)
            values["compareOptions"] = options(compare, none: true)
            guard from <= to else {
                values["error"] = "The period must start before it ends."
                return page("reports", "Reports", s, values, status: .badRequest)
            }
            do {
                if let a = choice(picked), let b = choice(compare) {
                    let c = try self.view.comparePayroll(from: from, to: to, a, b)
                    values["comparison"] = c.lines.map { ["name": $0.name, "before": money($0.before), "after": money($0.after),
                                                          "change": ($0.change >= 0 ? "+" : "") + money($0.change)] as [String: Any] }
                    values["comparisonTotal"] = ["before": money(c.before.total), "after": money(c.after.total),
                                                 "change": money(c.after.total - c.before.total)]
                    values["hasComparison"] = true
                    values["beforeName"] = c.before.formula
                    values["afterName"] = c.after.formula
                }
                let payroll = try self.view.payroll(from: from, to: to, formula: choice(picked) ?? .inForce)
                values["payroll"] = payroll.lines.map { l in
                    ["name": l.name, "evaluations": l.evaluations, "evaluationAmount": money(l.evaluationAmount), "minutes": l.minutes,
                     "hourlyAmount": money(l.hourlyAmount), "total": money(l.total)] as [String: Any]
                }
                values["payrollTotal"] = money(payroll.total)
                values["formulaName"] = payroll.formula
            } catch {
                values["error"] = "\(error)"
            }
            let csvQuery = "from=\(from)&to=\(to)&format=csv" + (picked == "in-force" ? "" : "&formulaVersion=\(picked)")
            values["csv"] = "/reports/payroll?" + csvQuery

            let period = self.view.periodFigures(from: from, to: to)
            let sla = period.sla
            values["slaTiers"] = sla.byTier.map { g in
                ["group": g.group, "tickets": g.tickets, "reacted": g.reacted, "reactionBreaches": g.reactionBreaches,
                 "resolved": g.resolved, "resolutionBreaches": g.resolutionBreaches, "meanReaction": hours(g.meanReactionHours),
                 "meanResolution": hours(g.meanResolutionHours), "within": percent(g.reactionWithinTarget)] as [String: Any]
            }
            values["slaChart"] = Charts.shares(sla.byTier.filter { $0.reactionWithinTarget != nil }.map { (label: $0.group, share: $0.reactionWithinTarget ?? 0,
                                                                  detail: "\($0.tickets) tickets, \($0.reactionBreaches) late first reactions") },
                                               title: "Share of first reactions within the SLA, per tier")
            let load = period.load
            values["opened"] = load.opened
            values["hourChart"] = Charts.bars(load.byHour.enumerated().map { ChartBar(label: String(format: "%02d", $0.offset), value: Double($0.element)) },
                                              title: "Tickets opened per hour of day", unit: "tickets")
            let weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            values["weekdayChart"] = Charts.bars(load.byWeekday.enumerated().map { ChartBar(label: weekdays[$0.offset % 7], value: Double($0.element)) },
                                                 title: "Tickets opened per weekday", unit: "tickets")
            let days = load.byDay.sorted { $0.key < $1.key }
            values["dayChart"] = Charts.bars(days.map { ChartBar(label: String($0.key.suffix(5)), value: Double($0.value)) },
                                             title: "Tickets opened per day", unit: "tickets")
            values["reactionChart"] = Charts.histogram(period.reactionHours, buckets: [0.5, 1, 2, 4, 8, 24],
                                                       title: "First reaction", unit: "tickets", valueUnit: "business hours")
            return page("reports", "Reports", s, values)
        }

        router.get("/ui/audit/{n}") { req, ctx in
            let s = try await requireReader(req)
            let n = try ctx.parameters.require("n", as: Int.self)
            let history = try Audit.history(self.store, ticket: n)
            guard !history.isEmpty else {
                return page("message", "Not found", s, ["heading": "No ticket #\(n)", "kind": "error", "text": "There is no such ticket."],
                            status: .notFound)
            }
            var values: [String: Any] = ["number": n]
            values["history"] = history.map { h in
                ["sequence": h.sequence, "at": Web.time(h.at), "type": h.type, "actor": h.actor ?? "", "cause": h.cause,
                 "payload": String(h.payload.prefix(400))] as [String: Any]
            }
            let asOfText = req.uri.queryParameters.get("asOf") ?? ""
            values["asOf"] = asOfText
            if !asOfText.isEmpty {
                let f = ISO8601DateFormatter()
                if let at = f.date(from: asOfText) ?? f.date(from: asOfText + ":00Z") ?? f.date(from: asOfText + "Z") {
                    if let r = try Audit.replay(self.store, ticket: n, asOf: at, scope: self.view.auditScope(n)) {
                        values["replay"] = [
                            "status": r.ticket.status.rawValue, "subject": r.ticket.subject,
                            "responsible": r.ticket.responsible.map { self.displayName(.staff($0)) } ?? "nobody",
                            "comments": r.ticket.comments.map { c in
                                ["number": c.number, "author": self.displayName(c.author), "internal": c.isInternal, "text": c.text,
                                 "visibleTo": (r.visibleTo[c.number] ?? []).map { self.displayName(.contact($0)) }.joined(separator: ", ")] as [String: Any]
                            },
                        ] as [String: Any]
                    } else {
                        values["replayNote"] = "#\(n) did not exist yet at \(asOfText)."
                    }
                } else {
                    values["replayNote"] = "Give the moment as 2025-03-03T14:05:00Z."
                }
            }
            values["visibility"] = try Audit.visibility(self.store, ticket: n, scope: self.view.auditScope(n)).map { v in
                ["comment": v.comment, "internal": v.isInternal, "author": v.author,
                 "contacts": v.contacts.map { i in
                     "\(self.displayName(.contact(i.contact))) by \(i.via) from \(Web.time(i.from))" + (i.until.map { " until \(Web.time($0))" } ?? "")
                 }.joined(separator: "; ")] as [String: Any]
            }
            return page("audit", "Audit #\(n)", s, values)
        }
    }
}

extension WebTemplates {
    static let reports = """
    <h1>Reports</h1>
    {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
    <form class="filters card" method="get" action="/ui/reports">
      <label>From <input type="date" name="from" value="{{from}}"></label>
      <label>To <input type="date" name="to" value="{{to}}"></label>
      <label>Formula <select name="formula">{{#formulaOptions}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/formulaOptions}}</select></label>
      <label>Compare with <select name="compare">{{#compareOptions}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/compareOptions}}</select></label>
      <button>Show</button>
    </form>
    <section class="card">
      <h2>Payroll <span class="muted">({{formulaName}})</span></h2>
      <div style="overflow-x:auto"><table>
        <thead><tr><th>Staff</th><th>Answers</th><th>Amount</th><th>Minutes</th><th>Hourly</th><th>Total</th></tr></thead>
        <tbody>{{#payroll}}<tr><td>{{name}}</td><td>{{evaluations}}</td><td>{{evaluationAmount}}</td><td>{{minutes}}</td><td>{{hourlyAmount}}</td><td><strong>{{total}}</strong></td></tr>{{/payroll}}</tbody>
        <tfoot><tr><td colspan="5">Total</td><td><strong>{{payrollTotal}}</strong></td></tr></tfoot>
      </table></div>
      <p><a href="{{csv}}">Download CSV</a></p>
    </section>
    {{#hasComparison}}
    <section class="card">
      <h2>Comparison: {{beforeName}} → {{afterName}}</h2>
      <div style="overflow-x:auto"><table>
        <thead><tr><th>Staff</th><th>Before</th><th>After</th><th>Change</th></tr></thead>
        <tbody>{{#comparison}}<tr><td>{{name}}</td><td>{{before}}</td><td>{{after}}</td><td>{{change}}</td></tr>{{/comparison}}</tbody>
        {{#comparisonTotal}}<tfoot><tr><td>Total</td><td>{{before}}</td><td>{{after}}</td><td>{{change}}</td></tr></tfoot>{{/comparisonTotal}}
      </table></div>
    </section>
    {{/hasComparison}}
    <section class="card">
      <h2>SLA</h2>
      <div style="overflow-x:auto"><table>
        <thead><tr><th>Tier</th><th>Tickets</th><th>Reacted</th><th>Late reactions</th><th>Resolved</th><th>Late resolutions</th><th>Mean reaction</th><th>Mean resolution</th><th>Within target</th></tr></thead>
        <tbody>{{#slaTiers}}<tr><td>{{group}}</td><td>{{tickets}}</td><td>{{reacted}}</td><td>{{reactionBreaches}}</td><td>{{resolved}}</td><td>{{resolutionBreaches}}</td><td>{{meanReaction}}</td><td>{{meanResolution}}</td><td>{{within}}</td></tr>{{/slaTiers}}</tbody>
      </table></div>
      <figure>{{{slaChart}}}</figure>
      <figure>{{{reactionChart}}}</figure>
    </section>
    <section class="card">
      <h2>Load <span class="muted">(opened in the period: {{opened}})</span></h2>
      <figure>{{{hourChart}}}</figure>
      <figure>{{{weekdayChart}}}</figure>
      <figure>{{{dayChart}}}</figure>
    </section>
    """

    static let audit = """
    <h1>Audit of #{{number}}</h1>
    <p><a href="/ui/tickets/{{number}}">The ticket page</a></p>
    <form class="filters card" method="get" action="/ui/audit/{{number}}">
      <label>The ticket as it was at <input name="asOf" value="{{asOf}}" placeholder="2025-03-03T14:05:00Z"></label>
      <button>Show</button>
    </form>
    {{#replayNote}}<p class="notice">{{replayNote}}</p>{{/replayNote}}
    {{#replay}}
    <section class="card">
      <h2>At {{asOf}}: {{status}}, responsible {{responsible}}</h2>
      {{#comments}}<div class="card comment {{#internal}}internal{{/internal}}"><strong>{{author}}</strong> <span class="muted">visible to: {{visibleTo}}</span><pre>{{text}}</pre></div>{{/comments}}
    </section>
    {{/replay}}
    <section class="card">
      <h2>Who could see each comment</h2>
      {{#visibility}}<div><strong>Comment {{comment}}</strong> by {{author}} {{#internal}}<span class="badge">internal</span>{{/internal}} — <span class="muted">{{contacts}}</span></div>{{/visibility}}
    </section>
    <section class="card">
      <h2>History</h2>
      <div style="overflow-x:auto"><table>
        <thead><tr><th>#</th><th>When</th><th>What</th><th>Who</th><th>Cause</th></tr></thead>
        <tbody>{{#history}}<tr><td>{{sequence}}</td><td>{{at}}</td><td>{{type}}</td><td>{{actor}}</td><td>{{cause}}</td></tr>{{/history}}</tbody>
      </table></div>
    </section>
    """
}
