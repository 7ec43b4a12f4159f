import BusinessTime
import Foundation

/// The settings page's business-calendar form: one field of working hours per weekday (any
/// intervals, see `HoursText`), 24/7, holidays and extra working days. Pre-filled from an existing
/// calendar to edit it, or with Monday–Friday 09:00–18:00 for a new one.
enum CalendarForm {
    static let days = [("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"),
                       ("fri", "Friday"), ("sat", "Saturday"), ("sun", "Sunday")]

    /// The form's values for `calendar` (nil: a new calendar in `timeZone`).
    static func values(_ calendar: BusinessCalendar?, timeZone: String) -> [String: Any] {
        let c = calendar ?? .weekdays(id: "", name: "", timeZone: timeZone, from: 540, to: 1080)
        return [
            "id": c.id, "name": c.name, "timeZone": c.timeZone, "always": c.alwaysOpen,
            "days": days.enumerated().map { i, d in
                ["key": d.0, "label": d.1, "hours": c.alwaysOpen || i >= c.week.count ? "" : HoursText.format(c.week[i])] as [String: Any]
            },
            "holidays": c.holidays.sorted().map(\.description).joined(separator: ", "),
            "extra": HoursText.formatDays(c.extraWorkingDays),
        ]
    }

    /// A one-line summary: `Mon–Fri 09:00-18:00, Sat 10:00-14:00` or `24/7`.
    static func weekSummary(_ c: BusinessCalendar) -> String {
        if c.alwaysOpen { return "24/7" }
        let short = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        var parts: [String] = []
        var i = 0
        while i < min(7, c.week.count) {
            var j = i
            while j + 1 < min(7, c.week.count), c.week[j + 1] == c.week[i] { j += 1 }
            if !c.week[i].isEmpty {
                parts.append((i == j ? short[i] : "\(short[i])–\(short[j])") + " " + HoursText.format(c.week[i]))
            }
            i = j + 1
        }
        return parts.isEmpty ? "no working hours" : parts.joined(separator: ", ")
    }

    /// The calendar the submitted form describes, or what is wrong with it in plain words. The
    /// domain validates it again when the command runs (time zone, no working time at all, …).
    struct Invalid: Error { let message: String }

    static func parse(_ f: [String: String]) throws(Invalid) -> BusinessCalendar {
        let id = (f["id"] ?? "").trimmingCharacters(in: .whitespaces)
        guard !id.isEmpty else { throw Invalid(message: "Give the calendar an id.") }
        let name = (f["name"] ?? "").trimmingCharacters(in: .whitespaces)
        var calendar: BusinessCalendar
        if f["always"] == "on" {
            calendar = .twentyFourSeven(id: id)
            calendar.name = name.isEmpty ? id : name
        } else {
            var week: [[WorkingInterval]] = []
            for (key, label) in days {
                do { week.append(try HoursText.parse(f[key] ?? "")) } catch {
                    throw Invalid(message: "\(label): \(error.description).")
                }
            }
            calendar = BusinessCalendar(id: id, name: name.isEmpty ? id : name,
                                        timeZone: (f["timeZone"] ?? "").trimmingCharacters(in: .whitespaces).isEmpty ? "UTC" : f["timeZone"]!.trimmingCharacters(in: .whitespaces),
                                        week: week)
            do { calendar.extraWorkingDays = try HoursText.parseDays(f["extra"] ?? "") } catch {
                throw Invalid(message: "Extra working days: \(error.description).")
            }
        }
        for d in (f["holidays"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\r" }) {
            guard let date = LocalDate(String(d)), date.isValid else { throw Invalid(message: "'\(d)' is not a date (YYYY-MM-DD).") }
            calendar.holidays.insert(date)
        }
        return calendar
    }
}
