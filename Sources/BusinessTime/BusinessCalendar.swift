import Foundation

/// One stretch of working time within a local day, in minutes from local midnight (`0...1440`, `start < end`).
/// `10:00–19:00` is `WorkingInterval(startMinute: 600, endMinute: 1140)`.
public struct WorkingInterval: Sendable, Hashable, Codable {
    /// Minutes from local midnight at which work starts (inclusive).
    public var startMinute: Int
    /// Minutes from local midnight at which work ends (exclusive); 1440 = midnight at the end of the day.
    public var endMinute: Int
    /// Creates an interval from minutes after local midnight.
    public init(startMinute: Int, endMinute: Int) {
        self.startMinute = startMinute; self.endMinute = endMinute
    }
}

/// Errors of this module.
public enum BusinessTimeError: Error, Sendable, Hashable, Codable {
    /// The calendar failed ``BusinessCalendar/validate()``; carries its messages.
    case invalidCalendar([String])
}

/// Working hours in one time zone (requirement R19), used to compute SLA due times in business time.
///
/// Semantics:
/// - A date in `holidays` is closed all day. A date in `extraWorkingDays` uses the given intervals instead of its weekday's.
///   If a date is in both (``validate()`` reports it), the holiday wins.
/// - `alwaysOpen` makes every second business time; `timeZone`, `week`, `holidays` and `extraWorkingDays` are then ignored.
/// - Local wall-clock times are converted with the zone's Foundation `TimeZone` offsets. A local time that is skipped by a
///   daylight-saving jump maps to the instant of the jump, so an interval is clipped to the part that exists
///   (an interval lying wholly in the skipped hour is empty that day). A repeated local time means its first occurrence,
///   so an interval ending after the repeated hour contains it twice (e.g. 01:00–04:00 lasts 4 h on a fall-back night).
///   Foundation's `Calendar.date(from:)` instead shifts skipped times forward, which would not clip.
/// - Calendars that fail validation still compute: bad intervals are clamped to `0...1440`, empty ones dropped, overlapping
///   ones merged, missing weekdays closed, and an unknown time zone is treated as UTC.
/// - If no open time can be found (no working time at all, or none within ``maxClosedDays`` consecutive days), or the
///   result would lie beyond ``never``, the computation returns ``never`` (`Date.distantFuture`); it never hangs.
public struct BusinessCalendar: Sendable, Hashable, Codable {
    /// Stable identifier, e.g. `"msk-office"`.
    public var id: String
    /// Human-readable name.
    public var name: String
    /// IANA time zone identifier, e.g. `"Europe/Moscow"`.
    public var timeZone: String
    /// Exactly 7 entries, index 0 = Monday … 6 = Sunday; each sorted and non-overlapping.
    public var week: [[WorkingInterval]]
    /// Dates closed all day.
    public var holidays: Set<LocalDate>
    /// Dates with their own working intervals (e.g. a Saturday that is worked); they replace the weekday's intervals.
    public var extraWorkingDays: [LocalDate: [WorkingInterval]]
    /// 24/7: every second is business time.
    public var alwaysOpen: Bool

    /// The far-future sentinel returned when no answer exists (`Date.distantFuture`).
    public static let never = Date.distantFuture
    /// How many consecutive calendar days without open time are searched before giving up with ``never`` (about 10 years).
    public static let maxClosedDays = 3_700

    /// Creates a calendar; call ``validate()`` to check it.
    public init(id: String, name: String, timeZone: String, week: [[WorkingInterval]],
                holidays: Set<LocalDate> = [], extraWorkingDays: [LocalDate: [WorkingInterval]] = [:], alwaysOpen: Bool = false) {
        self.id = id; self.name = name; self.timeZone = timeZone; self.week = week
        self.holidays = holidays; self.extraWorkingDays = extraWorkingDays; self.alwaysOpen = alwaysOpen
    }

    /// A 24/7 calendar (UTC, every day 00:00–24:00, `alwaysOpen`).
    public static func twentyFourSeven(id: String = "24x7") -> BusinessCalendar {
        BusinessCalendar(id: id, name: "24/7", timeZone: "UTC",
                         week: Array(repeating: [WorkingInterval(startMinute: 0, endMinute: 1440)], count: 7), alwaysOpen: true)
    }

    /// Monday–Friday from minute `from` to minute `to` (e.g. 600, 1140 for 10:00–19:00), closed at weekends.
    public static func weekdays(id: String, name: String, timeZone: String, from: Int, to: Int) -> BusinessCalendar {
        let day = [WorkingInterval(startMinute: from, endMinute: to)]
        return BusinessCalendar(id: id, name: name, timeZone: timeZone, week: Array(repeating: day, count: 5) + [[], []])
    }

    /// Checks the calendar; returns plain-English problems (unknown time zone, week not 7 entries, interval out of range or
    /// overlapping, invalid dates, a date both holiday and extra working day, no working time at all unless `alwaysOpen`).
    /// Empty = valid.
    public func validate() -> [String] {
        var problems: [String] = []
        if TimeZone(identifier: timeZone) == nil { problems.append("Unknown time zone \"\(timeZone)\".") }
        if week.count != 7 { problems.append("The week must have exactly 7 entries (Monday…Sunday), but has \(week.count).") }
        let names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        func check(_ list: [WorkingInterval], _ label: String) {
            for (i, w) in list.enumerated() {
                if w.startMinute < 0 || w.endMinute > 1440 || w.startMinute >= w.endMinute {
                    problems.append("\(label): interval \(Self.hhmm(w)) is out of range (need 00:00 ≤ start < end ≤ 24:00).")
                }
                if i > 0, w.startMinute < list[i - 1].endMinute {
                    problems.append("\(label): intervals \(Self.hhmm(list[i - 1])) and \(Self.hhmm(w)) overlap or are not in order.")
                }
            }
        }
        for (i, list) in week.enumerated() { check(list, i < 7 ? names[i] : "Week entry \(i + 1)") }
        for (date, list) in extraWorkingDays.sorted(by: { $0.key < $1.key }) {
            if !date.isValid { problems.append("Extra working day \(date) is not a valid date.") }
            if holidays.contains(date) { problems.append("\(date) is both a holiday and an extra working day.") }
            check(list, "Extra working day \(date)")
        }
        for date in holidays.sorted() where !date.isValid { problems.append("Holiday \(date) is not a valid date.") }
        let anyTime = (week + Array(extraWorkingDays.values)).contains { $0.contains { $0.startMinute < $0.endMinute } }
        if !alwaysOpen && !anyTime { problems.append("The calendar has no working time at all (and is not 24/7).") }
        return problems
    }

    /// Returns the calendar unchanged if ``validate()`` finds no problem; throws ``BusinessTimeError/invalidCalendar(_:)`` otherwise.
    public func validated() throws(BusinessTimeError) -> BusinessCalendar {
        let problems = validate()
        if !problems.isEmpty { throw .invalidCalendar(problems) }
        return self
    }

    private static func hhmm(_ w: WorkingInterval) -> String {
        func f(_ m: Int) -> String { m < 0 ? "\(m)" : "\(m / 60 < 10 ? "0" : "")\(m / 60):\(m % 60 < 10 ? "0" : "")\(m % 60)" }
        return "\(f(w.startMinute))–\(f(w.endMinute))"
    }
}

extension BusinessCalendar {
    /// True if `instant` is business time (working intervals are half-open: open at 10:00:00, closed at 19:00:00).
    public func isOpen(at instant: Date) -> Bool {
        if alwaysOpen { return true }
        let t = instant.timeIntervalSince1970
        guard t.isFinite else { return false }
        let e = Engine(self), d = e.localDay(t)
        return (d - 1...d + 1).contains { e.spans(day: $0).contains { $0.0 <= t && t < $0.1 } }
    }

    /// The instant reached after `seconds` of business time counted from `instant` (if instant is outside hours, counting
    /// starts at the next opening). `seconds == 0` → the next moment that is open (or `instant` itself if open).
    /// A count that ends exactly at closing time returns the closing instant. Negative `seconds` count as 0.
    /// The fractional seconds of `instant` are kept when counting starts inside open hours. Returns ``never`` if unreachable.
    public func adding(businessSeconds seconds: Int64, to instant: Date) -> Date {
        Self.adding(businessSeconds: seconds, to: instant, alwaysOpen: alwaysOpen, engine: alwaysOpen ? nil : Engine(self))
    }

    static func adding(businessSeconds seconds: Int64, to instant: Date, alwaysOpen: Bool, engine: Engine?) -> Date {
        let t = instant.timeIntervalSince1970, never = Self.never.timeIntervalSince1970
        guard t < never else { return t.isNaN ? Self.never : instant }
        let t0 = max(t, Date.distantPast.timeIntervalSince1970)
        var remaining = Double(max(0, seconds))
        guard !alwaysOpen, let e = engine else { return Date(timeIntervalSince1970: min(t0 + remaining, never)) }
        let first = e.localDay(t0), lastDay = Int((never / 86_400).rounded(.down)) - 2
        var day = first - 1, lastOpen = day
        while day <= lastDay && day - lastOpen <= Self.maxClosedDays {
            if day >= first + 2 {  // every span of this and later days starts after t0: whole weeks may be skipped
                var k = (lastDay - day) / 7
                if e.weekSeconds > 0 { k = min(k, Int((remaining / e.weekSeconds).rounded(.up)) - 1) }
                k = e.skippableWeeks(from: day, upTo: k)
                if k > 0 {
                    remaining -= Double(k) * e.weekSeconds
                    day += 7 * k
                    if e.weekSeconds > 0 { lastOpen = day }
                    continue
                }
            }
            for (s, end) in e.spans(day: day) where end > t0 {
                let from = max(s, t0)
                lastOpen = day
                if remaining <= end - from { return Date(timeIntervalSince1970: min(from + remaining, never)) }
                remaining -= end - from
            }
            day += 1
        }
        return Self.never
    }

    /// Business seconds between two instants, rounded to the nearest whole second (0 if `end <= start`).
    public func businessSeconds(from start: Date, to end: Date) -> Int64 {
        Self.businessSeconds(from: start, to: end, alwaysOpen: alwaysOpen, engine: alwaysOpen ? nil : Engine(self))
    }

    /// Ready for many computations (a report over thousands of tickets): the time zone and
    /// intervals are resolved once instead of on every call.
    public func prepared() -> PreparedCalendar { PreparedCalendar(self) }

    static func businessSeconds(from start: Date, to end: Date, alwaysOpen: Bool, engine: Engine?) -> Int64 {
        let t0 = max(start.timeIntervalSince1970, Date.distantPast.timeIntervalSince1970)
        let t1 = min(end.timeIntervalSince1970, Self.never.timeIntervalSince1970)
        guard t1 > t0 else { return 0 }
        guard !alwaysOpen, let e = engine else { return Int64((t1 - t0).rounded()) }
        let first = e.localDay(t0), lastDay = e.localDay(t1) + 1
        var total = 0.0, day = first - 1
        while day <= lastDay {
            if day >= first + 2 {  // whole weeks strictly between the start's and the end's days
                let k = e.skippableWeeks(from: day, upTo: (lastDay - 2 - day) / 7)
                if k > 0 { total += Double(k) * e.weekSeconds; day += 7 * k; continue }
            }
            for (s, en) in e.spans(day: day) where min(en, t1) > max(s, t0) { total += min(en, t1) - max(s, t0) }
            day += 1
        }
        return Int64(total.rounded())
    }

    /// The next instant ≥ `instant` at which the calendar is open (``never`` if there is none).
    public func nextOpening(atOrAfter instant: Date) -> Date {
        adding(businessSeconds: 0, to: instant)
    }
}

/// A calendar with its working state resolved once; gives the same answers as the calendar.
public struct PreparedCalendar: @unchecked Sendable {
    public let calendar: BusinessCalendar
    let engine: Engine?

    init(_ c: BusinessCalendar) {
        calendar = c
        engine = c.alwaysOpen ? nil : Engine(c)
    }

    public func businessSeconds(from start: Date, to end: Date) -> Int64 {
        BusinessCalendar.businessSeconds(from: start, to: end, alwaysOpen: calendar.alwaysOpen, engine: engine)
    }

    public func adding(businessSeconds seconds: Int64, to instant: Date) -> Date {
        BusinessCalendar.adding(businessSeconds: seconds, to: instant, alwaysOpen: calendar.alwaysOpen, engine: engine)
    }
}

/// Per-call working state: the resolved time zone and normalised intervals (no global mutable state).
struct Engine {
    let zone: TimeZone
    let week: [[(Int64, Int64)]]          // per weekday, seconds after local midnight, sorted and merged
    let holidays: Set<Int>                // day numbers
    let extra: [Int: [(Int64, Int64)]]    // day number → intervals
    let specials: [Int]                   // sorted day numbers of holidays and extra days
    let weekSeconds: Double               // business seconds of an ordinary week without offset changes

    init(_ c: BusinessCalendar) {
        zone = TimeZone(identifier: c.timeZone) ?? TimeZone(secondsFromGMT: 0)!
        week = (0..<7).map { $0 < c.week.count ? Engine.normalize(c.week[$0]) : [] }
        holidays = Set(c.holidays.map(\.dayNumber))
        extra = Dictionary(c.extraWorkingDays.map { ($0.key.dayNumber, Engine.normalize($0.value)) }, uniquingKeysWith: { a, _ in a })
        specials = Set(holidays).union(extra.keys).sorted()
        weekSeconds = Double(week.joined().reduce(0) { $0 + $1.1 - $1.0 })
    }

    /// Clamps to the day, drops empty intervals, sorts and merges overlaps; result in seconds.
    static func normalize(_ list: [WorkingInterval]) -> [(Int64, Int64)] {
        var out: [(Int64, Int64)] = []
        for w in list.map({ (max(0, min(1440, $0.startMinute)), max(0, min(1440, $0.endMinute))) }).filter({ $0.0 < $0.1 }).sorted(by: { $0.0 < $1.0 }) {
            let (s, e) = (Int64(w.0) * 60, Int64(w.1) * 60)
            if let last = out.last, s <= last.1 { out[out.count - 1].1 = max(last.1, e) } else { out.append((s, e)) }
        }
        return out
    }

    func offset(_ t: Int64) -> Int64 { Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))) }

    /// The local day number containing instant `t`.
    func localDay(_ t: Double) -> Int {
        let s = Int64(t.rounded(.down))
        let local = s + offset(s)
        return Int(local >= 0 ? local / 86_400 : (local - 86_399) / 86_400)
    }

    /// The instant of local wall-clock time `local` (seconds since 1970 as if UTC): the first occurrence of a repeated
    /// time, or the instant of the jump for a skipped time. Assumes at most one offset change within ±1 day.
    func instant(local: Int64) -> Int64 {
        let a = offset(local - 86_400), b = offset(local + 86_400)
        let ok = { (t: Int64) in t + self.offset(t) == local }
        switch (ok(local - a), ok(local - b)) {
        case (true, true): return min(local - a, local - b)
        case (true, false): return local - a
        case (false, true): return local - b
        case (false, false):  // skipped: binary-search the jump in (local - b, local - a]
            guard a < b else { return local - a }
            var lo = local - b, hi = local - a
            while hi - lo > 1 { let mid = lo + (hi - lo) / 2; if offset(mid) == b { hi = mid } else { lo = mid } }
            return hi
        }
    }

    /// The open instants `[start, end)` (seconds since 1970) of local day `day`, in order.
    func spans(day: Int) -> [(Double, Double)] {
        let local = holidays.contains(day) ? [] : extra[day] ?? week[LocalDate.weekdayIndex(ofDay: day)]
        guard !local.isEmpty else { return [] }
        let base = Int64(day) * 86_400
        let a = offset(base - 86_400), steady = a == offset(base + 2 * 86_400)
        return local.compactMap { s, e in
            let (i, j) = steady ? (base + s - a, base + e - a) : (instant(local: base + s), instant(local: base + e))
            return j > i ? (Double(i), Double(j)) : nil
        }
    }

    /// How many whole weeks (≤ `limit`) starting at local day `day` contain no holiday, extra day or UTC-offset change,
    /// so that each is worth exactly `weekSeconds`.
    func skippableWeeks(from day: Int, upTo limit: Int) -> Int {
        guard limit > 0 else { return 0 }
        var maxDay = day + 7 * limit  // exclusive
        var lo = 0, hi = specials.count
        while lo < hi { let m = (lo + hi) / 2; if specials[m] < day { lo = m + 1 } else { hi = m } }
        if lo < specials.count { maxDay = min(maxDay, specials[lo]) }
        guard maxDay - day >= 7 else { return 0 }
        let start = Int64(day - 1) * 86_400
        if let jump = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: TimeInterval(start))) {
            maxDay = min(maxDay, localDay(jump.timeIntervalSince1970) - 1)
        }
        var k = max(0, (maxDay - day) / 7)
        // Guard against offset changes the transition API might not report.
        while k > 0, offset(start) != offset(Int64(day + 7 * k + 1) * 86_400) { k /= 2 }
        return k
    }
}

extension BusinessCalendar {
    private enum EncodingKeys: String, CodingKey { case id, name, timeZone, week, holidays, extraWorkingDays, alwaysOpen }
    private struct DayKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Encodes holidays and extra working days in date order, so that equal calendars encode to the
    /// same bytes (a `Set` or `Dictionary` would follow its instance's iteration order). Decoding is
    /// the synthesized one: the shape is the same.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: EncodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(timeZone, forKey: .timeZone)
        try c.encode(week, forKey: .week)
        try c.encode(holidays.sorted(), forKey: .holidays)
        var extra = c.nestedContainer(keyedBy: DayKey.self, forKey: .extraWorkingDays)
        for (day, intervals) in extraWorkingDays.sorted(by: { $0.key < $1.key }) {
            try extra.encode(intervals, forKey: DayKey(stringValue: day.description))
        }
        try c.encode(alwaysOpen, forKey: .alwaysOpen)
    }
}
