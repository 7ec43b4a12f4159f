import ArgumentParser
import BusinessTime
import EventLog
import Foundation
import Projections
import SupportDesk

/// Opens the log for a report: writable when no service holds the folder (projections load their
/// rows, catch up and persist), else read-only beside the service (they catch up in memory).
func openDesk(_ data: DataOptions, quiet: Bool = false) async throws -> (LMDBEventStore, DeskView) {
    let store: LMDBEventStore
    var persist = true
    do {
        store = try LMDBEventStore(directory: data.url)
    } catch let e as EventLogError where e.code == .locked {
        store = try data.openReadOnly()
        persist = false
    }
    let view = DeskView()
    let runner = ProjectionRunner(store: store, projections: [view], persist: persist)
    let progress = quiet ? nil : Progress(label: "catching up")
    try await runner.prepare { _, done, head in progress?.update(Int(done), Int(head)) }
    progress?.finish()
    return (store, view)
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, csv, json }

func parseDate(_ s: String, _ what: String) throws -> LocalDate {
    guard let d = LocalDate(s) else { throw ValidationError("\(what) must be a date YYYY-MM-DD, got '\(s)'") }
    return d
}

func printJSON<T: Encodable>(_ value: T) throws {
    let e = EventCodec.makeEncoder()
    e.outputFormatting.insert(.sortedKeys)
    e.outputFormatting.insert(.prettyPrinted)
    print(String(decoding: try e.encode(value), as: UTF8.self))
}

func money(_ x: Double) -> String { CSV.money(x) }

struct Rebuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild projections from zero (all, or the named ones), with progress and ETA.",
        discussion: "Needs the data folder for writing: stop the service first. Projections: desk, outbox.")
    @OptionGroup var data: DataOptions
    @Argument(help: "Projection names (default: all).") var names: [String] = []

    func run() async throws {
        let store: LMDBEventStore
        do { store = try LMDBEventStore(directory: data.url) } catch { fail(describe(error)) }
        defer { store.close() }
        // The projections `helpdesk serve` runs (an outbox made as the service makes it).
        let runner = ProjectionRunner(store: store, projections: [DeskView(), Outbox()])
        let progress = Progress(label: "rebuilding")
        let t0 = Date()
        do {
            try await runner.rebuild(names: names) { _, done, head in progress.update(Int(done), Int(head)) }
        } catch { fail(describe(error)) }
        progress.finish()
        let secs = Date().timeIntervalSince(t0)
        print("rebuilt \(names.isEmpty ? "all projections" : names.joined(separator: ", ")) from \(store.committedHead) events in "
              + String(format: "%.2f s (%.0f events/s)", secs, Double(store.committedHead) / max(secs, 1e-9)))
    }
}

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Payroll, SLA and load reports.",
                                                    subcommands: [PayrollReportCommand.self, SLAReportCommand.self, LoadReportCommand.self])
}

struct PeriodOptions: ParsableArguments {
    @Option(help: "First day (YYYY-MM-DD), account time zone.") var from: String
    @Option(help: "Last day (YYYY-MM-DD), inclusive.") var to: String
    @Option(help: "table, csv or json.") var format: OutputFormat = .table

    func period() throws -> (LocalDate, LocalDate) {
        let a = try parseDate(from, "--from"), b = try parseDate(to, "--to")
        guard a <= b else { throw ValidationError("--from is after --to") }
        return (a, b)
    }
}

struct PayrollReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payroll",
        abstract: "Per staff member: evaluated answers under a payroll formula, developers' hours, totals.",
        discussion: """
        By default each evaluation is paid under the formula version in force when its ticket was closed. \
        --formula-version N or --formula FILE applies one formula to the whole period (FILE need not be \
        published: a preview). --compare-with N|FILE shows what changes per person and in total.
        """)
    @OptionGroup var data: DataOptions
    @OptionGroup var period: PeriodOptions
    @Option(help: "Apply this published formula version.") var formulaVersion: Int?
    @Option(help: "Apply the formula in this file.") var formula: String?
    @Option(help: "Compare with a version number or a formula file.") var compareWith: String?

    func choice(version: Int?, file: String?) throws -> FormulaChoice {
        if let version { return .version(version) }
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read formula file \(file)") }
            return .source(text)
        }
        return .inForce
    }

    func run() async throws {
        guard formulaVersion == nil || formula == nil else { throw ValidationError("give --formula-version or --formula, not both") }
        let (from, to) = try period.period()
        let base = try choice(version: formulaVersion, file: formula)
        let (store, view) = try await openDesk(data, quiet: period.format != .table)
        defer { store.close() }
        do {
            if let other = compareWith {
                let second = try Int(other).map { FormulaChoice.version($0) } ?? choice(version: nil, file: other)
                let (before, after, lines) = try view.comparePayroll(from: from, to: to, base, second)
                switch period.format {
                case .json:
                    struct Out: Encodable { var before: PayrollReport; var after: PayrollReport; var changes: [PayrollComparisonLine] }
                    try printJSON(Out(before: before, after: after, changes: lines))
                case .csv:
                    print(CSV.payrollComparison(lines), terminator: "")
                case .table:
                    print("Payroll \(from) … \(to): \(before.formula) → \(after.formula)")
                    print(pad("staff", 12) + pad("name", 24) + lpad("before", 12) + lpad("after", 12) + lpad("change", 12))
                    for l in lines { print(pad(l.staff, 12) + pad(l.name, 24) + lpad(money(l.before), 12) + lpad(money(l.after), 12) + lpad(money(l.change), 12)) }
                    print(pad("total", 36) + lpad(money(before.total), 12) + lpad(money(after.total), 12) + lpad(money(after.total - before.total), 12))
                }
            } else {
                let r = try view.payroll(from: from, to: to, formula: base)
                switch period.format {
                case .json: try printJSON(r)
                case .csv:
                    print(CSV.payroll(r), terminator: "")
                case .table:
                    print("Payroll \(from) … \(to), formula: \(r.formula)")
                    print(pad("staff", 12) + pad("name", 24) + lpad("answers", 9) + lpad("amount", 12) + lpad("minutes", 9) + lpad("hourly", 12) + lpad("total", 12))
                    for l in r.lines {
                        print(pad(l.staff, 12) + pad(l.name, 24) + lpad(String(l.evaluations), 9) + lpad(money(l.evaluationAmount), 12)
                              + lpad(String(l.minutes), 9) + lpad(money(l.hourlyAmount), 12) + lpad(money(l.total), 12))
                    }
                    print(pad("total", 78) + lpad(money(r.total), 12))
                }
            }
        } catch let e as ReportError {
            fail(e.message)
        }
    }
}

struct SLAReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sla",
                                                    abstract: "First reaction and resolution in business time, breaches, share within target.")
    @OptionGroup var data: DataOptions
    @OptionGroup var period: PeriodOptions

    func run() async throws {
        let (from, to) = try period.period()
        let (store, view) = try await openDesk(data, quiet: period.format != .table)
        defer { store.close() }
        let r = view.sla(from: from, to: to)
        switch period.format {
        case .json: try printJSON(r)
        case .csv:
            print(CSV.sla(r), terminator: "")
        case .table:
            for (title, rows) in [("tier", r.byTier), ("organisation", r.byOrganisation), ("staff", r.byStaff)] {
                print("\nby \(title)")
                print(pad("group", 28) + lpad("tickets", 8) + lpad("reacted", 8) + lpad("late", 6) + lpad("mean h", 8)
                      + lpad("within", 8) + lpad("resolved", 9) + lpad("late", 6) + lpad("mean h", 8))
                for f in rows {
                    let meanReaction: String = f.meanReactionHours.map { String(format: "%.2f", $0) } ?? "-"
                    let within: String = f.reactionWithinTarget.map { String(format: "%.0f%%", $0 * 100) } ?? "-"
                    let meanResolution: String = f.meanResolutionHours.map { String(format: "%.2f", $0) } ?? "-"
                    var fields: [String] = [String(f.tickets), String(f.reacted), String(f.reactionBreaches), meanReaction]
                    fields += [within, String(f.resolved), String(f.resolutionBreaches), meanResolution]
                    print(pad(f.group, 28) + zip(fields, [8, 8, 6, 8, 8, 9, 6, 8]).map { lpad($0, $1) }.joined())
                }
            }
        }
    }
}

struct LoadReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load",
                                                    abstract: "Load per hour and day, channels, types, time per type, premium quota, ratings.")
    @OptionGroup var data: DataOptions
    @OptionGroup var period: PeriodOptions

    func run() async throws {
        let (from, to) = try period.period()
        let (store, view) = try await openDesk(data, quiet: period.format != .table)
        defer { store.close() }
        let r = view.load(from: from, to: to)
        switch period.format {
        case .json: try printJSON(r)
        case .csv:
            print(CSV.load(r), terminator: "")
        case .table:
            print("Load \(from) … \(to): \(r.opened) tickets opened")
            let peak = max(1, r.byHour.max() ?? 1)
            for (h, n) in r.byHour.enumerated() where n > 0 {
                print(String(format: "  %02d:00 %6d ", h, n) + String(repeating: "█", count: n * 40 / peak))
            }
            let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            print("  by weekday: " + zip(days, r.byWeekday).map { "\($0) \($1)" }.joined(separator: ", "))
            print("  by channel: " + r.byChannel.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            print("  by type: " + r.byType.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            print("  logged minutes by type: " + r.minutesByType.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            print("  premium (bought/used/left): " + r.premium.map { "\($0.name) \($0.bought)/\($0.used)/\($0.left)" }.joined(separator: ", "))
            print("  ratings: \(r.ratings), mean \(r.meanRating.map { String(format: "%.2f", $0) } ?? "-")")
        }
    }
}

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A ticket's state and thread exactly as it was at a moment (read-only).")
    @OptionGroup var data: DataOptions
    @Option(help: "Ticket number.") var ticket: Int
    @Option(help: "ISO 8601 moment, e.g. 2026-03-03T14:05:00+03:00.") var asOf: String
    @Flag(help: "Print as JSON.") var json = false

    func run() async throws {
        guard let moment = parseISO(asOf) else { throw ValidationError("--as-of must be ISO 8601, got '\(asOf)'") }
        let store = try data.openReadOnly()
        defer { store.close() }
        guard let r = try Audit.replay(store, ticket: ticket, asOf: moment) else { fail("ticket #\(ticket) did not exist at \(asOf)") }
        if json { try printJSON(r); return }
        let t = r.ticket
        print("#\(t.number) as of \(asOf): \(t.subject)")
        print("  status \(t.status.rawValue), responsible \(t.responsible ?? "-"), level L\(t.level.rawValue), premium \(t.premium)")
        print("  participants \(t.participants.sorted().joined(separator: ", ")); co-executors \(t.coExecutors.sorted().joined(separator: ", "))")
        print("  visibility: only notified \(r.visibility.onlyNotified), organisation sharing \(r.visibility.organisationSharing)")
        for c in t.comments {
            print("  [\(c.number)] \(c.at) \(c.author) \(c.isInternal ? "INTERNAL" : "to client") → \(c.notify.map(\.description).joined(separator: ", "))")
            print("      " + c.text.replacingOccurrences(of: "\n", with: "\n      "))
            print("      clients who could see it then: \((r.visibleTo[c.number] ?? []).joined(separator: ", ").nonEmpty ?? "none")")
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Audit a ticket's history and visibility (read-only).",
                                                    subcommands: [AuditHistory.self, AuditVisibility.self])
}

struct AuditHistory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Every event of a ticket with actor and cause.")
    @OptionGroup var data: DataOptions
    @Option(help: "Ticket number.") var ticket: Int
    @Flag(help: "Print as JSON.") var json = false

    func run() async throws {
        let store = try data.openReadOnly()
        defer { store.close() }
        let lines = try Audit.history(store, ticket: ticket)
        guard !lines.isEmpty else { fail("no ticket #\(ticket)") }
        if json { try printJSON(lines); return }
        for l in lines {
            print(pad(String(l.sequence), 9) + pad(EventJSON.time(Timestamp.micros(from: l.at)), 28) + pad(l.type, 20)
                  + pad(l.actor ?? "-", 18) + pad(l.cause, 24) + String(l.payload.prefix(100)))
        }
    }
}

struct AuditVisibility: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "visibility",
                                                    abstract: "For every comment of a ticket, who could see it and from when to when.")
    @OptionGroup var data: DataOptions
    @Option(help: "Ticket number.") var ticket: Int
    @Option(help: "Only this contact.") var contact: String?
    @Flag(help: "Print as JSON.") var json = false

    func run() async throws {
        let store = try data.openReadOnly()
        defer { store.close() }
        let rows = try Audit.visibility(store, ticket: ticket, contact: contact)
        guard !rows.isEmpty else { fail("no ticket #\(ticket)") }
        if json { try printJSON(rows); return }
        for r in rows {
            print("comment \(r.comment) by \(r.author) (\(r.isInternal ? "internal" : "to the client")): \(r.staff)")
            if r.contacts.isEmpty { print("  no client could see it") }
            for i in r.contacts {
                print("  \(i.contact) via \(i.via) from \(i.from)" + (i.until.map { " until \($0)" } ?? " on"))
            }
        }
    }
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? String(s.prefix(n - 1)) + " " : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }

func parseISO(_ s: String) -> Date? {
    let f = ISO8601DateFormatter()
    if let d = f.date(from: s) { return d }
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.date(from: s)
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
