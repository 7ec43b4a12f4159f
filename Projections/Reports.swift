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

/// The SLA and load reports and the reaction-time distribution of one period (`periodFigures`).
public struct PeriodFigures: Sendable, Hashable {
    public var sla: SLAReport
    public var load: LoadReport
    /// First reactions in business hours, ascending.
    public var reactionHours: [Double]
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
        /// The formula for a day and a key for it (its version; 0 for a fixed one).
        var inForce: [LocalDate: Int?] = [:]
        func formula(on day: LocalDate) throws -> (key: Int, formula: PayrollFormula)? {
            if let fixed { return (0, fixed) }
            let version: Int?
            if let known = inForce[day] { version = known } else {
                version = state.account.formula(on: day)?.version
                inForce[day] = .some(version)
            }
            guard let version else { return nil }
            return (version, try formula(version: version))
        }
        var lines: [StaffId: PayrollLine] = [:]
        func line(_ s: StaffId) -> PayrollLine {
            lines[s] ?? PayrollLine(staff: s, name: state.account.staff[s]?.name ?? s, evaluations: 0, evaluationAmount: 0,
                                   minutes: 0, hourlyAmount: 0, total: 0)
        }
        // A formula is a pure function of its inputs, and evaluations take few distinct inputs:
        // each (formula, inputs) is computed once per report.
        var amounts: [AmountKey: Double] = [:]
        let dayOf = LocalDay(timeZone: tz)
        for i in Self.window(count: evaluations.count, inOrder: evaluationsInOrder, from: from, to: to, at: { evaluations[$0].at }) {
            let e = evaluations[i]
            let day = dayOf(e.at)
            guard day >= from, day <= to, let (version, f) = try formula(on: day) else { continue }
            let t = tickets.payrollFacts(e.ticket)
            let key = AmountKey(formula: version, evaluation: e.evaluation, complexity: t?.complexity ?? 0,
                                level: t?.level.rawValue ?? 1, premium: t?.premium ?? false)
            let amount: Double
            if let known = amounts[key] {
                amount = known
            } else {
                let inputs: [String: FormulaValue] = [
                    "kind": .number(Double(e.evaluation.kind)), "volume": .string(e.evaluation.volume.rawValue),
                    "links": .number(Double(e.evaluation.links)), "screenshots": .number(Double(e.evaluation.screenshots)),
                    "help": .number(Double(e.evaluation.help)), "complexity": .number(Double(key.complexity)),
                    "level": .number(Double(key.level)), "premium": .bool(key.premium),
                ]
                do { amount = try f.amount(inputs) } catch { throw ReportError("ticket #\(e.ticket): \(error)") }
                amounts[key] = amount
            }
            var l = line(e.staff)
            l.evaluations += 1
            l.evaluationAmount += amount
            lines[e.staff] = l
        }
        var rates: [RateKey: Double] = [:]
        for e in timeEntries where e.on >= from && e.on <= to {
            guard state.account.staff[e.staff]?.isDeveloper == true, let (version, f) = try formula(on: e.on) else { continue }
            let key = RateKey(formula: version, staff: e.staff)
            let rate: Double
            if let known = rates[key] {
                rate = known
            } else {
                do { rate = try f.hourlyRate(staffId: e.staff) } catch { throw ReportError("hourly rate of \(e.staff): \(error)") }
                rates[key] = rate
            }
            var l = line(e.staff)
            l.minutes += e.minutes
            l.hourlyAmount += rate * Double(e.minutes) / 60
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

    /// What a payroll amount depends on: the formula and the formula's inputs.
    struct AmountKey: Hashable {
        var formula: Int
        var evaluation: AnswerEvaluation
        var complexity: Int
        var level: Int
        var premium: Bool
    }

    struct RateKey: Hashable {
        var formula: Int
        var staff: StaffId
    }

    // MARK: SLA

    public func sla(from: LocalDate, to: LocalDate) -> SLAReport { periodFigures(from: from, to: to).sla }

    /// First reaction of every ticket opened in the period that had one, in business hours of its
    /// tier's calendar (the reaction-time distribution), ascending.
    public func reactionHours(from: LocalDate, to: LocalDate) -> [Double] { periodFigures(from: from, to: to).reactionHours }

    public func load(from: LocalDate, to: LocalDate) -> LoadReport { periodFigures(from: from, to: to).load }

    /// The SLA and load reports and the reaction-time distribution of the tickets opened in a
    /// period, from one pass over them (the reports page shows all three): each ticket's business
    /// times are worked out once, and counted into its tier, organisation and staff groups.
    public func periodFigures(from: LocalDate, to: LocalDate) -> PeriodFigures {
        read { v in
            let account = v.state.account
            let calendars = TierCalendars(account)
            // Grouped by id (ASCII: cheap to hash), then by name, which is what the report shows.
            var tiers: [String?: SLATally] = [:], orgs: [String?: SLATally] = [:], staff: [String?: SLATally] = [:]
            var hours: [Double] = []
            var load = LoadTally()
            let local = LocalDay(timeZone: account.timeZone)
            v.forEachTicketOpened(from: from, to: to, local: local) { t, opened in
                guard !t.spam else { return }
                load.add(t, opened)
                guard t.mergedInto == nil else { return }
                let calendar = calendars.of(t)
                let reaction = t.firstResponseAt.map { Double(calendar.businessSeconds(from: t.openedAt, to: $0)) / 3600 }
                let done = t.resolvedAt ?? t.closedAt
                let resolution = done.map { Double(calendar.businessSeconds(from: t.openedAt, to: $0)) / 3600 }
                if let reaction { hours.append(reaction) }
                tiers[t.tierId.flatMap { account.tiers[$0] == nil ? nil : $0 }, default: SLATally()].add(t, reaction, resolution)
                orgs[t.organisation.flatMap { v.state.organisations[$0] == nil ? nil : $0 }, default: SLATally()].add(t, reaction, resolution)
                staff[t.responsible.flatMap { account.staff[$0] == nil ? nil : $0 }, default: SLATally()].add(t, reaction, resolution)
            }
            func named(_ groups: [String?: SLATally], _ name: (String?) -> String) -> [String: SLATally] {
                var out: [String: SLATally] = [:], shared: [String: [String?]] = [:]
                for (id, tally) in groups {
                    let n = name(id)
                    if out.updateValue(tally, forKey: n) != nil { shared[n, default: []].append(id) }
                }
                // Groups that share a name are added in id order, so that sums do not depend on hashing.
                for (n, _) in shared {
                    let ids = groups.keys.filter { name($0) == n }.sorted { ($0 ?? "") < ($1 ?? "") }
                    out[n] = ids.reduce(into: SLATally()) { $0.merge(groups[$1]!) }
                }
                return out
            }
            let tierGroups = named(tiers) { $0.flatMap { account.tiers[$0]?.name } ?? "(no tier)" }
            let orgGroups = named(orgs) { $0.flatMap { v.state.organisations[$0]?.name } ?? "(no organisation)" }
            let staffGroups = named(staff) { $0.flatMap { account.staff[$0]?.name } ?? "(unaccepted)" }
            func figures(_ groups: [String: SLATally]) -> [SLAGroupFigures] { groups.keys.sorted().map { groups[$0]!.figures($0) } }
            var report = LoadReport(from: from, to: to, opened: load.opened, byHour: load.byHour, byWeekday: load.byWeekday,
                                    byDay: Dictionary(uniqueKeysWithValues: load.byDay.map { ($0.key.description, $0.value) }),
                                    byChannel: load.byChannel, byType: load.byType, minutesByType: load.minutesByType, premium: [],
                                    ratings: load.ratings)
            report.meanRating = load.ratings == 0 ? nil : (Double(load.scores) / Double(load.ratings) * 100).rounded() / 100
            report.premium = v.state.organisations.values.filter { $0.premiumBought > 0 }.sorted { $0.id < $1.id }
                .map { PremiumFigures(organisation: $0.id, name: $0.name, bought: $0.premiumBought, used: $0.premiumUsed, left: $0.premiumLeft) }
            return PeriodFigures(sla: SLAReport(from: from, to: to, byTier: figures(tierGroups), byOrganisation: figures(orgGroups), byStaff: figures(staffGroups)),
                                 load: report, reactionHours: hours.sorted())
        }
    }

    /// One SLA group's counts and sums, ticket by ticket.
    struct SLATally {
        var tickets = 0, reacted = 0, reactionBreaches = 0, resolved = 0, resolutionBreaches = 0
        var reactionSum = 0.0, resolutionSum = 0.0, within = 0, withTarget = 0

        /// `reaction` and `resolution`: business hours to the first reaction and to resolution, if any.
        mutating func add(_ t: TicketState, _ reaction: Double?, _ resolution: Double?) {
            tickets += 1
            if let reaction {
                reacted += 1
                reactionSum += reaction
            }
            if let due = t.reactionDue {
                withTarget += 1
                if let r = t.firstResponseAt, r <= due { within += 1 } else if t.firstResponseAt != nil || !t.status.isOpen { reactionBreaches += 1 }
            }
            if let resolution, let done = t.resolvedAt ?? t.closedAt {
                resolved += 1
                resolutionSum += resolution
                if let due = t.resolutionDue, done > due { resolutionBreaches += 1 }
            }
        }

        /// Adds another group's tally (two groups of the same name).
        mutating func merge(_ o: SLATally) {
            tickets += o.tickets; reacted += o.reacted; reactionBreaches += o.reactionBreaches
            resolved += o.resolved; resolutionBreaches += o.resolutionBreaches
            reactionSum += o.reactionSum; resolutionSum += o.resolutionSum; within += o.within; withTarget += o.withTarget
        }

        func figures(_ group: String) -> SLAGroupFigures {
            func mean(_ sum: Double, _ n: Int) -> Double? { n == 0 ? nil : (sum / Double(n) * 100).rounded() / 100 }
            var f = SLAGroupFigures(group: group, tickets: tickets, reacted: reacted, reactionBreaches: reactionBreaches,
                                    resolved: resolved, resolutionBreaches: resolutionBreaches)
            f.meanReactionHours = mean(reactionSum, reacted)
            f.meanResolutionHours = mean(resolutionSum, resolved)
            f.reactionWithinTarget = withTarget == 0 ? nil : Double(within) / Double(withTarget)
            return f
        }
    }

    /// The load report's counts, ticket by ticket (spam excluded by the caller).
    struct LoadTally {
        var opened = 0, ratings = 0, scores = 0
        var byHour = Array(repeating: 0, count: 24), byWeekday = Array(repeating: 0, count: 7)
        var byDay: [LocalDate: Int] = [:], byChannel: [String: Int] = [:], byType: [String: Int] = [:], minutesByType: [String: Int] = [:]

        mutating func add(_ t: TicketState, _ opened: (date: LocalDate, hour: Int, weekday: Int)) {
            self.opened += 1
            byHour[opened.hour] += 1
            byWeekday[opened.weekday] += 1
            byDay[opened.date, default: 0] += 1
            byChannel[t.channel.rawValue, default: 0] += 1
            let type = t.classification.type?.rawValue ?? "(unclassified)"
            byType[type, default: 0] += 1
            let minutes = t.loggedMinutes.values.reduce(0, +)
            if minutes > 0 { minutesByType[type, default: 0] += minutes }
            ratings += t.ratingScores.count
            scores += t.ratingScores.reduce(0, +)
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

}

// MARK: Periods

extension DeskView {
    /// Which part of a list in time order can hold instants of the local days `from…to`: a binary
    /// search with two days' margin each side (no time zone is 48 h from UTC). The caller still checks
    /// each element's local date. The whole list when it is not in time order (the clock stepped back).
    static func window(count: Int, inOrder: Bool, from: LocalDate, to: LocalDate, at: (Int) -> Date) -> Range<Int> {
        guard inOrder, count > 0 else { return 0..<count }
        let lo = Date(timeIntervalSince1970: Double(from.dayNumber - 2) * 86_400)
        let hi = Date(timeIntervalSince1970: Double(to.dayNumber + 3) * 86_400)
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

    /// Every ticket opened on the local days `from…to` (account time zone), in opening order, with
    /// the local date, hour and weekday of its opening; looks only at that period's tickets. Each
    /// ticket is lent to `body`, not copied. Called with the state locked.
    func forEachTicketOpened(from: LocalDate, to: LocalDate, local: LocalDay? = nil,
                             _ body: (TicketState, (date: LocalDate, hour: Int, weekday: Int)) -> Void) {
        let local = local ?? LocalDay(timeZone: state.account.timeZone)
        let range = Self.window(count: openedOrder.count, inOrder: openedInOrder, from: from, to: to) {
            self.tickets[withoutThread: self.openedOrder[$0]]?.openedAt ?? .distantPast
        }
        for i in range {
            _ = tickets[withoutThread: openedOrder[i]].map { t in
                let opened = local.parts(t.openedAt)
                if opened.date >= from, opened.date <= to { body(t, opened) }
            }
        }
    }
}
