import BusinessTime
import Foundation
import PayrollFormula
import SupportDesk

// Reports over `DeskView`: payroll (R22, R23), SLA (R18, R19) and load (R25).

/// Which payroll formula to apply.
public enum FormulaChoice: Sendable, Hashable {
    /// Each evaluation under the version in force when its ticket was closed.
    case inForce
    /// Everything under one published version.
    case version(Int)
    /// Everything under a formula document that need not be published (preview).
    case source(String)
}

public struct PayrollLine: Sendable, Hashable, Codable {
    public var staff: StaffId
    public var name: String
    public var evaluations: Int
    public var evaluationAmount: Double
    public var minutes: Int
    public var hourlyAmount: Double
    public var total: Double
}

public struct PayrollReport: Sendable, Hashable, Codable {
    public var from: LocalDate
    public var to: LocalDate
    public var formula: String
    public var lines: [PayrollLine]
    public var total: Double
}

public struct PayrollComparisonLine: Sendable, Hashable, Codable {
    public var staff: StaffId
    public var name: String
    public var before: Double
    public var after: Double
    public var change: Double
}

public struct ReportError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct SLAGroupFigures: Sendable, Hashable, Codable {
    public var group: String
    public var tickets: Int
    public var reacted: Int
    public var reactionBreaches: Int
    public var resolved: Int
    public var resolutionBreaches: Int
    /// Mean first reaction in business hours of the tier's calendar.
    public var meanReactionHours: Double?
    public var meanResolutionHours: Double?
    /// Share of tickets whose first reaction was within target (0…1).
    public var reactionWithinTarget: Double?
}

public struct SLAReport: Sendable, Hashable, Codable {
    public var from: LocalDate
    public var to: LocalDate
    public var byTier: [SLAGroupFigures]
    public var byOrganisation: [SLAGroupFigures]
    public var byStaff: [SLAGroupFigures]
}

public struct LoadReport: Sendable, Hashable, Codable {
    public var from: LocalDate
    public var to: LocalDate
    public var opened: Int
    /// Tickets opened per hour of day (0…23) and per weekday (0 = Monday), account time zone.
    public var byHour: [Int]
    public var byWeekday: [Int]
    public var byDay: [String: Int]
    public var byChannel: [String: Int]
    public var byType: [String: Int]
    /// Logged minutes per ticket type (what each type costs, R25).
    public var minutesByType: [String: Int]
    public var premium: [PremiumFigures]
    public var ratings: Int
    public var meanRating: Double?
}

public struct PremiumFigures: Sendable, Hashable, Codable {
    public var organisation: OrganisationId
    public var name: String
    public var bought: Int
    public var used: Int
    public var left: Int
}

extension DeskView {
    // MARK: Payroll

    public func payroll(from: LocalDate, to: LocalDate, formula choice: FormulaChoice) throws -> PayrollReport {
        try read { v in try v.payrollLocked(from: from, to: to, choice) }
    }

    /// What changes, per person and in total, between two formulas over the same period.
    public func comparePayroll(from: LocalDate, to: LocalDate, _ a: FormulaChoice, _ b: FormulaChoice) throws
        -> (before: PayrollReport, after: PayrollReport, lines: [PayrollComparisonLine]) {
        try read { v in
            let before = try v.payrollLocked(from: from, to: to, a)
            let after = try v.payrollLocked(from: from, to: to, b)
            var names: [StaffId: String] = [:]
            for l in before.lines + after.lines { names[l.staff] = l.name }
            let lines = names.keys.sorted().map { s -> PayrollComparisonLine in
                let x = before.lines.first { $0.staff == s }?.total ?? 0
                let y = after.lines.first { $0.staff == s }?.total ?? 0
                return PayrollComparisonLine(staff: s, name: names[s] ?? s, before: x, after: y,
                                             change: PayrollFormula.roundHalfAwayFromZero(y - x, digits: 2))
            }
            return (before, after, lines)
        }
    }

    func payrollLocked(from: LocalDate, to: LocalDate, _ choice: FormulaChoice) throws -> PayrollReport {
        let tz = state.account.timeZone
        var parsed: [Int: PayrollFormula] = [:]
        func formula(version: Int) throws -> PayrollFormula {
            if let f = parsed[version] { return f }
            guard let v = state.account.formulas.first(where: { $0.version == version }) else {
                throw ReportError("no payroll formula version \(version) (published: \(state.account.formulas.map { String($0.version) }.joined(separator: ", ")))")
            }
            let f = try PayrollFormula(source: v.source)
            parsed[version] = f
            return f
        }
        let fixed: PayrollFormula?
        let label: String
        switch choice {
        case .inForce: fixed = nil; label = "in force at closing"
        case .version(let n): fixed = try formula(version: n); label = "version \(n)"
        case .source(let text):
            do { fixed = try PayrollFormula(source: text) } catch { throw ReportError("the formula does not parse: \(error)") }
            label = "formula file"
        }
        func formula(on day: LocalDate) throws -> PayrollFormula? {
            if let fixed { return fixed }
            guard let v = state.account.formula(on: day) else { return nil }
            return try formula(version: v.version)
        }
        var lines: [StaffId: PayrollLine] = [:]
        func line(_ s: StaffId) -> PayrollLine {
            lines[s] ?? PayrollLine(staff: s, name: state.account.staff[s]?.name ?? s, evaluations: 0, evaluationAmount: 0,
                                   minutes: 0, hourlyAmount: 0, total: 0)
        }
        let dayOf = LocalDay(timeZone: tz)
        for i in Self.window(count: evaluations.count, inOrder: evaluationsInOrder, from: from, to: to, at: { evaluations[$0].at }) {
            let e = evaluations[i]
            let day = dayOf(e.at)
            guard day >= from, day <= to, let f = try formula(on: day) else { continue }
            let t = state.tickets[e.ticket]
            let inputs: [String: FormulaValue] = [
                "kind": .number(Double(e.evaluation.kind)), "volume": .string(e.evaluation.volume.rawValue),
                "links": .number(Double(e.evaluation.links)), "screenshots": .number(Double(e.evaluation.screenshots)),
                "help": .number(Double(e.evaluation.help)), "complexity": .number(Double(t?.classification.complexity ?? 0)),
                "level": .number(Double(t?.level.rawValue ?? 1)), "premium": .bool(t?.premium ?? false),
            ]
            let amount: Double
            do { amount = try f.amount(inputs) } catch { throw ReportError("ticket #\(e.ticket): \(error)") }
            var l = line(e.staff)
            l.evaluations += 1
            l.evaluationAmount += amount
            lines[e.staff] = l
        }
        for e in timeEntries where e.on >= from && e.on <= to {
            guard state.account.staff[e.staff]?.isDeveloper == true, let f = try formula(on: e.on) else { continue }
            var l = line(e.staff)
            l.minutes += e.minutes
            do { l.hourlyAmount += try f.hourlyRate(staffId: e.staff) * Double(e.minutes) / 60 } catch {
                throw ReportError("hourly rate of \(e.staff): \(error)")
            }
            lines[e.staff] = l
        }
        let round = { (x: Double) in PayrollFormula.roundHalfAwayFromZero(x, digits: 2) }
        let out = lines.values.map { l -> PayrollLine in
            var l = l
            l.evaluationAmount = round(l.evaluationAmount)
            l.hourlyAmount = round(l.hourlyAmount)
            l.total = round(l.evaluationAmount + l.hourlyAmount)
            return l
        }.sorted { $0.staff < $1.staff }
        return PayrollReport(from: from, to: to, formula: label, lines: out, total: round(out.reduce(0) { $0 + $1.total }))
    }

    // MARK: SLA

    public func sla(from: LocalDate, to: LocalDate) -> SLAReport {
        read { v in
            var tiers: [String: [TicketState]] = [:], orgs: [String: [TicketState]] = [:], staff: [String: [TicketState]] = [:]
            v.forEachTicketOpened(from: from, to: to) { t in
                guard !t.spam, t.mergedInto == nil else { return }
                tiers[t.tierId.flatMap { v.state.account.tiers[$0]?.name } ?? "(no tier)", default: []].append(t)
                orgs[t.organisation.flatMap { v.state.organisations[$0]?.name } ?? "(no organisation)", default: []].append(t)
                staff[t.responsible.flatMap { v.state.account.staff[$0]?.name } ?? "(unaccepted)", default: []].append(t)
            }
            let calendars = TierCalendars(v.state.account)
            func figures(_ groups: [String: [TicketState]]) -> [SLAGroupFigures] {
                groups.keys.sorted().map { v.slaFigures($0, groups[$0]!, calendars) }
            }
            return SLAReport(from: from, to: to, byTier: figures(tiers), byOrganisation: figures(orgs), byStaff: figures(staff))
        }
    }

    /// Each tier's calendar, prepared once for a report.
    final class TierCalendars {
        let account: AccountState
        var prepared: [String: PreparedCalendar] = [:]
        lazy var always = BusinessCalendar.twentyFourSeven().prepared()
        init(_ account: AccountState) { self.account = account }

        func of(_ t: TicketState) -> PreparedCalendar {
            guard let id = t.tierId.flatMap({ account.tiers[$0] })?.calendarId, let c = account.calendars[id] else { return always }
            if let p = prepared[id] { return p }
            let p = c.prepared()
            prepared[id] = p
            return p
        }
    }

    func slaFigures(_ group: String, _ tickets: [TicketState], _ calendars: TierCalendars) -> SLAGroupFigures {
        var f = SLAGroupFigures(group: group, tickets: tickets.count, reacted: 0, reactionBreaches: 0, resolved: 0, resolutionBreaches: 0)
        var reactionHours: [Double] = [], resolutionHours: [Double] = [], within = 0, withTarget = 0
        for t in tickets {
            let calendar = calendars.of(t)
            if let r = t.firstResponseAt {
                f.reacted += 1
                reactionHours.append(Double(calendar.businessSeconds(from: t.openedAt, to: r)) / 3600)
            }
            if let due = t.reactionDue {
                withTarget += 1
                if let r = t.firstResponseAt, r <= due { within += 1 } else if t.firstResponseAt != nil || !t.status.isOpen { f.reactionBreaches += 1 }
            }
            if let done = t.resolvedAt ?? t.closedAt {
                f.resolved += 1
                resolutionHours.append(Double(calendar.businessSeconds(from: t.openedAt, to: done)) / 3600)
                if let due = t.resolutionDue, done > due { f.resolutionBreaches += 1 }
            }
        }
        func mean(_ a: [Double]) -> Double? { a.isEmpty ? nil : (a.reduce(0, +) / Double(a.count) * 100).rounded() / 100 }
        f.meanReactionHours = mean(reactionHours)
        f.meanResolutionHours = mean(resolutionHours)
        f.reactionWithinTarget = withTarget == 0 ? nil : Double(within) / Double(withTarget)
        return f
    }

    /// First reaction of every ticket opened in the period that had one, in business hours of its
    /// tier's calendar (the reaction-time distribution).
    public func reactionHours(from: LocalDate, to: LocalDate) -> [Double] {
        read { v in
            var hours: [Double] = []
            let calendars = TierCalendars(v.state.account)
            v.forEachTicketOpened(from: from, to: to) { t in
                guard !t.spam, t.mergedInto == nil, let r = t.firstResponseAt else { return }
                let calendar = calendars.of(t)
                hours.append(Double(calendar.businessSeconds(from: t.openedAt, to: r)) / 3600)
            }
            return hours.sorted()
        }
    }

    // MARK: Load

    public func load(from: LocalDate, to: LocalDate) -> LoadReport {
        read { v in
            let tz = v.state.account.timeZone
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = TimeZone(identifier: tz) ?? TimeZone(identifier: "UTC")!
            var r = LoadReport(from: from, to: to, opened: 0, byHour: Array(repeating: 0, count: 24), byWeekday: Array(repeating: 0, count: 7),
                               byDay: [:], byChannel: [:], byType: [:], minutesByType: [:], premium: [], ratings: 0)
            var scores = 0
            let dayOf = LocalDay(timeZone: tz)
            v.forEachTicketOpened(from: from, to: to) { t in
                guard !t.spam else { return }
                let day = dayOf(t.openedAt)
                r.opened += 1
                let c = cal.dateComponents([.hour, .weekday], from: t.openedAt)
                r.byHour[c.hour ?? 0] += 1
                r.byWeekday[((c.weekday ?? 2) + 5) % 7] += 1
                r.byDay[day.description, default: 0] += 1
                r.byChannel[t.channel.rawValue, default: 0] += 1
                let type = t.classification.type?.rawValue ?? "(unclassified)"
                r.byType[type, default: 0] += 1
                let minutes = t.loggedMinutes.values.reduce(0, +)
                if minutes > 0 { r.minutesByType[type, default: 0] += minutes }
                r.ratings += t.ratingScores.count
                scores += t.ratingScores.reduce(0, +)
            }
            r.meanRating = r.ratings == 0 ? nil : (Double(scores) / Double(r.ratings) * 100).rounded() / 100
            r.premium = v.state.organisations.values.filter { $0.premiumBought > 0 }.sorted { $0.id < $1.id }
                .map { PremiumFigures(organisation: $0.id, name: $0.name, bought: $0.premiumBought, used: $0.premiumUsed, left: $0.premiumLeft) }
            return r
        }
    }
}

// MARK: Periods

extension DeskView {
    /// Which part of a list in time order can hold instants of the local days `from…to`: a binary
    /// search with two days' margin each side (no time zone is 48 h from UTC). The caller still checks
    /// each element's local date. The whole list when it is not in time order (the clock stepped back).
    static func window(count: Int, inOrder: Bool, from: LocalDate, to: LocalDate, at: (Int) -> Date) -> Range<Int> {
        guard inOrder, count > 0 else { return 0..<count }
        let lo = Date(timeIntervalSince1970: Double(daysFromEpoch(from) - 2) * 86_400)
        let hi = Date(timeIntervalSince1970: Double(daysFromEpoch(to) + 3) * 86_400)
        func first(notBefore d: Date) -> Int {
            var a = 0, b = count
            while a < b {
                let m = (a + b) / 2
                if at(m) < d { a = m + 1 } else { b = m }
            }
            return a
        }
        let start = first(notBefore: lo)
        return start..<max(start, first(notBefore: hi))
    }

    /// Days from 1970-01-01 to `d` in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
    static func daysFromEpoch(_ d: LocalDate) -> Int {
        let y = d.month <= 2 ? d.year - 1 : d.year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (d.month + (d.month > 2 ? -3 : 9)) + 2) / 5 + d.day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Every ticket opened on the local days `from…to` (account time zone), in opening order; looks
    /// only at that period's tickets. Called with the state locked.
    func forEachTicketOpened(from: LocalDate, to: LocalDate, _ body: (TicketState) -> Void) {
        let dayOf = LocalDay(timeZone: state.account.timeZone)
        let range = Self.window(count: openedOrder.count, inOrder: openedInOrder, from: from, to: to) {
            self.state.tickets[self.openedOrder[$0]]?.openedAt ?? .distantPast
        }
        for i in range {
            guard let t = state.tickets[openedOrder[i]] else { continue }
            let day = dayOf(t.openedAt)
            if day >= from, day <= to { body(t) }
        }
    }
}
