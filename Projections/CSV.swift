import Foundation

/// CSV renderings of the reports, shared by `helpdesk report … --format csv` and the HTTP API
/// (`Accept: text/csv`). RFC 4180 quoting; amounts with two decimals.
public enum CSV {
    public static func field(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    public static func money(_ x: Double) -> String { String(format: "%.2f", x) }

    static func lines(_ header: String, _ rows: [[String]]) -> String {
        ([header] + rows.map { $0.joined(separator: ",") }).joined(separator: "\n") + "\n"
    }

    public static func payroll(_ r: PayrollReport) -> String {
        lines("staff,name,evaluations,evaluation_amount,minutes,hourly_amount,total", r.lines.map {
            [$0.staff, field($0.name), String($0.evaluations), money($0.evaluationAmount), String($0.minutes), money($0.hourlyAmount), money($0.total)]
        })
    }

    public static func payrollComparison(_ lines: [PayrollComparisonLine]) -> String {
        Self.lines("staff,name,before,after,change", lines.map { [$0.staff, field($0.name), money($0.before), money($0.after), money($0.change)] })
    }

    public static func sla(_ r: SLAReport) -> String {
        var rows: [[String]] = []
        for (grouping, list) in [("tier", r.byTier), ("organisation", r.byOrganisation), ("staff", r.byStaff)] {
            for f in list {
                rows.append([grouping, field(f.group), String(f.tickets), String(f.reacted), String(f.reactionBreaches),
                             f.meanReactionHours.map { String(format: "%.2f", $0) } ?? "",
                             f.reactionWithinTarget.map { String(format: "%.3f", $0) } ?? "", String(f.resolved),
                             String(f.resolutionBreaches), f.meanResolutionHours.map { String(format: "%.2f", $0) } ?? ""])
            }
        }
        return lines("grouping,group,tickets,reacted,reaction_breaches,mean_reaction_h,within_target,resolved,resolution_breaches,mean_resolution_h", rows)
    }

    public static func load(_ r: LoadReport) -> String {
        var rows: [[String]] = []
        for (h, n) in r.byHour.enumerated() { rows.append(["opened_by_hour", String(h), String(n)]) }
        for (d, n) in r.byWeekday.enumerated() { rows.append(["opened_by_weekday", String(d), String(n)]) }
        for (k, n) in r.byDay.sorted(by: { $0.key < $1.key }) { rows.append(["opened_by_day", k, String(n)]) }
        for (k, n) in r.byChannel.sorted(by: { $0.key < $1.key }) { rows.append(["by_channel", k, String(n)]) }
        for (k, n) in r.byType.sorted(by: { $0.key < $1.key }) { rows.append(["by_type", k, String(n)]) }
        for (k, n) in r.minutesByType.sorted(by: { $0.key < $1.key }) { rows.append(["minutes_by_type", k, String(n)]) }
        for p in r.premium { rows.append(["premium_left", field(p.name), String(p.left)]) }
        rows.append(["mean_rating", "", r.meanRating.map { String($0) } ?? ""])
        return lines("measure,key,value", rows)
    }
}
