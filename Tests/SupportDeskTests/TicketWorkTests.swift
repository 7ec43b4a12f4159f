import BusinessTime
import Foundation
import Testing
@testable import SupportDesk

@Suite("Splitting a comment out (R5)")
struct SplitTests {
    static let file = AttachmentRef(sha256: String(repeating: "cd", count: 32), filename: "export.png", contentType: "image/png", size: 999)
    /// Ticket 1 (Ivan, Acme) with a second question in comment 3 and one from his colleague in comment 5; ticket 2 is Gina's.
    let state = given(ticket1Answered + [
        commented(1, 3, by: c1, "Also, how do I export to CSV?", notify: [anna, c1], attachments: [Self.file]),
        commented(1, 4, by: anna, "Separate question", internal: true, notify: [anna]),
        commented(1, 5, by: c2, "And where is the invoice?", notify: [anna, c2]),
        opened(2, contact: "c3", organisation: "globex"),
    ])

    @Test func splitOpensTheNextTicketWithTheCommentsText() throws {
        let d = try Desk.decide(Command(actor: anna, .splitComment(ticket: 1, comment: 3, subject: "Export to CSV")), at: t0, state: state)
        #expect(d.events == [
            .commentSplitOff(CommentSplitOff(ticket: 1, comment: 3, newTicket: 3, by: "anna")),
            .ticketOpened(TicketOpened(ticket: 3, channel: .portal, subject: "Export to CSV", body: "Also, how do I export to CSV?",
                                       contact: "c1", organisation: "acme", language: "ru", openedBy: anna, premium: false,
                                       premiumRefused: nil, participants: workingStaff, tierId: "vip",
                                       // Wednesday 12:00 Moscow: +2 h, +8 h (7 today, 1 tomorrow), +2 h.
                                       reactionDue: utc("2025-03-05T14:00:00+03:00"), resolutionDue: utc("2025-03-06T11:00:00+03:00"),
                                       escalationDue: utc("2025-03-05T14:00:00+03:00"), attachments: [Self.file], externalId: nil,
                                       origin: TicketOrigin(splitFrom: 1, comment: 3))),
        ])
        #expect(d.outcome.ticket == 3)
        let after = then(state, d.events)
        #expect(after.tickets[1]?.splitOff == [3])
        #expect(after.tickets[3]?.origin == TicketOrigin(splitFrom: 1, comment: 3))
        #expect(after.lastTicketNumber == 3)
    }

    @Test func aColleaguesQuestionBecomesTheColleaguesTicket() throws {
        let t = openedPayload(try when(state, boris, .splitComment(ticket: 1, comment: 5, subject: nil)))
        #expect(t?.contact == "c2")
        #expect(t?.subject == "Printer on fire (split from #1)")
        #expect(t?.body == "And where is the invoice?")
        #expect(t?.openedBy == boris)
    }

    @Test func splitRefusals() {
        expectRefused(state, anna, .splitComment(ticket: 1, comment: 4, subject: nil), .invalid, "internal comments", "only client-visible")
        expectRefused(state, anna, .splitComment(ticket: 1, comment: 1, subject: nil), .notFound, "#1 has no comment 1 to split out")
        expectRefused(state, anna, .splitComment(ticket: 1, comment: 9, subject: nil), .notFound, "#1 has no comment 9")
        expectRefused(state, anna, .splitComment(ticket: 1, comment: 3, subject: " "), .invalid, "subject is empty")
        expectRefused(state, anna, .splitComment(ticket: 7, comment: 3, subject: nil), .notFound, "no ticket #7")
        expectRefused(state, auditor, .splitComment(ticket: 1, comment: 3, subject: nil), .forbidden, "auditors")
        expectRefused(state, c1, .splitComment(ticket: 1, comment: 3, subject: nil), .forbidden, "only staff")
        let merged = then(state, [.ticketMerged(TicketMerged(ticket: 1, into: 2, by: "anna"))])
        expectRefused(merged, anna, .splitComment(ticket: 1, comment: 3, subject: nil), .illegalTransition, "merged into #2")
    }

    @Test func aCommentIsSplitOutOnlyOnce() {
        let done = then(state, [
            .commentSplitOff(CommentSplitOff(ticket: 1, comment: 3, newTicket: 3, by: "anna")),
            opened(3, by: anna, subject: "Export to CSV", body: "Also, how do I export to CSV?"),
        ])
        expectRefused(done, boris, .splitComment(ticket: 1, comment: 3, subject: nil), .conflict)
    }
}

@Suite("Merging tickets (R5) and spam (R6)")
struct MergeAndSpamTests {
    let state = given(ticket1Accepted + [opened(2, subject: "Printer on fire!!")])

    @Test func mergeClosesTheDuplicate() throws {
        let d = try Desk.decide(Command(actor: anna, .mergeTicket(duplicate: 2, into: 1)), at: t0, state: state)
        #expect(d.events == [
            .ticketMerged(TicketMerged(ticket: 2, into: 1, by: "anna")),
            .duplicateMergedIn(DuplicateMergedIn(ticket: 1, duplicate: 2, by: "anna")),
            .statusChanged(StatusChanged(ticket: 2, from: .new, to: .closed, by: anna, reason: "merged into #1", until: nil)),
        ])
        #expect(d.outcome.ticket == 1)
        let after = then(state, d.events)
        #expect(after.tickets[2]?.mergedInto == 1 && after.tickets[1]?.merged == [2] && after.tickets[2]?.status == .closed)
        // An already closed duplicate is not closed again.
        let closed = then(state, [status(2, .new, .closed, by: manager)])
        #expect(try when(closed, boris, .mergeTicket(duplicate: 2, into: 1)) == [
            .ticketMerged(TicketMerged(ticket: 2, into: 1, by: "boris")),
            .duplicateMergedIn(DuplicateMergedIn(ticket: 1, duplicate: 2, by: "boris")),
        ])
    }

    @Test func mergeRefusals() {
        expectRefused(state, anna, .mergeTicket(duplicate: 1, into: 1), .invalid, "cannot be merged into itself")
        expectRefused(state, anna, .mergeTicket(duplicate: 2, into: 5), .notFound, "no ticket #5")
        expectRefused(state, anna, .mergeTicket(duplicate: 5, into: 1), .notFound, "no ticket #5")
        expectRefused(state, auditor, .mergeTicket(duplicate: 2, into: 1), .forbidden, "auditors")
        expectRefused(state, c1, .mergeTicket(duplicate: 2, into: 1), .forbidden, "only staff")
        let spamInto = then(state, [.markedAsSpam(MarkedAsSpam(ticket: 1, by: "anna"))])
        expectRefused(spamInto, anna, .mergeTicket(duplicate: 2, into: 1), .illegalTransition, "#1 is marked as spam")
        expectRefused(spamInto, anna, .mergeTicket(duplicate: 1, into: 2), .illegalTransition, "#1 is marked as spam")
        let three = then(state, [opened(3), .ticketMerged(TicketMerged(ticket: 3, into: 1, by: "anna"))])
        expectRefused(three, anna, .mergeTicket(duplicate: 2, into: 3), .illegalTransition, "#3 was merged into #1")
        expectRefused(three, anna, .mergeTicket(duplicate: 3, into: 2), .illegalTransition, "#3 was merged into #1")
    }

    @Test func spamLeavesTheQueues() throws {
        let events = try when(state, boris, .markSpam(ticket: 2))
        #expect(events == [
            .markedAsSpam(MarkedAsSpam(ticket: 2, by: "boris")),
            .statusChanged(StatusChanged(ticket: 2, from: .new, to: .closed, by: boris, reason: "spam", until: nil)),
        ])
        let after = then(state, events)
        #expect(after.tickets[2]?.spam == true && after.tickets[2]?.status == .closed)
        expectRefused(after, boris, .markSpam(ticket: 2), .conflict, "#2 is already marked as spam")
        let closed = then(state, [status(2, .new, .closed, by: manager)])
        #expect(try when(closed, anna, .markSpam(ticket: 2)) == [.markedAsSpam(MarkedAsSpam(ticket: 2, by: "anna"))])
        expectRefused(state, auditor, .markSpam(ticket: 2), .forbidden, "auditors")
        expectRefused(state, c1, .markSpam(ticket: 2), .forbidden, "only staff")
        expectRefused(state, anna, .markSpam(ticket: 9), .notFound, "no ticket #9")
    }
}

@Suite("Time logging (R15)")
struct TimeLogTests {
    /// Denis is not on ticket 1 at first.
    let outside = given(desk + [opened(1, participants: ["anna", "boris", "max", "olga"]), accepted(1)])
    var inside: DeskState {
        then(outside, [.participantAdded(ParticipantAdded(ticket: 1, staff: "dev", role: .participant, by: anna))])
    }

    @Test func developersLogTimeOnTicketsTheyAreOn() throws {
        let day = LocalDate(year: 2025, month: 3, day: 4)
        expectRefused(outside, developer, .logTime(ticket: 1, minutes: 90, on: day, note: nil), .forbidden, "join #1")
        #expect(try when(inside, developer, .logTime(ticket: 1, minutes: 90, on: day, note: "debugging")) == [
            .timeLogged(TimeLogged(ticket: 1, staff: "dev", minutes: 90, on: day, note: "debugging")),
        ])
        // A co-executor is on the ticket too.
        let co = then(outside, [.participantAdded(ParticipantAdded(ticket: 1, staff: "dev", role: .coExecutor, by: anna))])
        #expect(try when(co, developer, .logTime(ticket: 1, minutes: 1, on: day, note: nil)).count == 1)
    }

    @Test("the day defaults to the command's date in the account's time zone")
    func defaultDay() throws {
        // 22:30 UTC on the 5th is 01:30 on the 6th in Moscow.
        #expect(try when(inside, developer, .logTime(ticket: 1, minutes: 30, on: nil, note: nil), at: utc("2025-03-05T22:30:00Z")) == [
            .timeLogged(TimeLogged(ticket: 1, staff: "dev", minutes: 30, on: LocalDate(year: 2025, month: 3, day: 6), note: nil)),
        ])
    }

    @Test func minutesAreOneToADay() throws {
        for minutes in [0, -5, 1441] {
            expectRefused(inside, developer, .logTime(ticket: 1, minutes: minutes, on: nil, note: nil), .invalid, "1…1440 minutes")
        }
        for minutes in [1, 1440] {
            #expect(throws: Never.self) { try when(inside, developer, .logTime(ticket: 1, minutes: minutes, on: nil, note: nil)) }
        }
        expectRefused(inside, developer, .logTime(ticket: 1, minutes: 10, on: LocalDate(year: 2025, month: 2, day: 30), note: nil),
                      .invalid, "2025-02-30 does not exist")
        expectRefused(inside, developer, .logTime(ticket: 2, minutes: 10, on: nil, note: nil), .notFound, "no ticket #2")
        expectRefused(inside, auditor, .logTime(ticket: 1, minutes: 10, on: nil, note: nil), .forbidden, "auditors")
        expectRefused(inside, c1, .logTime(ticket: 1, minutes: 10, on: nil, note: nil), .forbidden, "only staff")
    }
}

@Suite("Client ratings (R24)")
struct RatingTests {
    let state = given(ticket1Answered + [commented(1, 3, by: anna, "note to self", internal: true, notify: [anna])])

    @Test func theTicketsContactRatesAnAnswer() throws {
        #expect(try when(state, c1, .rateAnswer(ticket: 1, comment: nil, score: 5, text: "Спасибо!")) == [
            .answerRated(AnswerRated(ticket: 1, contact: "c1", comment: nil, score: 5, text: "Спасибо!")),
        ])
        #expect(try when(state, c1, .rateAnswer(ticket: 1, comment: 2, score: 1, text: "")) == [
            .answerRated(AnswerRated(ticket: 1, contact: "c1", comment: 2, score: 1, text: "")),
        ])
    }

    @Test func ratingRefusals() {
        expectRefused(state, c1, .rateAnswer(ticket: 1, comment: nil, score: 0, text: nil), .invalid, "a rating is 1…5")
        expectRefused(state, c1, .rateAnswer(ticket: 1, comment: nil, score: 6, text: nil), .invalid, "a rating is 1…5")
        expectRefused(state, c1, .rateAnswer(ticket: 1, comment: nil, score: 4, text: String(repeating: "!", count: 5001)),
                      .invalid, "rating text", "5000")
        expectRefused(state, c1, .rateAnswer(ticket: 1, comment: 1, score: 4, text: nil), .notFound, "#1 has no answer 1 to rate")
        expectRefused(state, c1, .rateAnswer(ticket: 1, comment: 3, score: 4, text: nil), .notFound, "#1 has no answer 3 to rate")
        expectRefused(state, c1, .rateAnswer(ticket: 1, comment: 8, score: 4, text: nil), .notFound, "no answer 8")
        expectRefused(given(ticket1Accepted), c1, .rateAnswer(ticket: 1, comment: nil, score: 4, text: nil), .conflict, "no answer to rate yet")
        let internalOnly = given(ticket1Accepted + [commented(1, 2, by: anna, "hm", internal: true, notify: [anna])])
        expectRefused(internalOnly, c1, .rateAnswer(ticket: 1, comment: nil, score: 4, text: nil), .conflict, "no answer to rate yet")
        expectRefused(state, anna, .rateAnswer(ticket: 1, comment: nil, score: 5, text: nil), .forbidden, "only clients rate")
        expectRefused(state, mailer, .rateAnswer(ticket: 1, comment: nil, score: 5, text: nil), .forbidden, "only clients rate")
        expectRefused(state, c3, .rateAnswer(ticket: 1, comment: nil, score: 1, text: nil), .notFound, "no ticket #1")
        expectRefused(state, c1, .rateAnswer(ticket: 2, comment: nil, score: 1, text: nil), .notFound, "no ticket #2")
    }

    @Test("only the ticket's contact rates, not a colleague who can see it")
    func colleaguesDoNotRate() {
        let shared = then(state, [.visibilitySet(VisibilitySet(settings: VisibilitySettings(organisationSharing: true)))])
        expectRefused(shared, c2, .rateAnswer(ticket: 1, comment: 2, score: 1, text: "meh"), .forbidden)
    }
}
