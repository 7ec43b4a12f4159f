import BusinessTime
import DeskEngine
import EventLog
import Foundation
@testable import Projections
import SupportDesk
import Testing

/// The SLA and load reports against a plain reference written here from the definitions: every
/// ticket, Foundation's calendar for local days and hours, the unprepared business calendar for
/// business hours, and groups by name.
@Suite("SLA and load reports against a plain reference")
struct ReportReferenceTests {
    struct Group: Equatable {
        var tickets = 0, reacted = 0, reactionBreaches = 0, resolved = 0, resolutionBreaches = 0
        var reaction: [Double] = [], resolution: [Double] = [], within = 0, withTarget = 0
    }

    func reference(_ s: DeskState, from: LocalDate, to: LocalDate) -> (sla: [[String: Group]], opened: Int, byHour: [Int], byWeekday: [Int],
                                                                      byDay: [String: Int], byChannel: [String: Int], hours: [Double]) {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: s.account.timeZone)!
        var groups: [[String: Group]] = [[:], [:], [:]]
        var opened = 0, byHour = Array(repeating: 0, count: 24), byWeekday = Array(repeating: 0, count: 7)
        var byDay: [String: Int] = [:], byChannel: [String: Int] = [:], hours: [Double] = []
        for t in s.tickets.values.sorted(by: { $0.number < $1.number }) where !t.spam {
            let c = cal.dateComponents([.year, .month, .day, .hour, .weekday], from: t.openedAt)
            let day = LocalDate(year: c.year!, month: c.month!, day: c.day!)
            guard day >= from, day <= to else { continue }
            opened += 1
            byHour[c.hour!] += 1
            byWeekday[(c.weekday! + 5) % 7] += 1
            byDay[day.description, default: 0] += 1
            byChannel[t.channel.rawValue, default: 0] += 1
            guard t.mergedInto == nil else { continue }
            let calendar = t.tierId.flatMap { s.account.tiers[$0] }.flatMap { s.account.calendars[$0.calendarId] } ?? .twentyFourSeven()
            let names = [t.tierId.flatMap { s.account.tiers[$0]?.name } ?? "(no tier)",
                         t.organisation.flatMap { s.organisations[$0]?.name } ?? "(no organisation)",
                         t.responsible.flatMap { s.account.staff[$0]?.name } ?? "(unaccepted)"]
            if let r = t.firstResponseAt { hours.append(Double(calendar.businessSeconds(from: t.openedAt, to: r)) / 3600) }
            for (i, name) in names.enumerated() {
                var g = groups[i][name] ?? Group()
                g.tickets += 1
                if let r = t.firstResponseAt {
                    g.reacted += 1
                    g.reaction.append(Double(calendar.businessSeconds(from: t.openedAt, to: r)) / 3600)
                }
                if let due = t.reactionDue {
                    g.withTarget += 1
                    if let r = t.firstResponseAt {
                        if r <= due { g.within += 1 } else { g.reactionBreaches += 1 }
                    } else if !t.status.isOpen {
                        g.reactionBreaches += 1
                    }
                }
                if let done = t.resolvedAt ?? t.closedAt {
                    g.resolved += 1
                    g.resolution.append(Double(calendar.businessSeconds(from: t.openedAt, to: done)) / 3600)
                    if let due = t.resolutionDue, done > due { g.resolutionBreaches += 1 }
                }
                groups[i][name] = g
            }
        }
        return (groups, opened, byHour, byWeekday, byDay, byChannel, hours.sorted())
    }

    func check(_ figures: [SLAGroupFigures], _ groups: [String: Group]) {
        #expect(figures.map(\.group) == groups.keys.sorted())
        for f in figures {
            guard let g = groups[f.group] else { continue }
            #expect(f.tickets == g.tickets && f.reacted == g.reacted && f.reactionBreaches == g.reactionBreaches, "\(f.group)")
            #expect(f.resolved == g.resolved && f.resolutionBreaches == g.resolutionBreaches, "\(f.group)")
            func mean(_ a: [Double]) -> Double? { a.isEmpty ? nil : a.reduce(0, +) / Double(a.count) }
            for (x, y) in [(f.meanReactionHours, mean(g.reaction)), (f.meanResolutionHours, mean(g.resolution))] {
                #expect((x == nil) == (y == nil), "\(f.group)")
                if let x, let y { #expect(abs(x - y) <= 0.005 + 1e-9, "\(f.group): \(x) vs \(y)") }
            }
            #expect(f.reactionWithinTarget == (g.withTarget == 0 ? nil : Double(g.within) / Double(g.withTarget)), "\(f.group)")
        }
    }

    @Test("per tier, organisation and staff name (two people of one name make one group); load per hour, weekday, day and channel")
    func againstReference() async throws {
        let store = MemoryEventStore()
        let processor = try await generated(store, tickets: 300, seed: 8)
        // A second staff member with the name of an existing one takes some tickets.
        let before = await processor.snapshot()
        let twin = try #require(before.account.staff.values.filter { $0.role == .staff }.min { $0.id < $1.id })
        _ = try await processor.execute(Command(actor: .staff("admin"), .addStaff(id: "twin", name: twin.name, email: "twin@desk.example", role: .staff, isDeveloper: false)))
        let unaccepted = before.tickets.values.filter { $0.responsible == nil && $0.status.isOpen && !$0.spam && $0.mergedInto == nil }.map(\.number).sorted()
        for n in unaccepted.prefix(5) { _ = try await processor.execute(Command(actor: .staff("twin"), .acceptTicket(ticket: n))) }
        let view = DeskView()
        try await ProjectionRunner(store: store, projections: [view]).prepare()
        let state = view.read { $0.fullState }
        let days = state.tickets.values.map { localDate($0.openedAt, timeZone: state.account.timeZone) }.sorted()
        let periods = [(days.first!, days.last!), (days[days.count / 3], days[2 * days.count / 3]), (days[days.count / 2], days[days.count / 2])]
        for (from, to) in periods {
            let r = reference(state, from: from, to: to)
            let p = view.periodFigures(from: from, to: to)
            check(p.sla.byTier, r.sla[0])
            check(p.sla.byOrganisation, r.sla[1])
            check(p.sla.byStaff, r.sla[2])
            #expect(p.load.opened == r.opened && p.load.byHour == r.byHour && p.load.byWeekday == r.byWeekday)
            #expect(p.load.byDay == r.byDay && p.load.byChannel == r.byChannel)
            #expect(p.reactionHours.count == r.hours.count)
            for (x, y) in zip(p.reactionHours, r.hours) { #expect(abs(x - y) < 1e-9) }
            #expect(p.sla == view.sla(from: from, to: to) && p.load == view.load(from: from, to: to))
        }
        let all = view.periodFigures(from: periods[0].0, to: periods[0].1)
        #expect(all.sla.byStaff.contains { $0.group == twin.name && $0.tickets > 0 })
        #expect(all.load.opened > 200 && all.sla.byTier.count > 1 && !all.reactionHours.isEmpty)
    }
}
