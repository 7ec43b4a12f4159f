import BusinessTime
import Foundation
import SupportDesk
import Testing

@Suite("Local date, hour and weekday of instants")
struct LocalDayTests {
    /// What `Calendar` says, the slow way.
    func expected(_ instant: Date, _ zone: String) -> (LocalDate, Int, Int) {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: zone)!
        let c = cal.dateComponents([.year, .month, .day, .hour, .weekday], from: instant)
        return (LocalDate(year: c.year!, month: c.month!, day: c.day!), c.hour!, (c.weekday! + 5) % 7)
    }

    @Test("agrees with Calendar at random instants and around every offset change, in zones with DST, half and quarter hours",
          arguments: ["UTC", "Europe/Moscow", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns"])
    func agreesWithCalendar(zone: String) {
        var rng = SystemRandomNumberGenerator()
        let day = LocalDay(timeZone: zone)
        // 1980…2040 at random, fractions of seconds included, and before 1970.
        var instants = (0..<3_000).map { _ in Date(timeIntervalSince1970: Double.random(in: 315_532_800...2_208_988_800, using: &rng)) }
        instants += (0..<200).map { _ in Date(timeIntervalSince1970: Double.random(in: -86_400 * 400 ... 0, using: &rng)) }
        // Each side of every offset change from 2000 to 2030.
        let tz = TimeZone(identifier: zone)!
        var t = Date(timeIntervalSince1970: 946_684_800)
        while let next = tz.nextDaylightSavingTimeTransition(after: t), next.timeIntervalSince1970 < 1_893_456_000 {
            for d in [-3600.0, -1, -0.001, 0, 0.001, 1, 3600] { instants.append(next.addingTimeInterval(d)) }
            t = next
        }
        for i in instants {
            let p = day.parts(i)
            let e = expected(i, zone)
            #expect(p.date == e.0 && p.hour == e.1 && p.weekday == e.2, "\(zone) \(i.timeIntervalSince1970)")
            #expect(day(i) == e.0)
        }
        #expect(localDate(instants[0], timeZone: zone) == expected(instants[0], zone).0)
    }

    @Test("known days: 1970-01-01 was a Thursday; leap days; the day before the epoch")
    func knownDays() {
        let utc = LocalDay(timeZone: "UTC")
        #expect(utc.parts(Date(timeIntervalSince1970: 0)) == (LocalDate(year: 1970, month: 1, day: 1), 0, 3))
        #expect(utc(Date(timeIntervalSince1970: -1)) == LocalDate(year: 1969, month: 12, day: 31))
        #expect(utc(Date(timeIntervalSince1970: 951_782_400)) == LocalDate(year: 2000, month: 2, day: 29))
        #expect(utc(Date(timeIntervalSince1970: 4_107_542_400)) == LocalDate(year: 2100, month: 3, day: 1), "2100 is not a leap year")
        let moscow = LocalDay(timeZone: "Europe/Moscow")
        #expect(moscow.parts(Date(timeIntervalSince1970: 1_772_431_200)).hour == 9, "2026-03-02 06:00 UTC is 09:00 in Moscow")
        #expect(LocalDay(timeZone: "No/Such_Zone")(Date(timeIntervalSince1970: 0)) == LocalDate(year: 1970, month: 1, day: 1))
    }
}
