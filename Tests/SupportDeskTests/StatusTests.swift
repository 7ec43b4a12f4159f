import BusinessTime
import Foundation
import Testing
@testable import SupportDesk

/// One status transition asked for by Anna, who holds ticket 1.
struct Transition: Sendable, CustomTestStringConvertible {
    var from: TicketStatus
    var to: TicketStatus
    var allowed: Bool
    var testDescription: String { "\(from.rawValue) → \(to.rawValue): \(allowed ? "allowed" : "refused")" }
}

@Suite("Statuses (R14)")
struct StatusTests {
    static let transitions: [Transition] = [
        // Allowed.
        Transition(from: .accepted, to: .waitingForClient, allowed: true),
        Transition(from: .accepted, to: .postponed, allowed: true),
        Transition(from: .accepted, to: .resolved, allowed: true),
        Transition(from: .waitingForClient, to: .accepted, allowed: true),
        Transition(from: .waitingForClient, to: .postponed, allowed: true),
        Transition(from: .waitingForClient, to: .resolved, allowed: true),
        Transition(from: .postponed, to: .accepted, allowed: true),
        Transition(from: .postponed, to: .waitingForClient, allowed: true),
        Transition(from: .postponed, to: .resolved, allowed: true),
        Transition(from: .reopened, to: .accepted, allowed: true),
        Transition(from: .reopened, to: .waitingForClient, allowed: true),
        Transition(from: .reopened, to: .postponed, allowed: true),
        Transition(from: .reopened, to: .resolved, allowed: true),
        Transition(from: .resolved, to: .reopened, allowed: true),
        Transition(from: .closed, to: .reopened, allowed: true),
        // Refused.
        Transition(from: .accepted, to: .reopened, allowed: false),
        Transition(from: .accepted, to: .new, allowed: false),
        Transition(from: .waitingForClient, to: .reopened, allowed: false),
        Transition(from: .resolved, to: .accepted, allowed: false),
        Transition(from: .resolved, to: .waitingForClient, allowed: false),
        Transition(from: .resolved, to: .postponed, allowed: false),
        Transition(from: .closed, to: .accepted, allowed: false),
        Transition(from: .closed, to: .resolved, allowed: false),
        Transition(from: .closed, to: .new, allowed: false),
    ]

    static let until = t0.addingTimeInterval(3 * 86_400 + 0.5)

    @Test(arguments: transitions)
    func transition(_ tr: Transition) throws {
        var events = ticket1Accepted
        if tr.from != .accepted { events.append(status(1, .accepted, tr.from)) }
        let state = given(events)
        let body = CommandBody.changeStatus(ticket: 1, to: tr.to, reason: "because", until: Self.until)
        if tr.allowed {
            let expected = StatusChanged(ticket: 1, from: tr.from, to: tr.to, by: anna, reason: "because",
                                         until: tr.to == .postponed ? Desk.wholeSeconds(Self.until) : nil)
            #expect(try when(state, anna, body) == [.statusChanged(expected)])
        } else {
            expectRefused(state, anna, body, .illegalTransition, "#1 cannot go from \(tr.from.rawValue) to \(tr.to.rawValue)")
        }
    }

    @Test func postponingNeedsAFutureDate() throws {
        let state = given(ticket1Accepted)
        expectRefused(state, anna, .changeStatus(ticket: 1, to: .postponed, reason: nil, until: nil), .invalid, "future 'until'")
        expectRefused(state, anna, .changeStatus(ticket: 1, to: .postponed, reason: nil, until: t0), .invalid, "future 'until'")
        #expect(try when(state, anna, .changeStatus(ticket: 1, to: .postponed, reason: nil, until: utc("2025-03-12T09:00:00Z"))) == [
            .statusChanged(StatusChanged(ticket: 1, from: .accepted, to: .postponed, by: anna, reason: nil, until: utc("2025-03-12T09:00:00Z"))),
        ])
        // `until` means nothing for other statuses.
        #expect(try when(state, anna, .changeStatus(ticket: 1, to: .resolved, reason: nil, until: utc("2025-03-12T09:00:00Z"))) == [
            .statusChanged(StatusChanged(ticket: 1, from: .accepted, to: .resolved, by: anna, reason: nil, until: nil)),
        ])
    }

    @Test func whoChangesTheStatus() throws {
        let state = given(ticket1Accepted + [.participantAdded(ParticipantAdded(ticket: 1, staff: "dev", role: .coExecutor, by: anna))])
        let resolve = CommandBody.changeStatus(ticket: 1, to: .resolved, reason: nil, until: nil)
        expectRefused(state, boris, resolve, .forbidden, "only the responsible, a co-executor or a manager")
        #expect(try when(state, developer, resolve).count == 1)
        #expect(try when(state, manager, resolve).count == 1)
        expectRefused(state, auditor, resolve, .forbidden, "auditors")
        expectRefused(state, c1, resolve, .forbidden, "only staff")
        // Anyone on the staff may reopen.
        let closed = given(ticket1Accepted + [status(1, .accepted, .closed)])
        #expect(try when(closed, boris, .changeStatus(ticket: 1, to: .reopened, reason: "client called", until: nil)) == [
            .statusChanged(StatusChanged(ticket: 1, from: .closed, to: .reopened, by: boris, reason: "client called", until: nil)),
        ])
    }

    @Test func statusRefusals() {
        let state = given(ticket1Accepted)
        expectRefused(state, anna, .changeStatus(ticket: 1, to: .accepted, reason: nil, until: nil), .conflict, "#1 is already accepted")
        expectRefused(state, anna, .changeStatus(ticket: 1, to: .closed, reason: nil, until: nil), .invalid, "use close")
        expectRefused(state, anna, .changeStatus(ticket: 2, to: .resolved, reason: nil, until: nil), .notFound, "no ticket #2")
        // Unaccepted tickets: accept them instead.
        let fresh = given(desk + [opened(1)])
        expectRefused(fresh, anna, .changeStatus(ticket: 1, to: .accepted, reason: nil, until: nil), .illegalTransition, "accept it instead")
        expectRefused(fresh, manager, .changeStatus(ticket: 1, to: .waitingForClient, reason: nil, until: nil),
                      .illegalTransition, "cannot go from new to waiting-for-client")
        // Reopened by the client after a manager closed it unheld: somebody must accept it first.
        let unheld = given(desk + [opened(1), status(1, .new, .closed, by: manager), status(1, .closed, .reopened, by: c1)])
        expectRefused(unheld, manager, .changeStatus(ticket: 1, to: .resolved, reason: nil, until: nil), .illegalTransition, "accept #1 first")
        let spam = given(ticket1Accepted + [.markedAsSpam(MarkedAsSpam(ticket: 1, by: "anna"))])
        expectRefused(spam, anna, .changeStatus(ticket: 1, to: .resolved, reason: nil, until: nil), .illegalTransition, "marked as spam")
        let merged = given(ticket1Accepted + [opened(2), .ticketMerged(TicketMerged(ticket: 1, into: 2, by: "anna"))])
        expectRefused(merged, anna, .changeStatus(ticket: 1, to: .resolved, reason: nil, until: nil), .illegalTransition, "merged into #2")
    }
}

@Suite("Closing and the answer evaluation (R22)")
struct CloseTests {
    @Test("the responsible who answered evaluates the answer when closing")
    func closeWithEvaluation() throws {
        let state = given(ticket1Answered)
        #expect(try when(state, anna, .close(ticket: 1, evaluation: evaluation, reason: "solved")) == [
            .statusChanged(StatusChanged(ticket: 1, from: .accepted, to: .closed, by: anna, reason: "solved", until: nil)),
            .answerEvaluated(AnswerEvaluated(ticket: 1, staff: "anna", evaluation: evaluation)),
        ])
        expectRefused(state, anna, .close(ticket: 1, evaluation: nil, reason: nil), .invalid, "evaluate your answer to close #1")
        // An internal note is no answer to the client.
        let onlyInternal = given(ticket1Accepted + [commented(1, 2, by: anna, "hm", internal: true, notify: [anna])])
        #expect(try when(onlyInternal, anna, .close(ticket: 1, evaluation: nil, reason: nil)) == [
            .statusChanged(StatusChanged(ticket: 1, from: .accepted, to: .closed, by: anna, reason: nil, until: nil)),
        ])
        expectRefused(onlyInternal, anna, .close(ticket: 1, evaluation: evaluation, reason: nil), .invalid, "not answered the client on #1")
        // Once evaluated (closed, reopened, resolved again) a second evaluation is optional.
        let again = given(ticket1Answered + [status(1, .accepted, .closed),
                                             .answerEvaluated(AnswerEvaluated(ticket: 1, staff: "anna", evaluation: evaluation)),
                                             status(1, .closed, .reopened, by: c1), status(1, .reopened, .resolved)])
        #expect(try when(again, anna, .close(ticket: 1, evaluation: nil, reason: nil)) == [
            .statusChanged(StatusChanged(ticket: 1, from: .resolved, to: .closed, by: anna, reason: nil, until: nil)),
        ])
    }

    @Test func evaluationRanges() throws {
        let state = given(ticket1Answered)
        func close(_ e: AnswerEvaluation) -> CommandBody { .close(ticket: 1, evaluation: e, reason: nil) }
        expectRefused(state, anna, close(AnswerEvaluation(kind: 0, volume: .short)), .invalid, "answer kind is 1…5")
        expectRefused(state, anna, close(AnswerEvaluation(kind: 6, volume: .short)), .invalid, "answer kind is 1…5")
        expectRefused(state, anna, close(AnswerEvaluation(kind: 1, volume: .short, help: 0)), .invalid, "help involvement is 1…3")
        expectRefused(state, anna, close(AnswerEvaluation(kind: 1, volume: .short, help: 4)), .invalid, "help involvement is 1…3")
        expectRefused(state, anna, close(AnswerEvaluation(kind: 1, volume: .short, links: -1)), .invalid, "links and screenshots")
        expectRefused(state, anna, close(AnswerEvaluation(kind: 1, volume: .short, screenshots: 1001)), .invalid, "links and screenshots")
        for e in [AnswerEvaluation(kind: 1, volume: .short, links: 0, screenshots: 1000, help: 3),
                  AnswerEvaluation(kind: 5, volume: .long, links: 1000, screenshots: 0, help: 1)] {
            #expect(try when(state, anna, close(e)).last == .answerEvaluated(AnswerEvaluated(ticket: 1, staff: "anna", evaluation: e)))
        }
    }

    @Test func whoCloses() throws {
        let state = given(ticket1Answered)
        expectRefused(state, boris, .close(ticket: 1, evaluation: nil, reason: nil), .forbidden, "only the responsible (Anna Petrova) or a manager")
        expectRefused(state, auditor, .close(ticket: 1, evaluation: nil, reason: nil), .forbidden, "auditors")
        expectRefused(state, c1, .close(ticket: 1, evaluation: nil, reason: nil), .forbidden, "only staff")
        // A manager who did not answer closes without evaluating (nothing of theirs to evaluate).
        #expect(try when(state, manager, .close(ticket: 1, evaluation: nil, reason: "stale")) == [
            .statusChanged(StatusChanged(ticket: 1, from: .accepted, to: .closed, by: manager, reason: "stale", until: nil)),
        ])
        expectRefused(state, manager, .close(ticket: 1, evaluation: evaluation, reason: nil), .invalid, "not answered")
        // An unheld ticket: nobody but a manager.
        let fresh = given(desk + [opened(1)])
        expectRefused(fresh, anna, .close(ticket: 1, evaluation: nil, reason: nil), .forbidden, "(nobody)")
        #expect(try when(fresh, manager, .close(ticket: 1, evaluation: nil, reason: nil)) == [
            .statusChanged(StatusChanged(ticket: 1, from: .new, to: .closed, by: manager, reason: nil, until: nil)),
        ])
    }

    @Test func closeRefusals() {
        let closed = given(ticket1Answered + [status(1, .accepted, .closed)])
        expectRefused(closed, anna, .close(ticket: 1, evaluation: evaluation, reason: nil), .conflict, "#1 is already closed")
        expectRefused(closed, anna, .close(ticket: 2, evaluation: evaluation, reason: nil), .notFound, "no ticket #2")
        let spam = given(ticket1Answered + [.markedAsSpam(MarkedAsSpam(ticket: 1, by: "anna"))])
        expectRefused(spam, anna, .close(ticket: 1, evaluation: evaluation, reason: nil), .illegalTransition, "spam")
        let merged = given(ticket1Answered + [opened(2), .ticketMerged(TicketMerged(ticket: 1, into: 2, by: "anna"))])
        expectRefused(merged, anna, .close(ticket: 1, evaluation: evaluation, reason: nil), .illegalTransition, "merged into #2")
    }
}

@Suite("Classification and levels (R16, R17)")
struct ClassificationTests {
    let state = given(ticket1Accepted + [
        .ticketClassified(TicketClassified(ticket: 1, classification: Classification(type: .incident, direction: "Billing"), by: "anna")),
    ])

    @Test func classifyMergesTheChange() throws {
        let change = Classification(firstLine: .technical, directionType: "Invoices", complexity: 3, criticality: .high,
                                    plannedMinutes: 90, expectedDate: LocalDate(year: 2025, month: 3, day: 14))
        #expect(try when(state, boris, .classify(ticket: 1, change)) == [
            .ticketClassified(TicketClassified(ticket: 1, classification: Classification(
                type: .incident, firstLine: .technical, direction: "Billing", directionType: "Invoices", complexity: 3,
                criticality: .high, plannedMinutes: 90, expectedDate: LocalDate(year: 2025, month: 3, day: 14)), by: "boris")),
        ])
        #expect(try when(state, anna, .classify(ticket: 1, Classification(type: .outage))) == [
            .ticketClassified(TicketClassified(ticket: 1, classification: Classification(type: .outage, direction: "Billing"), by: "anna")),
        ])
    }

    @Test func classifyRefusals() {
        expectRefused(state, anna, .classify(ticket: 1, Classification(complexity: 0)), .invalid, "complexity is 1…5")
        expectRefused(state, anna, .classify(ticket: 1, Classification(complexity: 6)), .invalid, "complexity is 1…5")
        expectRefused(state, anna, .classify(ticket: 1, Classification(plannedMinutes: -1)), .invalid, "planned effort")
        expectRefused(state, anna, .classify(ticket: 1, Classification(plannedMinutes: 100_001)), .invalid, "planned effort")
        expectRefused(state, anna, .classify(ticket: 1, Classification(expectedDate: LocalDate(year: 2025, month: 2, day: 29))),
                      .invalid, "expected date 2025-02-29 does not exist")
        let bare = given(ticket1Accepted)
        expectRefused(bare, anna, .classify(ticket: 1, Classification(directionType: "Invoices")), .invalid, "needs a direction")
        expectRefused(state, anna, .classify(ticket: 1, Classification(type: .incident)), .conflict, "nothing to change")
        expectRefused(state, anna, .classify(ticket: 1, Classification()), .conflict, "nothing to change")
        expectRefused(state, auditor, .classify(ticket: 1, Classification(type: .outage)), .forbidden, "auditors")
        expectRefused(state, c1, .classify(ticket: 1, Classification(type: .outage)), .forbidden, "only staff")
        expectRefused(state, anna, .classify(ticket: 3, Classification(type: .outage)), .notFound, "no ticket #3")
    }

    @Test func changeLevel() throws {
        #expect(try when(state, anna, .changeLevel(ticket: 1, to: .l3)) == [
            .levelChanged(LevelChanged(ticket: 1, from: .l1, to: .l3, by: "anna")),
        ])
        let l2 = given(ticket1Accepted + [.levelChanged(LevelChanged(ticket: 1, from: .l1, to: .l2, by: "anna"))])
        #expect(try when(l2, boris, .changeLevel(ticket: 1, to: .l1)) == [
            .levelChanged(LevelChanged(ticket: 1, from: .l2, to: .l1, by: "boris")),
        ])
        expectRefused(l2, anna, .changeLevel(ticket: 1, to: .l2), .conflict, "#1 is already at L2")
        expectRefused(state, auditor, .changeLevel(ticket: 1, to: .l2), .forbidden, "auditors")
        expectRefused(state, anna, .changeLevel(ticket: 4, to: .l2), .notFound, "no ticket #4")
        let spam = given(ticket1Accepted + [.markedAsSpam(MarkedAsSpam(ticket: 1, by: "anna"))])
        expectRefused(spam, anna, .changeLevel(ticket: 1, to: .l2), .illegalTransition, "spam")
    }
}
