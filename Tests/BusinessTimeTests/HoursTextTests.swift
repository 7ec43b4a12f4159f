import BusinessTime
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
