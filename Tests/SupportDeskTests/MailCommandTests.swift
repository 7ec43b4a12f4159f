import BusinessTime
import Foundation
import Testing
@testable import SupportDesk

// receiveMail: an e-mail from the intake becomes a reply in its thread, a new ticket, or (automatic
// mail, mail from staff, replies about spam) a record only. Given events / when receiveMail / then events.

/// A SHA-256 in lowercase hex, as the blob store names the raw message.
let rawSha = String(repeating: "5e", count: 32)

/// An inbound mail with the usual defaults.
func inbound(_ from: String, name: String? = nil, id: String = "m1@mail.example", subject: String = "Printer on fire",
             text: String = "It smokes. What now?", attachments: [AttachmentRef] = [], raw: String = rawSha,
             automatic: String? = nil, thread: TicketNumber? = nil, via: String? = nil, subjectTicket: TicketNumber? = nil,
             language: String? = nil) -> CommandBody {
    .receiveMail(InboundMail(messageId: id, from: from, fromName: name, subject: subject, text: text, attachments: attachments,
                             raw: raw, automatic: automatic, thread: thread, threadVia: via, subjectTicket: subjectTicket,
                             language: language))
}

/// The `MailReceived` record.
func received(_ id: String = "m1@mail.example", from: String, subject: String = "Printer on fire", ticket: TicketNumber?,
              comment: CommentNumber?, by threadedBy: String, note: String? = nil) -> DeskEvent {
    .mailReceived(MailReceived(messageId: id, from: from, subject: subject, raw: rawSha, ticket: ticket, comment: comment,
                               threadedBy: threadedBy, note: note))
}

/// A ticket opened by the mail intake, with the due times the desk computes for `organisation` at `t0`.
/// The sender opened it (whoever posted the mail): its first comment is the client's.
func mailOpened(_ n: TicketNumber, contact: ContactId, organisation: OrganisationId?, in state: DeskState, language: String = "ru",
                subject: String = "Printer on fire", body: String = "It smokes. What now?",
                id: String = "m1@mail.example", attachments: [AttachmentRef] = []) -> DeskEvent {
    let due = Desk.dueTimes(state: state, organisation: organisation, at: t0)
    return .ticketOpened(TicketOpened(ticket: n, channel: .email, subject: subject, body: body, contact: contact,
                                      organisation: organisation, language: language, openedBy: .contact(contact), premium: false,
                                      premiumRefused: nil, participants: workingStaff, tierId: due.tier, reactionDue: due.reaction,
                                      resolutionDue: due.resolution, escalationDue: due.escalation, attachments: attachments,
                                      externalId: id, origin: nil))
}

/// A reply that came by e-mail.
func mailComment(_ n: TicketNumber, _ number: CommentNumber, by author: Party, _ text: String = "It smokes. What now?",
                 notify: [Party], id: String = "m1@mail.example", attachments: [AttachmentRef] = []) -> DeskEvent {
    .commentAdded(CommentAdded(ticket: n, comment: number, author: author, text: text, isInternal: false, notify: notify,
                               attachments: attachments, channel: .email, externalId: id))
}

/// The status change a client's reply causes.
func clientReplied(_ n: TicketNumber, _ from: TicketStatus, _ to: TicketStatus, by: Party) -> DeskEvent {
    .statusChanged(StatusChanged(ticket: n, from: from, to: to, by: by, reason: "the client replied", until: nil))
}

let pdf = AttachmentRef(sha256: String(repeating: "ab", count: 32), filename: "photo.jpg", contentType: "image/jpeg", size: 2048)

@Suite("receiveMail: new tickets")
struct MailNewTicketTests {
    let state = given(desk)

    @Test("an unknown sender becomes an automatic contact of the organisation of their domain, and opens a ticket")
    func unknownSender() throws {
        let d = try Desk.decide(Command(actor: mailer, inbound("Nina.Novak@Acme.Example", name: "Nina Novak")), at: t0, state: state)
        #expect(d.events == [
            .contactCreated(ContactCreated(contact: "auto-4", name: "Nina Novak", emails: ["nina.novak@acme.example"], phones: [],
                                           organisation: "acme", language: "ru", automatic: true)),
            mailOpened(1, contact: "auto-4", organisation: "acme", in: state),
            received(from: "nina.novak@acme.example", ticket: 1, comment: 1, by: "new"),
        ])
        #expect(d.outcome.ticket == 1 && d.outcome.contact == "auto-4" && d.outcome.comment == nil)
        let opened = try #require(openedPayload(d.events))
        #expect(opened.channel == .email && opened.externalId == "m1@mail.example" && opened.tierId == "vip")
        #expect(d.events.map(\.stream) == ["contact-auto-4", "ticket-1", "ticket-1"])

        let after = then(state, d.events)
        #expect(after.contactByEmail["nina.novak@acme.example"] == "auto-4")
        #expect(after.contacts["auto-4"]?.automatic == true)
        let t = try #require(after.tickets[1])
        #expect(t.channel == .email && t.contact == "auto-4" && t.organisation == "acme")
        #expect(t.lastMessageId == "m1@mail.example")
        #expect(t.version == 2)
        #expect(after.mailVersion == 0, "mail that became a ticket lives on the ticket's stream")
        #expect(t.comments.map(\.text) == ["It smokes. What now?"])
        #expect(t.comments.first?.author == .contact("auto-4"), "the opening message is the client's, not the mail gateway's")
        #expect(t.comments.first?.notify == workingStaff.map(Party.staff) + [.contact("auto-4")])
    }

    @Test("an unknown sender without a name is named after the address; an unknown domain means no organisation")
    func unknownSenderOfNoOrganisation() throws {
        let events = try when(state, mailer, inbound("Bob@Example.org", name: "", language: "en"))
        #expect(events == [
            .contactCreated(ContactCreated(contact: "auto-4", name: "Bob", emails: ["bob@example.org"], phones: [],
                                           organisation: nil, language: "en", automatic: true)),
            mailOpened(1, contact: "auto-4", organisation: nil, in: state, language: "en"),
            received(from: "bob@example.org", ticket: 1, comment: 1, by: "new"),
        ])
        #expect(openedPayload(events)?.tierId == "standard", "the default tier applies")
    }

    @Test("a known address is the existing contact: no new contact")
    func knownSender() throws {
        let d = try Desk.decide(Command(actor: mailer, inbound(" IVAN@acme.example ")), at: t0, state: state)
        #expect(d.events == [
            mailOpened(1, contact: "c1", organisation: "acme", in: state),
            received(from: "ivan@acme.example", ticket: 1, comment: 1, by: "new"),
        ])
        #expect(d.outcome.contact == "c1" && d.outcome.ticket == 1)
        // The mail's language wins for the ticket; the contact keeps theirs.
        let english = try when(state, mailer, inbound("gina@globex.example", language: "de"))
        #expect(english.map(\.type) == ["TicketOpened", "MailReceived"])
        #expect(openedPayload(english)?.language == "de" && openedPayload(english)?.organisation == "globex")
        #expect(openedPayload(try when(state, mailer, inbound("gina@globex.example")))?.language == "en")
    }

    @Test("the next ticket number follows the last one")
    func nextNumber() throws {
        let s = given(desk + [opened(1), opened(2)])
        let events = try when(s, mailer, inbound("ivan@acme.example"))
        #expect(openedPayload(events)?.ticket == 3)
        #expect(events.last == received(from: "ivan@acme.example", ticket: 3, comment: 1, by: "new"))
    }

    @Test("mail from a merged-away contact's address belongs to the survivor")
    func mergedContactsAddress() throws {
        let s = given(desk + [
            .contactCreated(ContactCreated(contact: "auto-4", name: "dup", emails: ["ivan.home@mail.example"], phones: [],
                                           organisation: nil, language: "ru", automatic: true)),
            .contactMerged(ContactMerged(contact: "auto-4", into: "c1")),
            .contactAbsorbed(ContactAbsorbed(contact: "c1", duplicate: "auto-4", emails: ["ivan.home@mail.example"], phones: [])),
        ])
        let events = try when(s, mailer, inbound("ivan.home@mail.example"))
        #expect(events.map(\.type) == ["TicketOpened", "MailReceived"])
        #expect(openedPayload(events)?.contact == "c1" && openedPayload(events)?.organisation == "acme")
    }

    @Test("attachments go with the opening message; an empty or blank text without attachments reads '(empty message)'")
    func attachmentsAndEmptyText() throws {
        for blank in ["", " ", "\n\t \r\n"] {
            // With an attachment the text is kept as it came …
            #expect(try when(state, mailer, inbound("ivan@acme.example", text: blank, attachments: [pdf])) == [
                mailOpened(1, contact: "c1", organisation: "acme", in: state, body: blank, attachments: [pdf]),
                received(from: "ivan@acme.example", ticket: 1, comment: 1, by: "new"),
            ])
            // … without one there is nothing to read.
            #expect(try when(state, mailer, inbound("ivan@acme.example", text: blank)) == [
                mailOpened(1, contact: "c1", organisation: "acme", in: state, body: "(empty message)"),
                received(from: "ivan@acme.example", ticket: 1, comment: 1, by: "new"),
            ])
        }
        // Text with surrounding blanks is not empty: it is kept untouched.
        #expect(openedPayload(try when(state, mailer, inbound("ivan@acme.example", text: "\n  Help \n")))?.body == "\n  Help \n")
    }

    @Test("an empty subject reads '(no subject)' on the ticket; the record keeps the subject as it came")
    func subjects() throws {
        for raw in ["", "   ", "\n\t"] {
            let events = try when(state, mailer, inbound("ivan@acme.example", subject: raw))
            #expect(openedPayload(events)?.subject == "(no subject)")
            #expect(events.last == received(from: "ivan@acme.example", subject: raw, ticket: 1, comment: 1, by: "new"))
        }
        let trimmed = try when(state, mailer, inbound("ivan@acme.example", subject: "  Printer on fire \n"))
        #expect(openedPayload(trimmed)?.subject == "Printer on fire")
        // Exactly the longest subject passes (the intake cuts longer ones).
        let longest = String(repeating: "ж", count: Desk.maxSubjectLength)
        #expect(openedPayload(try when(state, mailer, inbound("ivan@acme.example", subject: longest)))?.subject == longest)
    }

    @Test("an admin may post mail too; the ticket is still opened by the sender, not by the admin")
    func adminPostsMail() throws {
        let events = try when(state, admin, inbound("ivan@acme.example"))
        #expect(events == [
            mailOpened(1, contact: "c1", organisation: "acme", in: state),
            received(from: "ivan@acme.example", ticket: 1, comment: 1, by: "new"),
        ])
        #expect(openedPayload(events)?.openedBy == c1)
        #expect(then(state, events).tickets[1]?.comments.first?.author == c1)
    }
}

@Suite("receiveMail: threading into a ticket")
struct MailThreadTests {
    /// Ticket 1 (c1, Acme) accepted by Anna; Boris asked the client, copying Denis.
    let borisAsked = given(ticket1Accepted + [
        commented(1, 2, by: boris, "Which model?", notify: [.contact("c1"), .staff("dev"), .staff("boris")]),
    ])

    @Test("a CC'd stranger replying through our token: a new contact writes on the threaded ticket")
    func tokenFromANewAddress() throws {
        let d = try Desk.decide(Command(actor: mailer, inbound("hans@globex.example", name: "Hans Weber", id: "r1@globex.example",
                                                               subject: "Re: [#1] Printer on fire", text: "Same here.",
                                                               thread: 1, via: "token")),
                                at: t0, state: borisAsked)
        #expect(d.events == [
            .contactCreated(ContactCreated(contact: "auto-4", name: "Hans Weber", emails: ["hans@globex.example"], phones: [],
                                           organisation: "globex", language: "ru", automatic: true)),
            // The staff of the previous comment, then the responsible, then the author.
            mailComment(1, 3, by: .contact("auto-4"), "Same here.",
                        notify: [.staff("dev"), .staff("boris"), .staff("anna"), .contact("auto-4")], id: "r1@globex.example"),
            received("r1@globex.example", from: "hans@globex.example", subject: "Re: [#1] Printer on fire", ticket: 1, comment: 3,
                     by: "token"),
        ])
        #expect(d.outcome.ticket == 1 && d.outcome.comment == 3 && d.outcome.contact == "auto-4")
        #expect(d.events.map(\.stream) == ["contact-auto-4", "ticket-1", "ticket-1"])

        let after = then(borisAsked, d.events)
        let t = try #require(after.tickets[1])
        #expect(t.comments.last?.author == .contact("auto-4"))
        #expect(t.lastMessageId == "r1@globex.example")
        #expect(t.status == .accepted)
        #expect(t.version == borisAsked.tickets[1]!.version + 2)
    }

    @Test("a reference thread (or an unnamed one) is recorded as 'reference'")
    func referenceThread() throws {
        for via in ["reference", nil] {
            let events = try when(borisAsked, mailer, inbound("ivan@acme.example", thread: 1, via: via))
            #expect(events == [
                mailComment(1, 3, by: c1, notify: [.staff("dev"), .staff("boris"), .staff("anna"), .contact("c1")]),
                received(from: "ivan@acme.example", ticket: 1, comment: 3, by: "reference"),
            ])
        }
    }

    @Test("a thread wins over a subject number, and the subject number is then not needed")
    func threadBeforeSubject() throws {
        let events = try when(borisAsked, mailer, inbound("ivan@acme.example", thread: 1, via: "token", subjectTicket: 1))
        #expect(events.last == received(from: "ivan@acme.example", ticket: 1, comment: 3, by: "token"))
    }

    @Test("an empty or blank reply reads '(empty message)'; with attachments the text is kept")
    func emptyReply() throws {
        for blank in ["", "  ", "\r\n\t"] {
            #expect(commentPayload(try when(borisAsked, mailer, inbound("ivan@acme.example", text: blank, thread: 1, via: "token")))?.text
                == "(empty message)")
            let withFile = try #require(commentPayload(try when(borisAsked, mailer, inbound("ivan@acme.example", text: blank,
                                                                                            attachments: [pdf], thread: 1, via: "token"))))
            #expect(withFile.text == blank && withFile.attachments == [pdf])
        }
    }

    @Test("R14: a mailed reply brings a waiting, postponed, resolved or closed ticket back to work")
    func replyChangesStatus() throws {
        func reply(from st: TicketStatus, held: Bool = true) throws -> [DeskEvent] {
            var events = desk + [opened(1)]
            if held { events += [accepted(1), commented(1, 2, by: anna, "Unplug it first.", notify: [.staff("anna"), .contact("c1")])] }
            events.append(SupportDeskTests.status(1, held ? .accepted : .new, st))
            return try when(given(events), mailer, inbound("ivan@acme.example", thread: 1, via: "token"))
        }
        #expect(try reply(from: .waitingForClient) == [
            mailComment(1, 3, by: c1, notify: [.staff("anna"), .contact("c1")]),
            clientReplied(1, .waitingForClient, .accepted, by: c1),
            received(from: "ivan@acme.example", ticket: 1, comment: 3, by: "token"),
        ])
        #expect(try reply(from: .closed) == [
            mailComment(1, 3, by: c1, notify: [.staff("anna"), .contact("c1")]),
            clientReplied(1, .closed, .reopened, by: c1),
            received(from: "ivan@acme.example", ticket: 1, comment: 3, by: "token"),
        ])
        #expect(try reply(from: .resolved)[1] == clientReplied(1, .resolved, .reopened, by: c1))
        #expect(try reply(from: .postponed)[1] == clientReplied(1, .postponed, .accepted, by: c1))
        #expect(try reply(from: .postponed, held: false)[1] == clientReplied(1, .postponed, .new, by: c1))
        #expect(try reply(from: .reopened).map(\.type) == ["CommentAdded", "MailReceived"])

        // A colleague copied on the thread replies to a waiting ticket: it is back to work too.
        let waiting = given(ticket1Answered + [SupportDeskTests.status(1, .accepted, .waitingForClient)])
        let events = try when(waiting, mailer, inbound("hans@globex.example", thread: 1, via: "token"))
        #expect(events.map(\.type) == ["ContactCreated", "CommentAdded", "StatusChanged", "MailReceived"])
        #expect(events[2] == clientReplied(1, .waitingForClient, .accepted, by: .contact("auto-4")))
        #expect(then(waiting, events).tickets[1]?.status == .accepted)
    }

    @Test("TicketState.lastMessageId follows the last mail threaded in (not set-aside mail)")
    func lastMessageId() throws {
        #expect(borisAsked.tickets[1]?.lastMessageId == nil)
        let one = then(borisAsked, try when(borisAsked, mailer, inbound("ivan@acme.example", id: "a@x.example", thread: 1, via: "token")))
        #expect(one.tickets[1]?.lastMessageId == "a@x.example")
        let two = then(one, try when(one, mailer, inbound("petr@acme.example", id: "b@x.example", subjectTicket: 1)))
        #expect(two.tickets[1]?.lastMessageId == "b@x.example")
        let autoReply = try when(two, mailer, inbound("ivan@acme.example", id: "c@x.example", automatic: "an auto-reply", thread: 1, via: "token"))
        let three = then(two, autoReply)
        #expect(three.tickets[1]?.lastMessageId == "b@x.example")
        #expect(three.tickets[1]?.version == two.tickets[1]!.version + 1, "the set-aside record is still on the ticket's stream")
        // A staff comment does not change it either.
        let four = then(three, [commented(1, 5, by: anna, "Thanks", notify: [.contact("c1"), .staff("anna")])])
        #expect(four.tickets[1]?.lastMessageId == "b@x.example")
    }
}

@Suite("receiveMail: the ticket number in the subject")
struct MailSubjectTests {
    let answered = given(ticket1Answered)

    @Test("accepted from the ticket's client")
    func fromTheClient() throws {
        let d = try Desk.decide(Command(actor: mailer, inbound("ivan@acme.example", subject: "Re: [#1] Printer on fire", subjectTicket: 1)),
                                at: t0, state: answered)
        #expect(d.events == [
            mailComment(1, 3, by: c1, notify: [.staff("anna"), .contact("c1")]),
            received(from: "ivan@acme.example", subject: "Re: [#1] Printer on fire", ticket: 1, comment: 3, by: "subject"),
        ])
        #expect(d.outcome.ticket == 1 && d.outcome.comment == 3 && d.outcome.contact == "c1")
    }

    @Test("accepted from a colleague of the same organisation, even with organisation sharing off")
    func fromAColleague() throws {
        #expect(answered.account.visibility.organisationSharing == false)
        #expect(try when(answered, mailer, inbound("petr@acme.example", subjectTicket: 1)) == [
            mailComment(1, 3, by: c2, notify: [.staff("anna"), .contact("c2")]),
            received(from: "petr@acme.example", ticket: 1, comment: 3, by: "subject"),
        ])
        // …and with sharing on.
        let sharing = then(answered, [.visibilitySet(VisibilitySet(settings: VisibilitySettings(organisationSharing: true)))])
        #expect(try when(sharing, mailer, inbound("petr@acme.example", subjectTicket: 1)).last
            == received(from: "petr@acme.example", ticket: 1, comment: 3, by: "subject"))
    }

    @Test("accepted from a new address of the organisation's domain (the contact created by this very mail)")
    func fromANewColleague() throws {
        #expect(try when(answered, mailer, inbound("new.hire@acme.example", subjectTicket: 1)) == [
            .contactCreated(ContactCreated(contact: "auto-4", name: "new.hire", emails: ["new.hire@acme.example"], phones: [],
                                           organisation: "acme", language: "ru", automatic: true)),
            mailComment(1, 3, by: .contact("auto-4"), notify: [.staff("anna"), .contact("auto-4")]),
            received(from: "new.hire@acme.example", ticket: 1, comment: 3, by: "subject"),
        ])
    }

    @Test("accepted from someone notified in the ticket before, or who wrote in it")
    func fromSomeoneInvolved() throws {
        let notified = given(ticket1Accepted + [
            commented(1, 2, by: anna, "Gina, can you confirm?", notify: [.contact("c1"), .contact("c3"), .staff("anna")]),
        ])
        #expect(try when(notified, mailer, inbound("gina@globex.example", subjectTicket: 1)) == [
            mailComment(1, 3, by: c3, notify: [.staff("anna"), .contact("c3")]),
            received(from: "gina@globex.example", ticket: 1, comment: 3, by: "subject"),
        ])
        // Gina wrote comment 2 (she came in through the thread earlier).
        let wrote = given(ticket1Accepted + [commented(1, 2, by: c3, "Same here", notify: [.staff("anna"), .contact("c3")])])
        #expect(try when(wrote, mailer, inbound("gina@globex.example", subjectTicket: 1)).last
            == received(from: "gina@globex.example", ticket: 1, comment: 3, by: "subject"))
    }

    @Test("refused from a stranger: a new ticket, and the record says why")
    func fromAStranger() throws {
        let note = "the subject names #1, but the sender does not take part in it"
        let d = try Desk.decide(Command(actor: mailer, inbound("gina@globex.example", subject: "Re: [#1] Printer on fire", subjectTicket: 1)),
                                at: t0, state: answered)
        #expect(d.events == [
            mailOpened(2, contact: "c3", organisation: "globex", in: answered, language: "en", subject: "Re: [#1] Printer on fire"),
            received(from: "gina@globex.example", subject: "Re: [#1] Printer on fire", ticket: 2, comment: 1, by: "new", note: note),
        ])
        #expect(d.outcome.ticket == 2)
        #expect(!d.events.contains { $0.ticket == 1 }, "nothing is written on #1")
        // An unknown stranger: a contact, a ticket.
        #expect(try when(answered, mailer, inbound("eve@evil.example", subjectTicket: 1)).map(\.type)
            == ["ContactCreated", "TicketOpened", "MailReceived"])
        // A number that does not exist: a new ticket too.
        #expect(try when(answered, mailer, inbound("ivan@acme.example", subjectTicket: 99)).last
            == received(from: "ivan@acme.example", ticket: 2, comment: 1, by: "new",
                        note: "the subject names #99, but the sender does not take part in it"))
    }

    @Test("a ticket without an organisation is not opened to everyone without one")
    func noOrganisationIsNotAnOrganisation() throws {
        let s = given(desk + [opened(1, organisation: nil)])
        let events = try when(s, mailer, inbound("eve@evil.example", subjectTicket: 1))
        #expect(events.map(\.type) == ["ContactCreated", "TicketOpened", "MailReceived"])
        #expect(openedPayload(events)?.ticket == 2)
    }
}

@Suite("receiveMail: merged and spam tickets")
struct MailMergedAndSpamTests {
    /// #2 (c1's duplicate) was merged into #1, and #3 into #2.
    let merged = given(desk + [
        opened(1), accepted(1), opened(2), opened(3),
        .ticketMerged(TicketMerged(ticket: 2, into: 1, by: "anna")),
        .duplicateMergedIn(DuplicateMergedIn(ticket: 1, duplicate: 2, by: "anna")),
        status(2, .new, .closed),
        .ticketMerged(TicketMerged(ticket: 3, into: 2, by: "anna")),
        .duplicateMergedIn(DuplicateMergedIn(ticket: 2, duplicate: 3, by: "anna")),
        status(3, .new, .closed),
    ])
    /// #1 (c1) was marked as spam and closed.
    let spam = given(desk + [opened(1), .markedAsSpam(MarkedAsSpam(ticket: 1, by: "anna")), status(1, .new, .closed)])
    let allStaff: [Party] = workingStaff.map(Party.staff)
    var allStaffAndC1: [Party] { allStaff + [.contact("c1")] }

    @Test("a reply in a merged ticket's thread lands in the ticket it was merged into (through chains); the note names both")
    func threadIntoMerged() throws {
        for n in [2, 3] {
            let events = try when(merged, mailer, inbound("ivan@acme.example", thread: n, via: "token"))
            #expect(events == [
                mailComment(1, 2, by: c1, notify: allStaffAndC1),
                received(from: "ivan@acme.example", ticket: 1, comment: 2, by: "token", note: "#\(n) was merged into #1"),
            ])
            #expect(!events.contains { $0.ticket == n })
            // The subject's number is followed the same way.
            #expect(try when(merged, mailer, inbound("ivan@acme.example", subjectTicket: n)) == [
                mailComment(1, 2, by: c1, notify: allStaffAndC1),
                received(from: "ivan@acme.example", ticket: 1, comment: 2, by: "subject", note: "#\(n) was merged into #1"),
            ])
        }
        // Naming the survivor itself: no note.
        #expect(try when(merged, mailer, inbound("ivan@acme.example", thread: 1, via: "token")).last
            == received(from: "ivan@acme.example", ticket: 1, comment: 2, by: "token"))
        #expect(try when(merged, mailer, inbound("ivan@acme.example", subjectTicket: 1)).last
            == received(from: "ivan@acme.example", ticket: 1, comment: 2, by: "subject"))
        // The note is about the ticket the mail was threaded by: a merged #2 in the subject of a reply
        // in #1's thread is not mentioned, and a merged thread is named even when the subject names #1.
        #expect(try when(merged, mailer, inbound("ivan@acme.example", thread: 1, via: "token", subjectTicket: 2)).last
            == received(from: "ivan@acme.example", ticket: 1, comment: 2, by: "token"))
        #expect(try when(merged, mailer, inbound("ivan@acme.example", thread: 3, via: "reference", subjectTicket: 1)).last
            == received(from: "ivan@acme.example", ticket: 1, comment: 2, by: "reference", note: "#3 was merged into #1"))
    }

    @Test("the client of a merged duplicate may still name it in the subject")
    func subjectOfAMergedDuplicateFromItsClient() throws {
        // Gina (Globex) reported the same outage as #2; staff merged it into Ivan's #1.
        let s = given(desk + [
            opened(1), accepted(1), opened(2, contact: "c3", organisation: "globex"),
            .ticketMerged(TicketMerged(ticket: 2, into: 1, by: "anna")),
            .duplicateMergedIn(DuplicateMergedIn(ticket: 1, duplicate: 2, by: "anna")),
            status(2, .new, .closed),
        ])
        // Through the thread token she reaches #1 …
        #expect(try when(s, mailer, inbound("gina@globex.example", thread: 2, via: "token")).last
            == received(from: "gina@globex.example", ticket: 1, comment: 2, by: "token", note: "#2 was merged into #1"))
        // … and writing "[#2]" in the subject of a fresh mail too: she takes part in #2, though not in #1.
        let d = try Desk.decide(Command(actor: mailer, inbound("gina@globex.example", subject: "[#2] still down", subjectTicket: 2)),
                                at: t0, state: s)
        #expect(d.events == [
            mailComment(1, 2, by: c3, notify: allStaff + [c3]),
            received(from: "gina@globex.example", subject: "[#2] still down", ticket: 1, comment: 2, by: "subject",
                     note: "#2 was merged into #1"),
        ])
        #expect(d.outcome.ticket == 1 && d.outcome.comment == 2 && d.outcome.contact == "c3")
        // Petr takes part in #1 (Acme's ticket) but not in #2: the survivor is enough.
        #expect(try when(s, mailer, inbound("petr@acme.example", subjectTicket: 2)).last
            == received(from: "petr@acme.example", ticket: 1, comment: 2, by: "subject", note: "#2 was merged into #1"))
        // Someone in neither is still a stranger: a new ticket, and the record names the ticket of the subject.
        #expect(try when(s, mailer, inbound("eve@evil.example", subjectTicket: 2)) == [
            .contactCreated(ContactCreated(contact: "auto-4", name: "eve", emails: ["eve@evil.example"], phones: [],
                                           organisation: nil, language: "ru", automatic: true)),
            mailOpened(3, contact: "auto-4", organisation: nil, in: s),
            received(from: "eve@evil.example", ticket: 3, comment: 1, by: "new",
                     note: "the subject names #2, but the sender does not take part in it"),
        ])
    }

    @Test("the record's note does not claim a merge that did not happen")
    func noteWithoutAMerge() throws {
        // The client replies in #1's thread but the subject still names their other ticket #2 (not merged).
        let s = given(desk + [opened(1), accepted(1), opened(2)])
        let events = try when(s, mailer, inbound("ivan@acme.example", subject: "Re: [#2] older question", thread: 1, via: "token",
                                                 subjectTicket: 2))
        #expect(events == [
            mailComment(1, 2, by: c1, notify: allStaffAndC1),
            received(from: "ivan@acme.example", subject: "Re: [#2] older question", ticket: 1, comment: 2, by: "token", note: nil),
        ])
        // Nor when the subject alone names an unmerged ticket.
        #expect(try when(s, mailer, inbound("ivan@acme.example", subjectTicket: 2)).last
            == received(from: "ivan@acme.example", ticket: 2, comment: 2, by: "subject", note: nil))
    }

    @Test("a reply in a spam ticket's thread is only recorded on it: no comment, no new ticket, no contact, no reopening")
    func threadIntoSpam() throws {
        let note = "#1 is marked as spam"
        let d = try Desk.decide(Command(actor: mailer, inbound("ivan@acme.example", thread: 1, via: "token")), at: t0, state: spam)
        #expect(d.events == [received(from: "ivan@acme.example", ticket: 1, comment: nil, by: "set-aside", note: note)])
        #expect(d.events.map(\.stream) == ["ticket-1"])
        #expect(d.outcome.comment == nil && d.outcome.contact == nil && d.outcome.ticket == nil)
        let after = then(spam, d.events)
        let t = try #require(after.tickets[1])
        #expect(t.status == .closed && t.spam && t.comments.count == 1 && t.lastMessageId == nil)
        #expect(t.version == spam.tickets[1]!.version + 1)
        #expect(after.lastTicketNumber == 1 && after.contacts == spam.contacts)

        // An unknown sender in the spam thread: no contact is made of them.
        #expect(try when(spam, mailer, inbound("eve@evil.example", thread: 1, via: "reference"))
            == [received(from: "eve@evil.example", ticket: 1, comment: nil, by: "set-aside", note: note)])
        // The spam thread decides even when the subject names another ticket the sender takes part in.
        let withOther = then(spam, [opened(2)])
        #expect(try when(withOther, mailer, inbound("ivan@acme.example", thread: 1, via: "token", subjectTicket: 2))
            == [received(from: "ivan@acme.example", ticket: 1, comment: nil, by: "set-aside", note: note)])
        // A live thread wins over a spam ticket in the subject.
        #expect(try when(withOther, mailer, inbound("ivan@acme.example", thread: 2, via: "token", subjectTicket: 1)) == [
            mailComment(2, 2, by: c1, notify: allStaffAndC1),
            received(from: "ivan@acme.example", ticket: 2, comment: 2, by: "token"),
        ])
        // Automatic mail and mail from staff keep their own notes.
        #expect(try when(spam, mailer, inbound("ivan@acme.example", automatic: "an auto-reply", thread: 1, via: "token"))
            == [received(from: "ivan@acme.example", ticket: 1, comment: nil, by: "set-aside", note: "an auto-reply")])
        #expect(try when(spam, mailer, inbound("anna@desk.example", thread: 1, via: "token"))
            == [received(from: "anna@desk.example", ticket: 1, comment: nil, by: "set-aside",
                         note: "from staff member Anna Petrova: answers are written in the desk")])
    }

    @Test("a subject naming a spam ticket (and no other target) is only recorded on it, with the spam note")
    func subjectNamesSpam() throws {
        let note = "#1 is marked as spam"
        // Its client, by thread and subject …
        #expect(try when(spam, mailer, inbound("ivan@acme.example", subject: "Re: [#1] Printer on fire", thread: 1, via: "token",
                                               subjectTicket: 1))
            == [received(from: "ivan@acme.example", subject: "Re: [#1] Printer on fire", ticket: 1, comment: nil, by: "set-aside",
                         note: note)])
        // … by the subject alone …
        #expect(try when(spam, mailer, inbound("ivan@acme.example", subjectTicket: 1))
            == [received(from: "ivan@acme.example", ticket: 1, comment: nil, by: "set-aside", note: note)])
        // … and a known contact who takes no part in it: spam, not "a stranger".
        #expect(try when(spam, mailer, inbound("gina@globex.example", subjectTicket: 1))
            == [received(from: "gina@globex.example", ticket: 1, comment: nil, by: "set-aside", note: note)])
        // A thread the desk does not have leaves the subject to decide.
        #expect(try when(spam, mailer, inbound("ivan@acme.example", thread: 42, via: "reference", subjectTicket: 1))
            == [received(from: "ivan@acme.example", ticket: 1, comment: nil, by: "set-aside", note: note)])
    }

    @Test("a subject naming a spam ticket from an unknown address creates no contact")
    func subjectNamesSpamFromUnknown() throws {
        let events = try when(spam, mailer, inbound("eve@evil.example", subjectTicket: 1))
        #expect(events.last == received(from: "eve@evil.example", ticket: 1, comment: nil, by: "set-aside", note: "#1 is marked as spam"))
        #expect(events.map(\.type) == ["MailReceived"])
    }
}

@Suite("receiveMail: mail that is only recorded")
struct MailSetAsideTests {
    let state = given(ticket1Answered + [status(1, .accepted, .waitingForClient)])

    @Test("automatic mail without a thread: only a record on the mail stream, no contact, no ticket")
    func automaticWithoutThread() throws {
        let d = try Desk.decide(Command(actor: mailer, inbound("MAILER-DAEMON@mx.example", subject: "Undelivered Mail",
                                                               automatic: "from mailer-daemon (bounce)")), at: t0, state: state)
        #expect(d.events == [
            received(from: "mailer-daemon@mx.example", subject: "Undelivered Mail", ticket: nil, comment: nil, by: "set-aside",
                     note: "from mailer-daemon (bounce)"),
        ])
        #expect(d.events.map(\.stream) == [Streams.mail])
        #expect(d.outcome.ticket == nil && d.outcome.comment == nil && d.outcome.contact == nil)

        let after = then(state, d.events)
        #expect(after.mailVersion == state.mailVersion + 1)
        #expect(after.contacts == state.contacts && after.contactByEmail == state.contactByEmail)
        #expect(after.tickets == state.tickets && after.lastTicketNumber == 1)
        let again = then(after, try when(after, mailer, inbound("mailer-daemon@mx.example", id: "m2@mail.example", automatic: "bounce")))
        #expect(again.mailVersion == 2)
    }

    @Test("automatic mail in a thread: recorded on that ticket; no comment, no status change, no contact")
    func automaticInThread() throws {
        let events = try when(state, mailer, inbound("ooo@globex.example", automatic: "an auto-reply", thread: 1, via: "token"))
        #expect(events == [received(from: "ooo@globex.example", ticket: 1, comment: nil, by: "set-aside", note: "an auto-reply")])
        #expect(events.map(\.stream) == ["ticket-1"])
        let after = then(state, events)
        #expect(after.mailVersion == 0)
        #expect(after.tickets[1]?.status == .waitingForClient)
        #expect(after.tickets[1]?.comments.count == 2)
        #expect(after.tickets[1]?.lastMessageId == nil)
        #expect(after.tickets[1]?.version == state.tickets[1]!.version + 1)
        // The ticket's own client's auto-reply is no different.
        #expect(try when(state, mailer, inbound("ivan@acme.example", automatic: "an auto-reply", thread: 1, via: "token"))
            == [received(from: "ivan@acme.example", ticket: 1, comment: nil, by: "set-aside", note: "an auto-reply")])
    }

    @Test("automatic mail: a subject number is not a thread; a merged thread is followed")
    func automaticSubjectAndMerged() throws {
        #expect(try when(state, mailer, inbound("ivan@acme.example", automatic: "bulk mail", subjectTicket: 1))
            == [received(from: "ivan@acme.example", ticket: nil, comment: nil, by: "set-aside", note: "bulk mail")])
        let merged = given(desk + [opened(1), opened(2), .ticketMerged(TicketMerged(ticket: 2, into: 1, by: "anna")),
                                   .duplicateMergedIn(DuplicateMergedIn(ticket: 1, duplicate: 2, by: "anna"))])
        #expect(try when(merged, mailer, inbound("ivan@acme.example", automatic: "an auto-reply", thread: 2, via: "token"))
            == [received(from: "ivan@acme.example", ticket: 1, comment: nil, by: "set-aside", note: "an auto-reply")])
        // A thread naming a ticket the desk does not have: no ticket.
        #expect(try when(state, mailer, inbound("ivan@acme.example", automatic: "bulk mail", thread: 42, via: "reference"))
            == [received(from: "ivan@acme.example", ticket: nil, comment: nil, by: "set-aside", note: "bulk mail")])
    }

    @Test("automatic mail is recorded before its sender address is checked: a bounce from a malformed address is kept")
    func automaticFromAMalformedAddress() throws {
        for from in ["MAILER-DAEMON", "postmaster@localhost", "<>", " Bounce@Mx "] {
            let normalised = from.trimmingCharacters(in: .whitespaces).lowercased()
            let events = try when(state, mailer, inbound(from, subject: "Undelivered Mail", automatic: "from mailer-daemon (bounce)"))
            #expect(events == [received(from: normalised, subject: "Undelivered Mail", ticket: nil, comment: nil, by: "set-aside",
                                        note: "from mailer-daemon (bounce)")])
            #expect(then(state, events).contacts == state.contacts)
            // In a thread: on its ticket.
            #expect(try when(state, mailer, inbound(from, automatic: "an auto-reply", thread: 1, via: "token"))
                == [received(from: normalised, ticket: 1, comment: nil, by: "set-aside", note: "an auto-reply")])
            // The same address without the automatic reason is a person's mail, and refused.
            expectRefused(state, mailer, inbound(from), .invalid, "is not an e-mail address")
        }
    }

    @Test("mail from a staff member's address is set aside: answers are written in the desk")
    func fromStaff() throws {
        let note = "from staff member Anna Petrova: answers are written in the desk"
        #expect(try when(state, mailer, inbound(" Anna@Desk.Example ")) ==
            [received(from: "anna@desk.example", ticket: nil, comment: nil, by: "set-aside", note: note)])
        #expect(try when(state, mailer, inbound("anna@desk.example", thread: 1, via: "token")) ==
            [received(from: "anna@desk.example", ticket: 1, comment: nil, by: "set-aside", note: note)])
        #expect(try when(state, mailer, inbound("anna@desk.example", subjectTicket: 1)) ==
            [received(from: "anna@desk.example", ticket: nil, comment: nil, by: "set-aside", note: note)])
        // A member who has left, too (no contact is made of them).
        #expect(try when(state, mailer, inbound("ivan@desk.example")) ==
            [received(from: "ivan@desk.example", ticket: nil, comment: nil, by: "set-aside",
                      note: "from staff member Ivan Formerly: answers are written in the desk")])
        // A staff member's new address (after a change) is theirs.
        let moved = then(state, [.staffChanged(StaffChanged(staff: "anna", email: "a.petrova@desk.example"))])
        #expect(try when(moved, mailer, inbound("a.petrova@desk.example")).map(\.type) == ["MailReceived"])
    }
}

@Suite("receiveMail: who may post mail, and what is refused")
struct MailRefusalTests {
    let state = given(ticket1Answered)

    @Test("the mail gateway (system:mail) and admins post mail; nobody else, not even the desk's other system actors")
    func actors() throws {
        let body = inbound("ivan@acme.example", thread: 1, via: "token")
        #expect(try when(state, mailer, body).map(\.type) == ["CommentAdded", "MailReceived"])
        #expect(try when(state, admin, body).map(\.type) == ["CommentAdded", "MailReceived"])
        for system in [timer, Party.system("mailer"), Party.system("delivery"), Party.system("Mail")] {
            expectRefused(state, system, body, .forbidden, "mail gateway", "system:mail")
            expectRefused(state, system, inbound("ivan@acme.example", automatic: "an auto-reply"), .forbidden, "system:mail")
        }
        expectRefused(state, c1, body, .forbidden, "mail gateway")
        expectRefused(state, c3, inbound("gina@globex.example"), .forbidden, "mail gateway")
        expectRefused(state, anna, body, .forbidden, "admin role")
        expectRefused(state, manager, body, .forbidden, "admin role", "Max Managerov is manager")
        expectRefused(state, auditor, body, .forbidden, "auditors change nothing")
        expectRefused(state, former, body, .forbidden, "'ivan' is not an active staff member")
        // Even automatic mail, which writes no more than a record.
        expectRefused(state, c1, inbound("ivan@acme.example", automatic: "an auto-reply"), .forbidden, "mail gateway")
    }

    @Test("a person's sender address must be an address")
    func badFrom() {
        for from in ["ivan", "ivan.acme.example", "ivan@localhost", "@acme.example", "iv an@acme.example", "ivan@acme.example."] {
            expectRefused(state, mailer, inbound(from), .invalid, "'\(from)' is not an e-mail address")
            // Not in a thread either.
            expectRefused(state, mailer, inbound(from, thread: 1, via: "token"), .invalid, "not an e-mail address")
        }
        // Blank is no address at all, even for automatic mail.
        expectRefused(state, mailer, inbound("   "), .invalid, "a sender address is 1…254 bytes")
        expectRefused(state, mailer, inbound("   ", automatic: "an auto-reply"), .invalid, "a sender address is 1…254 bytes")
    }

    @Test("a sender address is 1…254 bytes, for automatic mail too")
    func fromLength() throws {
        // 254 bytes exactly is an address.
        let longest = String(repeating: "a", count: 63) + "@"
            + Array(repeating: String(repeating: "b", count: 60), count: 3).joined(separator: ".") + ".example"
        #expect(longest.utf8.count == 254)
        #expect(try when(state, mailer, inbound(longest)).map(\.type) == ["ContactCreated", "TicketOpened", "MailReceived"])
        // One byte more, or nothing at all, is refused before anything else about the address.
        let tooLong = "a" + longest
        let tooManyBytes = String(repeating: "é", count: 121) + "@acme.example" // 134 characters but 255 bytes
        for automatic in [nil, "bounce"] as [String?] {
            expectRefused(state, mailer, inbound("", automatic: automatic), .invalid, "a sender address is 1…254 bytes")
            expectRefused(state, mailer, inbound(tooLong, automatic: automatic), .invalid, "a sender address is 1…254 bytes")
            expectRefused(state, mailer, inbound(tooManyBytes, automatic: automatic), .invalid, "a sender address is 1…254 bytes")
        }
    }

    @Test("the raw message reference is a lowercase hex SHA-256")
    func badRaw() {
        for raw in ["", String(repeating: "a", count: 63), String(repeating: "a", count: 65), String(repeating: "A", count: 64),
                    String(repeating: "g", count: 64), String(repeating: "a", count: 63) + " ", String(repeating: "é", count: 32)] {
            expectRefused(state, mailer, inbound("ivan@acme.example", raw: raw), .invalid, "lowercase hex SHA-256")
        }
    }

    @Test("a Message-ID is 1…500 bytes")
    func badMessageId() throws {
        expectRefused(state, mailer, inbound("ivan@acme.example", id: ""), .invalid, "Message-ID is empty")
        expectRefused(state, mailer, inbound("ivan@acme.example", id: "  "), .invalid, "Message-ID is empty")
        expectRefused(state, mailer, inbound("ivan@acme.example", id: String(repeating: "x", count: 501)), .invalid, "Message-ID", "500")
        // 300 characters but 600 bytes.
        expectRefused(state, mailer, inbound("ivan@acme.example", id: String(repeating: "é", count: 300)), .invalid, "at most 500 bytes")
        #expect(try when(state, mailer, inbound("ivan@acme.example", id: String(repeating: "x", count: 500))).count == 2)
        #expect(try when(state, mailer, inbound("ivan@acme.example", id: String(repeating: "é", count: 250))).count == 2)
    }

    @Test("over-long subjects and texts are refused (the intake cuts them first)")
    func tooLong() {
        expectRefused(state, mailer, inbound("ivan@acme.example", subject: String(repeating: "s", count: Desk.maxSubjectLength + 1)),
                      .invalid, "subject is longer than")
        expectRefused(state, mailer, inbound("ivan@acme.example", text: String(repeating: "t", count: Desk.maxTextLength + 1)),
                      .invalid, "message is longer than")
    }

    @Test("refusals write nothing, even for automatic mail or a thread")
    func refusalsComeFirst() {
        expectRefused(state, mailer, inbound("", automatic: "bounce", thread: 1, via: "token"), .invalid, "1…254 bytes")
        expectRefused(state, mailer, inbound("nobody", raw: "0", automatic: "bounce"), .invalid, "SHA-256")
        expectRefused(state, mailer, inbound("nobody", id: "", automatic: "bounce", thread: 1, via: "token"), .invalid, "Message-ID")
        expectRefused(state, mailer, inbound("ivan@acme.example", raw: "0", thread: 1, via: "token"), .invalid, "SHA-256")
        expectRefused(state, mailer, inbound("anna@desk.example", id: ""), .invalid, "Message-ID")
    }
}

@Suite("receiveMail: the command's tickets")
struct MailCommandTicketsTests {
    @Test("tickets lists the thread and the subject's number")
    func tickets() {
        #expect(inbound("a@b.example").tickets == [])
        #expect(inbound("a@b.example", thread: 4, via: "token").tickets == [4])
        #expect(inbound("a@b.example", subjectTicket: 7).tickets == [7])
        #expect(inbound("a@b.example", thread: 4, via: "token", subjectTicket: 7).tickets == [4, 7])
        #expect(inbound("a@b.example", automatic: "bounce", thread: 4).tickets == [4])
        #expect(inbound("a@b.example").name == "receiveMail")
    }
}

@Suite("Portal replies after the contactReply refactor")
struct PortalReplyTests {
    @Test("a portal reply from a merged-away contact is written as the surviving contact")
    func mergedContactRepliesAsSurvivor() throws {
        let s = given(ticket1Answered + [
            .contactCreated(ContactCreated(contact: "auto-4", name: "dup", emails: ["ivan.home@mail.example"], phones: [],
                                           organisation: nil, language: "ru", automatic: true)),
            .contactMerged(ContactMerged(contact: "auto-4", into: "c1")),
            SupportDeskTests.status(1, .accepted, .waitingForClient),
        ])
        let d = try Desk.decide(Command(actor: .contact("auto-4"), commentBody(1, "Still smoking")), at: t0, state: s)
        #expect(d.events == [
            commented(1, 3, by: c1, "Still smoking", notify: [.staff("anna"), .contact("c1")]),
            clientReplied(1, .waitingForClient, .accepted, by: c1),
        ])
        #expect(d.outcome.ticket == 1 && d.outcome.comment == 3)
    }

    @Test("a portal reply keeps the channel and external id it was given, and never writes a MailReceived")
    func portalReplyHasNoMailRecord() throws {
        let events = try when(given(ticket1Answered), c1,
                              .comment(ticket: 1, text: "Hi", internal: false, notify: nil, attachments: [], channel: .portal, externalId: "p-1"))
        #expect(events == [
            .commentAdded(CommentAdded(ticket: 1, comment: 3, author: c1, text: "Hi", isInternal: false,
                                       notify: [.staff("anna"), .contact("c1")], attachments: [], channel: .portal, externalId: "p-1")),
        ])
    }
}
