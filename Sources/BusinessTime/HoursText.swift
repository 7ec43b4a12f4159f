import Foundation

/// Working hours as people type them: `09:00-13:00, 14:00-18:00` (either `-` or `–`; `24:00` ends a
/// day; an empty string is a closed day). Used by the settings page and the command line.
public enum HoursText {
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// Parses a list of intervals. Checks each interval's range and order (the same rules as
    /// ``BusinessCalendar/validate()``) so that the message names what was typed.
    public static func parse(_ text: String) throws(ParseError) -> [WorkingInterval] {
        var out: [WorkingInterval] = []
        for part in text.split(whereSeparator: { $0 == "," || $0 == ";" }) {
            let item = part.trimmingCharacters(in: .whitespaces)
            if item.isEmpty { continue }
            let ends = item.split(whereSeparator: { $0 == "-" || $0 == "–" || $0 == "—" }).map { $0.trimmingCharacters(in: .whitespaces) }
            guard ends.count == 2, let start = minutes(ends[0]), let end = minutes(ends[1]) else {
                throw ParseError(description: "'\(item)' is not an interval like 09:00-18:00")
            }
            guard start < end else { throw ParseError(description: "'\(item)' ends before it starts") }
            if let last = out.last, start < last.endMinute {
                throw ParseError(description: "'\(item)' overlaps the interval before it or is out of order")
            }
            out.append(WorkingInterval(startMinute: start, endMinute: end))
        }
        return out
    }

    /// `HH:MM` (or `H:MM`, or `HH`) → minutes after midnight, `0…1440`.
    public static func minutes(_ text: String) -> Int? {
        let p = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(p.count), p.allSatisfy({ !$0.isEmpty && $0.count <= 2 && $0.allSatisfy(\.isASCII) }),
              let h = Int(p[0]), let m = p.count == 2 ? Int(p[1]) : 0,
              (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1440 else { return nil }
        return h * 60 + m
    }

    /// The inverse of ``parse(_:)``: `09:00-13:00, 14:00-18:00`, or "" for a closed day.
    public static func format(_ intervals: [WorkingInterval]) -> String {
        intervals.map { "\(clock($0.startMinute))-\(clock($0.endMinute))" }.joined(separator: ", ")
    }

    static func clock(_ m: Int) -> String {
        let h = m / 60, mm = m % 60
        return (h < 10 ? "0" : "") + "\(h):" + (mm < 10 ? "0" : "") + "\(mm)"
    }

    /// Extra working days, one per line: `2026-11-28 10:00-15:00`.
    public static func parseDays(_ text: String) throws(ParseError) -> [LocalDate: [WorkingInterval]] {
        var out: [LocalDate: [WorkingInterval]] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let head = line.prefix { !$0.isWhitespace }
            guard let date = LocalDate(String(head)), date.isValid else {
                throw ParseError(description: "'\(line)' does not start with a date (YYYY-MM-DD)")
            }
            let hours = try parse(String(line.dropFirst(head.count)))
            guard !hours.isEmpty else { throw ParseError(description: "'\(line)' gives no working hours") }
            guard out[date] == nil else { throw ParseError(description: "\(date) is given twice") }
            out[date] = hours
        }
        return out
    }

    /// The inverse of ``parseDays(_:)``, sorted by date.
    public static func formatDays(_ days: [LocalDate: [WorkingInterval]]) -> String {
        days.sorted { $0.key < $1.key }.map { "\($0.key) \(format($0.value))" }.joined(separator: "\n")
    }
}
