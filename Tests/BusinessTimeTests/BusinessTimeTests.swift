import Foundation
import Testing
import BusinessTime

// MARK: Helpers (independent of the module: Foundation's Calendar builds the instants)

/// "YYYY-MM-DD HH:MM[:SS]" read as wall-clock time in `zone` (only for times that exist exactly once).
func at(_ text: String, _ zone: String) -> Date {
    let p = text.split(whereSeparator: { " -:".contains($0) }).map { Int($0)! }
    var cal = Calendar(identifier: .gregorian)
    cal.timeZone = TimeZone(identifier: zone)!
    return cal.date(from: DateComponents(year: p[0], month: p[1], day: p[2], hour: p[3], minute: p[4], second: p.count > 5 ? p[5] : 0))!
}
func msk(_ text: String) -> Date { at(text, "Europe/Moscow") }
func utc(_ text: String) -> Date { at(text, "UTC") }
func iv(_ from: String, _ to: String) -> WorkingInterval {
    func m(_ s: String) -> Int { let p = s.split(separator: ":").map { Int($0)! }; return p[0] * 60 + p[1] }
    return WorkingInterval(startMinute: m(from), endMinute: m(to))
}
let moscow = BusinessCalendar.weekdays(id: "msk", name: "Moscow office", timeZone: "Europe/Moscow", from: 600, to: 1140)
func daily(_ zone: String, _ intervals: [WorkingInterval]) -> BusinessCalendar {
    BusinessCalendar(id: zone, name: zone, timeZone: zone, week: Array(repeating: intervals, count: 7))
}
/// Deterministic SplitMix64.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: Hand-worked cases (2025-06-06 is a Friday, 06-07 Saturday, 06-09 Monday)

@Test func fridayEveningPlusTwoHoursIsMondayEleven() {
    // Fri 18:00 → 19:00 uses 1 h; weekend closed; Mon 10:00 + remaining 1 h = Mon 11:00.
    #expect(moscow.adding(businessSeconds: 7200, to: msk("2025-06-06 18:00")) == msk("2025-06-09 11:00"))
    // Exactly 1 h reaches the closing instant itself, not Monday's opening.
    #expect(moscow.adding(businessSeconds: 3600, to: msk("2025-06-06 18:00")) == msk("2025-06-06 19:00"))
    #expect(moscow.businessSeconds(from: msk("2025-06-06 18:00"), to: msk("2025-06-09 11:00")) == 7200)
    #expect(moscow.isOpen(at: msk("2025-06-06 18:59:59")))
    #expect(!moscow.isOpen(at: msk("2025-06-06 19:00")))  // half-open interval
    #expect(moscow.isOpen(at: msk("2025-06-09 10:00")))
}

@Test func saturdayRequestPlusOneHourIsMondayEleven() {
    // Saturday is closed: counting starts Mon 10:00, + 1 h = Mon 11:00.
    #expect(moscow.adding(businessSeconds: 3600, to: msk("2025-06-07 12:00")) == msk("2025-06-09 11:00"))
    #expect(moscow.nextOpening(atOrAfter: msk("2025-06-07 12:00")) == msk("2025-06-09 10:00"))
    // Before opening on a weekday: Mon 07:00 + 0 → Mon 10:00; an open instant is its own next opening.
    #expect(moscow.adding(businessSeconds: 0, to: msk("2025-06-09 07:00")) == msk("2025-06-09 10:00"))
    #expect(moscow.nextOpening(atOrAfter: msk("2025-06-09 12:34:56")) == msk("2025-06-09 12:34:56"))
    #expect(moscow.businessSeconds(from: msk("2025-06-07 00:00"), to: msk("2025-06-08 23:59")) == 0)
}

@Test func holidayOnMondayMovesToTuesday() {
    var cal = moscow
    cal.holidays = [LocalDate("2025-06-09")!]
    // Fri 18:00–19:00 = 1 h; Sat, Sun, Mon (holiday) closed; Tue 10:00 + 1 h = Tue 11:00.
    #expect(cal.adding(businessSeconds: 7200, to: msk("2025-06-06 18:00")) == msk("2025-06-10 11:00"))
    #expect(!cal.isOpen(at: msk("2025-06-09 12:00")))
    // A full week Mon 00:00 → next Mon 00:00 has 4 working days × 9 h = 36 h.
    #expect(cal.businessSeconds(from: msk("2025-06-09 00:00"), to: msk("2025-06-16 00:00")) == 4 * 9 * 3600)
}

@Test func extraWorkingSaturday() {
    var cal = moscow
    cal.extraWorkingDays = [LocalDate("2025-11-01")!: [iv("10:00", "18:00")]]  // Sat 2025-11-01 worked, 8 h
    // Fri 2025-10-31 18:30 → 19:00 = 30 min; Sat 10:00 + 30 min = Sat 10:30.
    #expect(cal.adding(businessSeconds: 3600, to: msk("2025-10-31 18:30")) == msk("2025-11-01 10:30"))
    #expect(cal.businessSeconds(from: msk("2025-11-01 00:00"), to: msk("2025-11-02 00:00")) == 8 * 3600)
    // Without the extra day the same request lands on Monday 2025-11-03 10:30.
    #expect(moscow.adding(businessSeconds: 3600, to: msk("2025-10-31 18:30")) == msk("2025-11-03 10:30"))
    // Sat 17:59 + 2 min: 1 min left Saturday (till 18:00), then Mon 10:00 + 1 min.
    #expect(cal.adding(businessSeconds: 120, to: msk("2025-11-01 17:59")) == msk("2025-11-03 10:01"))
}

@Test func lunchBreak() {
    let week = Array(repeating: [iv("10:00", "13:00"), iv("14:00", "19:00")], count: 5) + [[], []]
    let cal = BusinessCalendar(id: "lunch", name: "Lunch", timeZone: "Europe/Moscow", week: week)
    // Mon 12:30 → 13:00 = 30 min; lunch skipped; 14:00 + 30 min = 14:30.
    #expect(cal.adding(businessSeconds: 3600, to: msk("2025-06-09 12:30")) == msk("2025-06-09 14:30"))
    // During lunch + 1 s → 14:00:01; + 0 → 14:00.
    #expect(cal.adding(businessSeconds: 1, to: msk("2025-06-09 13:15")) == msk("2025-06-09 14:00:01"))
    #expect(cal.nextOpening(atOrAfter: msk("2025-06-09 13:00")) == msk("2025-06-09 14:00"))
    #expect(!cal.isOpen(at: msk("2025-06-09 13:30")))
    // 09:00–20:00 covers 3 h + 5 h = 8 h.
    #expect(cal.businessSeconds(from: msk("2025-06-09 09:00"), to: msk("2025-06-09 20:00")) == 8 * 3600)
}

@Test func twentyFourSeven() {
    let cal = BusinessCalendar.twentyFourSeven()
    // Every second counts: Saturday 23:30 + 1 h = Sunday 00:30, weekends included.
    #expect(cal.adding(businessSeconds: 3600, to: utc("2025-06-07 23:30")) == utc("2025-06-08 00:30"))
    #expect(cal.businessSeconds(from: utc("2025-06-02 00:00"), to: utc("2025-06-09 00:00")) == 7 * 86_400)
    #expect(cal.isOpen(at: utc("2025-12-25 03:00")))
    #expect(cal.validate().isEmpty)
}

@Test func fractionalSecondsAreKeptInsideHours() {
    let start = msk("2025-06-09 12:00").addingTimeInterval(0.25)
    // Open at start: 12:00:00.25 + 90 s = 12:01:30.25. Closed at start: counting starts at the (whole-second) opening.
    #expect(moscow.adding(businessSeconds: 90, to: start) == msk("2025-06-09 12:01:30").addingTimeInterval(0.25))
    #expect(moscow.adding(businessSeconds: 90, to: msk("2025-06-09 08:00").addingTimeInterval(0.25)) == msk("2025-06-09 10:01:30"))
}

// MARK: Daylight saving (Berlin: 2025-03-30 02:00 CET → 03:00 CEST, 2025-10-26 03:00 CEST → 02:00 CET, both Sundays)

let berlin = daily("Europe/Berlin", [iv("08:00", "18:00")])

@Test func berlinSpringForward() {
    // Sunday 2025-03-30 still has 08:00–18:00 = 10 h, even though the local day has only 23 h.
    #expect(berlin.businessSeconds(from: at("2025-03-30 00:00", "Europe/Berlin"), to: at("2025-03-31 00:00", "Europe/Berlin")) == 36_000)
    // Sat 17:00 CET (16:00Z) + 2 h: 1 h to 18:00 CET (17:00Z); Sunday opens 08:00 CEST = 06:00Z; + 1 h = 07:00Z.
    // (A fixed +01:00 offset would wrongly give 08:00Z.)
    #expect(berlin.adding(businessSeconds: 7200, to: utc("2025-03-29 16:00")) == utc("2025-03-30 07:00"))
    #expect(berlin.isOpen(at: utc("2025-03-30 06:30")))   // 08:30 CEST
    #expect(!berlin.isOpen(at: utc("2025-03-30 05:30")))  // 07:30 CEST
    // Sat 12:00Z (13:00 CET) → Sun 12:00Z (14:00 CEST): 5 h Saturday + 08:00–14:00 = 6 h Sunday = 11 h.
    #expect(berlin.businessSeconds(from: utc("2025-03-29 12:00"), to: utc("2025-03-30 12:00")) == 11 * 3600)
}

@Test func berlinFallBack() {
    // Sunday 2025-10-26 (a 25 h local day) still has 10 business hours.
    #expect(berlin.businessSeconds(from: at("2025-10-26 00:00", "Europe/Berlin"), to: at("2025-10-27 00:00", "Europe/Berlin")) == 36_000)
    // Sat 17:00 CEST (15:00Z) + 2 h: 1 h to 18:00 CEST (16:00Z); Sunday opens 08:00 CET = 07:00Z; + 1 h = 08:00Z.
    #expect(berlin.adding(businessSeconds: 7200, to: utc("2025-10-25 15:00")) == utc("2025-10-26 08:00"))
    #expect(berlin.nextOpening(atOrAfter: utc("2025-10-25 20:00")) == utc("2025-10-26 07:00"))
}

@Test func newYorkIntervalsAcrossTheSwitchAreClipped() {
    // Night shift 01:00–04:00 every day. 2025-03-09: 02:00 EST → 03:00 EDT, so 01:00 EST (06:00Z) → 04:00 EDT (08:00Z) = 2 h.
    let ny = daily("America/New_York", [iv("01:00", "04:00")])
    #expect(ny.businessSeconds(from: utc("2025-03-09 00:00"), to: utc("2025-03-10 00:00")) == 2 * 3600)
    #expect(ny.nextOpening(atOrAfter: utc("2025-03-09 07:30")) == utc("2025-03-09 07:30"))  // 03:30 EDT: open
    // 2025-11-02: 02:00 EDT → 01:00 EST; 01:00 means its first occurrence (EDT, 05:00Z); 04:00 EST = 09:00Z → 4 h.
    #expect(ny.businessSeconds(from: utc("2025-11-02 00:00"), to: utc("2025-11-03 00:00")) == 4 * 3600)
    // An interval lying wholly in the skipped hour (02:00–02:30) is empty on 2025-03-09: from local midnight
    // 2025-03-09 00:00 EST (05:00Z) the next opening is 2025-03-10 02:00 EDT = 06:00Z.
    let gap = daily("America/New_York", [iv("02:00", "02:30")])
    #expect(gap.nextOpening(atOrAfter: utc("2025-03-09 05:00")) == utc("2025-03-10 06:00"))
    #expect(gap.nextOpening(atOrAfter: utc("2025-03-08 05:00")) == utc("2025-03-08 07:00"))  // 02:00 EST the day before
}

// MARK: Properties

/// Berlin Mon–Fri with lunch, holidays and a worked Saturday inside the spring-forward weekend.
let berlinOffice = BusinessCalendar(
    id: "ber", name: "Berlin", timeZone: "Europe/Berlin",
    week: Array(repeating: [iv("08:00", "12:00"), iv("13:00", "18:00")], count: 5) + [[], []],
    holidays: Set(["2025-04-18", "2025-04-21", "2025-05-01", "2025-12-25", "2025-12-26", "2026-01-01"].map { LocalDate($0)! }),
    extraWorkingDays: [LocalDate("2025-03-29")!: [iv("09:00", "13:00")]])

@Test func addingAndBusinessSecondsRoundTrip() {
    var rng = SplitMix(state: 19)
    let base = utc("2025-01-01 00:00")
    for _ in 0..<500 {
        let whole = Bool.random(using: &rng)
        let a = base.addingTimeInterval(Double(Int.random(in: 0..<(2 * 365 * 86_400), using: &rng)) + (whole ? 0 : 0.25))
        let n = Int64.random(in: 0...(400 * 3600), using: &rng)
        let b = berlinOffice.adding(businessSeconds: n, to: a)
        #expect(b >= a)
        #expect(berlinOffice.businessSeconds(from: a, to: b) == n, "a=\(a) n=\(n) b=\(b)")
        if n > 0 {
            #expect(berlinOffice.isOpen(at: b.addingTimeInterval(-0.1)), "result must end open time: a=\(a) n=\(n)")
            if whole { #expect(berlinOffice.businessSeconds(from: a, to: b.addingTimeInterval(-1)) == n - 1) }
        }
    }
}

@Test func businessSecondsMatchesMinuteByMinuteOracle() {
    // Oracle: count whole minutes whose local wall-clock time (via Foundation's Calendar) is in working hours.
    // 01:00–04:00 spans the skipped/repeated hour; the module's rules agree with this per-instant count for it.
    let intervals = [iv("01:00", "04:00"), iv("08:00", "12:00"), iv("13:00", "18:00")]
    var cal = daily("Europe/Berlin", intervals)
    cal.holidays = [LocalDate("2025-03-31")!]
    var greg = Calendar(identifier: .gregorian)
    greg.timeZone = TimeZone(identifier: "Europe/Berlin")!
    var rng = SplitMix(state: 7)
    let anchors = ["2025-03-28 00:00", "2025-10-24 00:00", "2025-06-10 00:00"].map(utc)
    for i in 0..<30 {
        let a = anchors[i % 3].addingTimeInterval(Double(Int.random(in: 0..<(3 * 1440), using: &rng) * 60))
        let b = a.addingTimeInterval(Double(Int.random(in: 0..<(3 * 1440), using: &rng) * 60))
        var minutes: Int64 = 0
        var m = a
        while m < b {
            let c = greg.dateComponents([.year, .month, .day, .hour, .minute], from: m)
            let minute = c.hour! * 60 + c.minute!
            if !cal.holidays.contains(LocalDate(year: c.year!, month: c.month!, day: c.day!)),
               intervals.contains(where: { $0.startMinute <= minute && minute < $0.endMinute }) { minutes += 1 }
            m.addTimeInterval(60)
        }
        #expect(cal.businessSeconds(from: a, to: b) == minutes * 60, "a=\(a) b=\(b)")
    }
}

@Test func tenThousandBusinessHoursIsFastAndExact() {
    // 10,000 h / 9 h = 1,111 full days + 1 h. From Mon 2025-06-09 10:00: 222 weeks = 1,110 days end on a Friday 19:00,
    // day 1,111 is the Monday 222·7 = 1,554 days later, and the last hour lands on the Tuesday (+1,555 days) at 11:00.
    var greg = Calendar(identifier: .gregorian)
    greg.timeZone = TimeZone(identifier: "Europe/Moscow")!
    let expected = greg.date(byAdding: .day, value: 1555, to: msk("2025-06-09 11:00"))!
    let clock = ContinuousClock()
    let elapsed = clock.measure {
        #expect(moscow.adding(businessSeconds: 36_000_000, to: msk("2025-06-09 10:00")) == expected)
        #expect(moscow.businessSeconds(from: msk("2025-06-09 10:00"), to: expected) == 36_000_000)
        #expect(moscow.adding(businessSeconds: .max, to: msk("2025-06-09 10:00")) == BusinessCalendar.never)
    }
    #expect(elapsed < .seconds(2))
}

@Test func weekSkippingAgreesWithSmallSteps() {
    // One 3,000 h jump (skips weeks) equals 100 chained 30 h steps (each under a 45 h week, so day by day),
    // across holidays, the extra Saturday and four DST switches.
    let start = utc("2025-01-02 09:30")
    var stepped = start
    for _ in 0..<100 { stepped = berlinOffice.adding(businessSeconds: 30 * 3600, to: stepped) }
    #expect(berlinOffice.adding(businessSeconds: 3000 * 3600, to: start) == stepped)
    #expect(berlinOffice.businessSeconds(from: start, to: stepped) == 3000 * 3600)
    // Here the switches fall inside working time (01:00–04:00), so skipped weeks must stop at them.
    let ny = daily("America/New_York", [iv("01:00", "04:00"), iv("09:00", "17:00")])  // 11 h a day, 77 h a week
    var nyStepped = start
    for _ in 0..<60 { nyStepped = ny.adding(businessSeconds: 50 * 3600, to: nyStepped) }
    #expect(ny.adding(businessSeconds: 3000 * 3600, to: start) == nyStepped)
    // 2025-01-01 → 2025-07-01 is 181 days × 11 h, minus the hour skipped on 2025-03-09 (01:00–04:00 lasts 2 h).
    let h1 = ny.businessSeconds(from: at("2025-01-01 00:00", "America/New_York"), to: at("2025-07-01 00:00", "America/New_York"))
    #expect(h1 == (181 * 11 - 1) * 3600)
}

@Test func calendarWithoutWorkingTimeTerminates() {
    let closed = BusinessCalendar(id: "closed", name: "Closed", timeZone: "UTC", week: Array(repeating: [], count: 7))
    #expect(closed.adding(businessSeconds: 60, to: utc("2025-06-09 10:00")) == BusinessCalendar.never)
    #expect(closed.nextOpening(atOrAfter: utc("2025-06-09 10:00")) == BusinessCalendar.never)
    #expect(closed.businessSeconds(from: utc("2025-01-01 00:00"), to: utc("2030-01-01 00:00")) == 0)
    // Only one worked day, in the past: nothing is found within the cap.
    var past = closed
    past.extraWorkingDays = [LocalDate("2020-01-01")!: [iv("10:00", "11:00")]]
    #expect(past.nextOpening(atOrAfter: utc("2025-06-09 10:00")) == BusinessCalendar.never)
    #expect(past.nextOpening(atOrAfter: utc("2019-12-01 00:00")) == utc("2020-01-01 10:00"))
}

// MARK: Validation and coding

@Test func validateMessages() {
    #expect(moscow.validate() == [])
    let bad = BusinessCalendar(id: "bad", name: "Bad", timeZone: "Mars/Olympus",
                               week: [[iv("10:00", "09:00")], [iv("10:00", "13:20"), iv("11:40", "15:00")]])
    #expect(bad.validate() == [
        "Unknown time zone \"Mars/Olympus\".",
        "The week must have exactly 7 entries (Monday…Sunday), but has 2.",
        "Monday: interval 10:00–09:00 is out of range (need 00:00 ≤ start < end ≤ 24:00).",
        "Tuesday: intervals 10:00–13:20 and 11:40–15:00 overlap or are not in order.",
    ])
    let empty = BusinessCalendar(id: "e", name: "E", timeZone: "UTC", week: Array(repeating: [], count: 7))
    #expect(empty.validate() == ["The calendar has no working time at all (and is not 24/7)."])
    var clash = moscow
    clash.holidays = [LocalDate("2025-05-01")!, LocalDate(year: 2025, month: 2, day: 30)]
    clash.extraWorkingDays = [LocalDate("2025-05-01")!: [iv("10:00", "24:01")]]
    #expect(clash.validate() == [
        "2025-05-01 is both a holiday and an extra working day.",
        "Extra working day 2025-05-01: interval 10:00–24:01 is out of range (need 00:00 ≤ start < end ≤ 24:00).",
        "Holiday 2025-02-30 is not a valid date.",
    ])
    #expect(throws: BusinessTimeError.invalidCalendar(["The calendar has no working time at all (and is not 24/7)."])) {
        try empty.validated()
    }
    #expect((try? moscow.validated()) == moscow)
}

@Test func localDateParsingAndOrder() {
    #expect(LocalDate("2024-02-29") == LocalDate(year: 2024, month: 2, day: 29))
    for bad in ["2025-02-29", "2025-13-01", "2025-6-01", "25-06-01", "2025-06-01T", "2025/06/01", "2025-0a-01", ""] {
        #expect(LocalDate(bad) == nil, "\(bad)")
    }
    #expect(LocalDate("2025-01-31")! < LocalDate("2025-02-01")!)
    #expect(LocalDate("2024-12-31")! < LocalDate("2025-01-01")!)
    #expect(LocalDate(year: 7, month: 3, day: 5).description == "0007-03-05")
}

@Test func codableRoundTrip() throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    #expect(String(decoding: try encoder.encode(LocalDate("2025-06-12")!), as: UTF8.self) == "\"2025-06-12\"")
    #expect(try JSONDecoder().decode(LocalDate.self, from: Data("\"2025-11-04\"".utf8)) == LocalDate(year: 2025, month: 11, day: 4))
    #expect(throws: DecodingError.self) { try JSONDecoder().decode(LocalDate.self, from: Data("\"2025-02-30\"".utf8)) }
    var cal = moscow
    cal.holidays = [LocalDate("2025-06-12")!, LocalDate("2025-11-04")!]
    cal.extraWorkingDays = [LocalDate("2025-11-01")!: [iv("10:00", "18:00")]]
    let json = try encoder.encode(cal)
    let text = String(decoding: json, as: UTF8.self)
    #expect(text.contains("\"extraWorkingDays\":{\"2025-11-01\":[{\"endMinute\":1080,\"startMinute\":600}]}"), "\(text)")
    #expect(text.contains("\"2025-06-12\""))
    #expect(try JSONDecoder().decode(BusinessCalendar.self, from: json) == cal)
    let e = BusinessTimeError.invalidCalendar(["x"])
    #expect(try JSONDecoder().decode(BusinessTimeError.self, from: encoder.encode(e)) == e)
}
