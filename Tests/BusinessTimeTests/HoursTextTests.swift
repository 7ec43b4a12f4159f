import BusinessTime
import Foundation
import Testing

@Suite("Working hours as text (the settings form)")
struct HoursTextTests {
    @Test("a day's intervals parse, with either dash, and format back to the same text")
    func roundTrip() throws {
        let split = try HoursText.parse("09:00-13:00, 14:00–18:30")
        #expect(split == [WorkingInterval(startMinute: 540, endMinute: 780), WorkingInterval(startMinute: 840, endMinute: 1110)])
        #expect(HoursText.format(split) == "09:00-13:00, 14:00-18:30")
        #expect(try HoursText.parse(HoursText.format(split)) == split)
        #expect(try HoursText.parse("0:00-24:00") == [WorkingInterval(startMinute: 0, endMinute: 1440)])
        #expect(try HoursText.parse("  ") == [], "an empty day is closed")
        #expect(try HoursText.parse("10-19") == [WorkingInterval(startMinute: 600, endMinute: 1140)], "whole hours may omit the minutes")
    }

    @Test("what cannot be hours says which part is wrong")
    func errors() {
        for (text, fragment) in [("9:00", "not an interval"), ("18:00-09:00", "ends before"), ("09:00-25:00", "not an interval"),
                                 ("09:60-10:00", "not an interval"), ("10:00-12:00, 11:00-13:00", "overlaps"),
                                 ("14:00-15:00, 09:00-10:00", "out of order"), ("ab:cd-10:00", "not an interval"),
                                 ("24:30-24:40", "not an interval")] {
            #expect(throws: HoursText.ParseError.self, "\(text)") { try HoursText.parse(text) }
            do { _ = try HoursText.parse(text) } catch { #expect(error.description.contains(fragment), "\(text): \(error)") }
        }
    }

    @Test("extra working days: one date with its hours per line")
    func days() throws {
        let days = try HoursText.parseDays("2026-11-28 10:00-15:00\n\n2026-12-26 09:00-12:00, 13:00-14:00\r\n")
        #expect(days.count == 2)
        #expect(days[LocalDate(year: 2026, month: 11, day: 28)] == [WorkingInterval(startMinute: 600, endMinute: 900)])
        #expect(HoursText.formatDays(days) == "2026-11-28 10:00-15:00\n2026-12-26 09:00-12:00, 13:00-14:00")
        #expect(try HoursText.parseDays(HoursText.formatDays(days)) == days)
        #expect(throws: HoursText.ParseError.self) { try HoursText.parseDays("2026-02-30 10:00-11:00") }
        #expect(throws: HoursText.ParseError.self) { try HoursText.parseDays("2026-11-28") }
        #expect(throws: HoursText.ParseError.self) { try HoursText.parseDays("2026-11-28 10:00-11:00\n2026-11-28 12:00-13:00") }
    }
}

@Suite("Prepared calendars")
struct PreparedCalendarTests {
    @Test("a prepared calendar counts and adds business seconds exactly as the calendar does")
    func sameAnswers() throws {
        var office = BusinessCalendar(id: "o", name: "Office", timeZone: "Europe/Moscow",
                                      week: [try HoursText.parse("09:00-13:00, 14:00-18:00")] + Array(repeating: try HoursText.parse("10:00-19:00"), count: 4) + [[], []])
        office.holidays = [LocalDate(year: 2026, month: 1, day: 1)]
        office.extraWorkingDays = [LocalDate(year: 2026, month: 1, day: 3): try HoursText.parse("10:00-15:00")]
        var rng = SystemRandomNumberGenerator()
        for calendar in [office, .twentyFourSeven(), .weekdays(id: "ny", name: "NY", timeZone: "America/New_York", from: 540, to: 1020)] {
            let prepared = calendar.prepared()
            for _ in 0..<300 {
                let a = Date(timeIntervalSince1970: 1_767_000_000 + Double(Int.random(in: 0...5_000_000, using: &rng)))
                let b = a.addingTimeInterval(Double(Int.random(in: -86_400...2_000_000, using: &rng)))
                #expect(prepared.businessSeconds(from: a, to: b) == calendar.businessSeconds(from: a, to: b))
                let n = Int64(Int.random(in: 0...400_000, using: &rng))
                #expect(prepared.adding(businessSeconds: n, to: a) == calendar.adding(businessSeconds: n, to: a))
            }
        }
    }
}
