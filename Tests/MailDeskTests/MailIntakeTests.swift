import Crypto
import DeskEngine
import EventLog
import Foundation
import Mail
import MailDesk
import SupportDesk
import Testing

@Suite struct MailIntakeTests {
    /// The first message of most tests: from Bob, an unknown address at the client's domain.
    static let first = TestMail(from: "Bob Builder <bob@client.example>", subject: "Printer does not print",
                                messageId: "first-1@client.example",
                                body: "Hello,\nthe printer on floor 3 does not print.\n\nBob")

    @Test func aNewMessageFromAnUnknownSenderOpensATicketAndCreatesTheContactInTheOrganisation() async throws {
        let env = try await MailEnv()
        let raw = Self.first.bytes
        let (r, outcome) = try await env.intake.receive(raw)
        #expect(r.disposition == "new")
        #expect(r.ticket == 1)
        #expect(r.comment == 1)
        #expect(r.messageId == "first-1@client.example")
        #expect(r.raw == sha256Hex(raw))
        #expect(outcome?.ticket == 1)
        // The raw message is kept (a small one in the log's side database, beside its events).
        #expect(try env.intake.rawMessage(r.raw) == raw)
        #expect(try env.store.read { try $0.get(Array(r.raw.utf8), in: MailIntake.rawDB) } == raw)
        // The contact: new, named from the From header, in o1 by its domain.
        let contactId = try #require(r.contact)
        #expect(!["c1", "c2"].contains(contactId))
        let contact = try #require(await env.processor.contact(contactId))
        #expect(contact.name == "Bob Builder")
        #expect(contact.emails == ["bob@client.example"])
        #expect(contact.organisation == "o1")
        #expect(contact.automatic)
        // The ticket.
        let t = try #require(try await env.processor.ticket(1))
        #expect(t.channel == .email)
        #expect(t.subject == "Printer does not print")
        #expect(t.contact == contactId)
        #expect(t.organisation == "o1")
        #expect(t.comments.count == 1)
        #expect(t.comments[0].text == "Hello,\nthe printer on floor 3 does not print.\n\nBob")
        // The opening message is the client's.
        #expect(t.comments[0].author == .contact(contactId))
        #expect(t.lastMessageId == "first-1@client.example")
        #expect(t.language == "en")
        // The log: MailReceived on the ticket, and the Message-ID index.
        let mail = try env.mailReceived()
        #expect(mail.count == 1)
        #expect(mail.first?.threadedBy == "new")
        #expect(mail.first?.ticket == 1 && mail.first?.comment == 1)
        #expect(mail.first?.from == "bob@client.example")
        #expect(mail.first?.raw == r.raw)
        #expect(try env.processor.mailTicket(messageId: "first-1@client.example") == 1)
    }

    @Test func aSenderOfAnotherDomainBecomesAContactWithoutOrganisation() async throws {
        let env = try await MailEnv()
        var mail = Self.first
        mail.from = "stranger@elsewhere.example"
        let r = try await env.receive(mail)
        #expect(r.disposition == "new")
        let contactId = try #require(r.contact)
        let contact = try #require(await env.processor.contact(contactId))
        #expect(contact.organisation == nil)
        #expect(contact.name == "stranger")
        #expect(try await env.processor.ticket(1)?.organisation == nil)
    }

    @Test func aKnownSenderKeepsTheirContact() async throws {
        let env = try await MailEnv()
        var mail = Self.first
        mail.from = "\"Carl C.\" <CARL@Client.Example>"
        let r = try await env.receive(mail)
        #expect(r.disposition == "new")
        #expect(r.contact == "c1")
        #expect(try await env.processor.ticket(1)?.contact == "c1")
        #expect(await env.processor.contacts.count == 2)
    }

    @Test func theSameBytesAgainAreADuplicateAndWriteNothing() async throws {
        let env = try await MailEnv()
        let raw = Self.first.bytes
        let r1 = try await env.receive(raw)
        let head = env.store.committedHead
        let contacts = await env.processor.contacts.count
        let (r2, outcome) = try await env.intake.receive(raw)
        #expect(r2.disposition == "duplicate")
        #expect(r2.ticket == r1.ticket)
        #expect(r2.messageId == r1.messageId)
        #expect(r2.comment == nil)
        #expect(outcome == nil)
        #expect(env.store.committedHead == head)
        #expect(await env.processor.lastTicketNumber == 1)
        #expect(await env.processor.contacts.count == contacts)
    }

    @Test func theSameMessageIdWithOtherTransportHeadersIsADuplicate() async throws {
        let env = try await MailEnv()
        _ = try await env.receive(Self.first)
        let head = env.store.committedHead
        var again = Self.first
        again.top = [("Received", "from backup-mx.client.example by mx2.desk.example; Mon, 02 Mar 2026 06:05:00 +0000"),
                     ("X-Spam-Score", "0.1")]
        #expect(again.bytes != Self.first.bytes)
        let r = try await env.receive(again)
        #expect(r.disposition == "duplicate")
        #expect(r.ticket == 1)
        #expect(env.store.committedHead == head)
        #expect(try await env.processor.ticket(1)?.comments.count == 1)
    }

    @Test func aReplyNamingOurTokenFromABrandNewAddressThreadsByToken() async throws {
        let env = try await MailEnv()
        _ = try await env.receive(Self.first)
        let ourId = env.token.messageId(ticket: 1, comment: 2, recipient: 0)
        let reply = TestMail(from: "Dana Deputy <dana@other-company.example>", subject: "Re: [#1] Printer does not print",
                             messageId: "dana-1@other-company.example", inReplyTo: [ourId], references: ["first-1@client.example", ourId],
                             body: "It works again, thanks.\n\nOn Mon, 2 Mar 2026 at 07:00, Acme Support <support@desk.example> wrote:\n> Please restart the printer.\n> Anna")
        let r = try await env.receive(reply)
        #expect(r.disposition == "token")
        #expect(r.ticket == 1)
        #expect(r.comment == 2)
        let t = try #require(try await env.processor.ticket(1))
        #expect(t.comments.count == 2)
        // Only the new text: the quoted earlier message is left out.
        #expect(t.comments[1].text == "It works again, thanks.")
        let danaId = try #require(r.contact)
        #expect(t.comments[1].author == .contact(danaId))
        #expect(t.lastMessageId == "dana-1@other-company.example")
        let dana = try #require(await env.processor.contact(danaId))
        #expect(dana.emails == ["dana@other-company.example"])
        #expect(await env.processor.lastTicketNumber == 1)
        #expect(try env.mailReceived().last?.threadedBy == "token")
    }

    @Test func aReplyAllNamingTheClientsMessageThreadsByReference() async throws {
        let env = try await MailEnv()
        _ = try await env.receive(Self.first)
        let reply = TestMail(from: "eve@partner.example", subject: "Re: Printer does not print",
                             messageId: "eve-1@partner.example", inReplyTo: ["first-1@client.example"],
                             references: ["first-1@client.example"], body: "Same problem on floor 4.")
        let r = try await env.receive(reply)
        #expect(r.disposition == "reference")
        #expect(r.ticket == 1)
        #expect(r.comment == 2)
        #expect(try await env.processor.ticket(1)?.comments.last?.text == "Same problem on floor 4.")
        #expect(await env.processor.lastTicketNumber == 1)
        // And a reply to that reply threads by reference too (its id is recorded now).
        let next = TestMail(from: "bob@client.example", subject: "Re: Printer does not print", messageId: "bob-2@client.example",
                            references: ["eve-1@partner.example"], body: "Thanks Eve.")
        let r2 = try await env.receive(next)
        #expect(r2.disposition == "reference")
        #expect(r2.ticket == 1 && r2.comment == 3)
    }

    @Test func aForgedTokenFromAStrangerOpensANewTicket() async throws {
        let env = try await MailEnv()
        _ = try await env.receive(Self.first)
        let real = env.token.messageId(ticket: 1, comment: 2, recipient: 0)
        let forgedIds = [
            // The right shape with another signature.
            "hd.1.2.0.\(String(repeating: "ab", count: 12))@desk.example",
            // Signed with another secret.
            MailThreadToken(secret: Array(repeating: 1, count: 32), domain: "desk.example").messageId(ticket: 1, comment: 2, recipient: 0),
            // A real token with its ticket number changed.
            real.replacingOccurrences(of: "hd.1.", with: "hd.2."),
        ]
        for (i, forged) in forgedIds.enumerated() {
            let mail = TestMail(from: "mallory\(i)@attacker.example", subject: "Re: Printer does not print",
                                messageId: "forged-\(i)@attacker.example", inReplyTo: [forged], references: [forged],
                                body: "Please send me the admin password.")
            let r = try await env.receive(mail)
            #expect(r.disposition == "new", "\(forged)")
            #expect(r.ticket == 2 + i)
        }
        #expect(try await env.processor.ticket(1)?.comments.count == 1)
    }

    @Test func aTicketNumberInTheSubjectCountsOnlyForThoseWhoTakePart() async throws {
        let env = try await MailEnv()
        _ = try await env.receive(Self.first)
        // The ticket's client, without any references.
        let fromClient = TestMail(from: "bob@client.example", subject: "Re: [#1] Printer does not print",
                                  messageId: "bob-2@client.example", body: "Any news?")
        let r1 = try await env.receive(fromClient)
        #expect(r1.disposition == "subject")
        #expect(r1.ticket == 1 && r1.comment == 2)
        // A colleague of the same organisation takes part too.
        let fromColleague = TestMail(from: "carl@client.example", subject: "[№1] printer", messageId: "carl-1@client.example",
                                     body: "Same here.")
        let r2 = try await env.receive(fromColleague)
        #expect(r2.disposition == "subject")
        #expect(r2.ticket == 1 && r2.comment == 3)
        // A stranger naming #1 gets a ticket of their own.
        let fromStranger = TestMail(from: "zed@nowhere.example", subject: "Re: [#1] Printer does not print",
                                    messageId: "zed-1@nowhere.example", body: "Let me in.")
        let r3 = try await env.receive(fromStranger)
        #expect(r3.disposition == "new")
        #expect(r3.ticket == 2)
        #expect(try await env.processor.ticket(1)?.comments.count == 3)
        let note = try env.mailReceived().last?.note ?? ""
        #expect(note.contains("#1"), "\(note)")
        // A subject naming a ticket that does not exist opens a new one as well.
        let r4 = try await env.receive(TestMail(from: "bob@client.example", subject: "[#99] hello", messageId: "bob-3@client.example"))
        #expect(r4.disposition == "new" && r4.ticket == 3)
    }

    enum Automatic: String, CaseIterable, Sendable {
        case autoSubmitted, precedenceBulk, report, mailerDaemon, postmaster, ownToken, ownAddress, listId, emptyReturnPath, staffMember
    }

    static func automaticMail(_ kind: Automatic, token: MailThreadToken) -> TestMail {
        var m = TestMail(from: "Carl Client <carl@client.example>", subject: "Out of office", messageId: "auto-\(kind.rawValue)@client.example",
                         body: "I am away until Monday.")
        switch kind {
        case .autoSubmitted: m.top.append(("Auto-Submitted", "auto-replied"))
        case .precedenceBulk: m.top.append(("Precedence", "bulk"))
        case .report:
            m.contentType = "multipart/report; report-type=delivery-status; boundary=\"rep\""
            m.body = "--rep\nContent-Type: text/plain\n\nDelivery failed.\n--rep\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n--rep--"
        case .mailerDaemon: m.from = "Mail Delivery System <MAILER-DAEMON@mx.client.example>"
        case .postmaster: m.from = "postmaster@client.example"
        case .ownToken: m.messageId = token.messageId(ticket: 1, comment: 1, recipient: 0)
        case .ownAddress: m.from = "Acme Support <Support@desk.example>"
        case .listId: m.top.append(("List-Id", "<news.client.example>"))
        case .emptyReturnPath: m.top.append(("Return-Path", "<>"))
        case .staffMember: m.from = "Anna Petrova <anna@desk.example>"
        }
        return m
    }

    @Test(arguments: Automatic.allCases)
    func automaticMailIsSetAsideWithoutATicket(_ kind: Automatic) async throws {
        let env = try await MailEnv()
        let mail = Self.automaticMail(kind, token: env.token)
        let r = try await env.receive(mail)
        #expect(r.disposition == "set-aside")
        #expect(r.ticket == nil)
        #expect(r.comment == nil)
        #expect(await env.processor.lastTicketNumber == 0)
        let recorded = try env.mailReceived()
        #expect(recorded.count == 1)
        #expect(recorded.first?.threadedBy == "set-aside")
        #expect(recorded.first?.ticket == nil)
        #expect(recorded.first?.note?.isEmpty == false)
        #expect(try env.processor.mailTicket(messageId: r.messageId) == 0)
        // It is recorded once: again is a duplicate.
        let head = env.store.committedHead
        #expect(try await env.receive(mail).disposition == "duplicate")
        #expect(env.store.committedHead == head)
    }

    @Test func anAutoReplyToOurMessageIsRecordedOnTheTicketButAddsNoComment() async throws {
        let env = try await MailEnv()
        _ = try await env.receive(Self.first)
        var auto = Self.automaticMail(.autoSubmitted, token: env.token)
        auto.inReplyTo = [env.token.messageId(ticket: 1, comment: 2, recipient: 0)]
        let r = try await env.receive(auto)
        #expect(r.disposition == "set-aside")
        #expect(r.ticket == 1)
        #expect(r.comment == nil)
        let t = try #require(try await env.processor.ticket(1))
        #expect(t.comments.count == 1)
        #expect(t.lastMessageId == "first-1@client.example")
        #expect(try env.processor.mailTicket(messageId: r.messageId) == 1)
    }

    @Test func aMessageWithoutFromIsRefusedPermanently() async throws {
        let env = try await MailEnv()
        var mail = Self.first
        mail.from = nil
        let head = env.store.committedHead
        let e = try #require(await env.refusal(mail.bytes))
        #expect(e.permanent)
        #expect(!e.tooLarge)
        #expect(env.store.committedHead == head)
        // An empty message too.
        let empty = try #require(await env.refusal([]))
        #expect(empty.permanent)
    }

    @Test func aMessageOverTheLimitIsRefusedAsTooLarge() async throws {
        var limits = MailLimits()
        limits.maxMessageBytes = 2000
        let env = try await MailEnv(limits: limits)
        var mail = Self.first
        mail.body = String(repeating: "0123456789\n", count: 300)
        let raw = mail.bytes
        #expect(raw.count > 2000)
        let head = env.store.committedHead
        let e = try #require(await env.refusal(raw))
        #expect(e.tooLarge)
        #expect(e.permanent)
        #expect(env.store.committedHead == head)
        // Nothing was kept for it.
        #expect(!env.blobs.contains(sha256Hex(raw)))
        #expect(try env.intake.rawMessage(sha256Hex(raw)) == nil)
        // One under the limit is taken.
        mail.body = "short"
        #expect(try await env.receive(mail).disposition == "new")
    }

    @Test func attachmentsLandInTheBlobStoreAndOneOverTheLimitIsLeftOut() async throws {
        var limits = MailLimits()
        limits.maxAttachmentBytes = 10_000
        let env = try await MailEnv(limits: limits)
        let small = pseudoRandomBytes(3000, seed: 1)
        let exact = pseudoRandomBytes(10_000, seed: 2)
        let big = pseudoRandomBytes(20_000, seed: 3)
        var mail = Self.first
        mail.body = "See the attached files."
        mail.attachments = [.init(name: "log.txt", type: "text/plain", bytes: small),
                            .init(name: "huge-scan.tiff", type: "image/tiff", bytes: big),
                            .init(name: "Отчёт.pdf", type: "application/pdf", bytes: exact)]
        let r = try await env.receive(mail)
        #expect(r.disposition == "new")
        #expect(r.notes.contains { $0.contains("huge-scan.tiff") && $0.contains("left out") }, "\(r.notes)")
        let t = try #require(try await env.processor.ticket(1))
        let refs = t.comments[0].attachments
        #expect(refs.map(\.filename) == ["log.txt", "Отчёт.pdf"])
        #expect(refs.map(\.contentType) == ["text/plain", "application/pdf"])
        #expect(refs.map(\.size) == [3000, 10_000])
        #expect(refs.map(\.sha256) == [sha256Hex(small), sha256Hex(exact)])
        #expect(try env.blobs.read(refs[0].sha256) == small)
        #expect(try env.blobs.read(refs[1].sha256) == exact)
        #expect(!env.blobs.contains(sha256Hex(big)))
        #expect(entries(env.blobs.root.appendingPathComponent("tmp")).isEmpty)
        // The text says so, after the message itself.
        let text = t.comments[0].text
        #expect(text.hasPrefix("See the attached files.\n\n["))
        #expect(text.contains("huge-scan.tiff"))
        // The raw message still holds it.
        let raw = try #require(try env.intake.rawMessage(r.raw))
        #expect(MailMessage.parse(raw).attachments.first { $0.filename == "huge-scan.tiff" }?.decodedBytes() == big)
    }

    @Test func aLargeRawMessageGoesToTheBlobStoreAndASmallOneBesideTheLog() async throws {
        var limits = MailLimits()
        limits.inlineRawBytes = 4000
        let env = try await MailEnv(limits: limits)
        var small = Self.first
        small.body = "short"
        let smallRaw = small.bytes
        #expect(smallRaw.count <= 4000)
        let r1 = try await env.receive(smallRaw)
        #expect(r1.raw == sha256Hex(smallRaw))
        #expect(!env.blobs.contains(r1.raw))
        #expect(try env.intake.rawMessage(r1.raw) == smallRaw)

        var large = Self.first
        large.messageId = "large-1@client.example"
        large.body = String(repeating: "A long message line.\n", count: 400)
        let largeRaw = large.bytes
        #expect(largeRaw.count > 4000)
        let r2 = try await env.receive(largeRaw)
        #expect(r2.disposition == "new")
        #expect(r2.raw == sha256Hex(largeRaw))
        #expect(try env.blobs.read(r2.raw) == largeRaw)
        #expect(try env.store.read { try $0.get(Array(r2.raw.utf8), in: MailIntake.rawDB) } == nil)
        #expect(try env.intake.rawMessage(r2.raw) == largeRaw)
        #expect(entries(env.blobs.root.appendingPathComponent("tmp")).isEmpty)
        // Not a blob name: nothing.
        #expect(try env.intake.rawMessage("../\(r2.raw.dropFirst(3))") == nil)
    }

    @Test func aMessageWithoutMessageIdIsNamedByItsHashAndStillDeduplicated() async throws {
        let env = try await MailEnv()
        var mail = Self.first
        mail.messageId = nil
        let raw = mail.bytes
        let r = try await env.receive(raw)
        #expect(r.disposition == "new")
        #expect(r.messageId == "raw.\(sha256Hex(raw))@helpdesk.invalid")
        #expect(r.notes.contains { $0.contains("Message-ID") })
        #expect(try env.processor.mailTicket(messageId: r.messageId) == 1)
        let head = env.store.committedHead
        let again = try await env.receive(raw)
        #expect(again.disposition == "duplicate")
        #expect(again.messageId == r.messageId)
        #expect(again.ticket == 1)
        #expect(env.store.committedHead == head)
        // A different message without Message-ID is a different message.
        mail.body = "Another question."
        let other = try await env.receive(mail)
        #expect(other.disposition == "new" && other.ticket == 2)
    }

    @Test func theSameMessageDeliveredTwiceAtOnceIsRecordedOnce() async throws {
        let env = try await MailEnv()
        for i in 0..<10 {
            var one = Self.first
            one.messageId = "race-\(i)@client.example"
            // Attachments widen the window between the duplicate check and the command (each is fsynced).
            one.attachments = [.init(name: "a.bin", type: "application/octet-stream", bytes: pseudoRandomBytes(100_000, seed: UInt64(i + 1))),
                               .init(name: "b.bin", type: "application/octet-stream", bytes: pseudoRandomBytes(100_000, seed: UInt64(i + 100)))]
            var other = one
            other.top = [("Received", "from backup-mx.client.example by mx2.desk.example")]
            let rawA = one.bytes, rawB = i.isMultiple(of: 2) ? one.bytes : other.bytes
            async let a = env.receive(rawA)
            async let b = env.receive(rawB)
            let (ra, rb) = try await (a, b)
            #expect(Set([ra.disposition, rb.disposition]).isSubset(of: ["new", "duplicate"]))
            #expect([ra.disposition, rb.disposition].contains("new"))
            #expect(ra.messageId == rb.messageId)
            for r in [ra, rb] where r.disposition == "new" { #expect(r.ticket == i + 1) }
            // A duplicate names the ticket the first delivery went to, also when the second delivery loses
            // the race inside the processor (its command id was stored by the first with another fingerprint).
            for r in [ra, rb] where r.disposition == "duplicate" {
                #expect(r.ticket == i + 1, "round \(i): \(ra.disposition)/\(String(describing: ra.ticket)), \(rb.disposition)/\(String(describing: rb.ticket))")
            }
        }
        #expect(await env.processor.lastTicketNumber == 10)
        #expect(try env.mailReceived().count == 10)
    }

    @Test func aReplyIntoASpamTicketIsSetAside() async throws {
        let env = try await MailEnv()
        _ = try await env.receive(Self.first)
        _ = try await env.processor.execute(Command(actor: TestDesk.anna, .markSpam(ticket: 1)))
        let reply = TestMail(from: "bob@client.example", subject: "Re: Printer does not print", messageId: "bob-2@client.example",
                             inReplyTo: [env.token.messageId(ticket: 1, comment: 2, recipient: 0)], body: "Buy cheap toner!")
        let r = try await env.receive(reply)
        #expect(r.disposition == "set-aside")
        #expect(r.ticket == 1)
        #expect(r.comment == nil)
        #expect(await env.processor.lastTicketNumber == 1)
        #expect(try await env.processor.ticket(1)?.comments.count == 1)
    }

    /// A message that names a ticket its sender may not post into opens a ticket of its own; that
    /// ticket must hold the whole message (the quoted or forwarded part is what the stranger is asking
    /// about), as for any other new ticket.
    @Test func aNewTicketFromAStrangerNamingATicketKeepsTheWholeText() async throws {
        let env = try await MailEnv()
        _ = try await env.receive(Self.first)
        let body = "Please look at the message below.\n\n-----Original Message-----\nFrom: Bob Builder\nSent: Monday\nThe printer on floor 3 does not print."
        let mail = TestMail(from: "zed@nowhere.example", subject: "Fw: [#1] Printer does not print", messageId: "zed-fw@nowhere.example",
                            body: body)
        let r = try await env.receive(mail)
        #expect(r.disposition == "new")
        let n = try #require(r.ticket)
        let t = try #require(try await env.processor.ticket(n))
        #expect(t.comments[0].text == body)

        // Without the [#1] the same message keeps all of it.
        var plain = mail
        plain.subject = "Fw: Printer does not print"
        plain.messageId = "zed-fw2@nowhere.example"
        let r2 = try await env.receive(plain)
        let n2 = try #require(r2.ticket)
        #expect(try await env.processor.ticket(n2)?.comments[0].text == body)
    }

    /// Message-IDs over 400 bytes are stored under a hashed name; a reply-all naming the original id
    /// should still find the ticket by reference.
    @Test func aReplyAllNamingALongMessageIdThreadsByReference() async throws {
        let env = try await MailEnv()
        let longId = String(repeating: "x", count: 420) + "@client.example"
        var first = Self.first
        first.messageId = longId
        let r1 = try await env.receive(first)
        #expect(r1.disposition == "new")
        #expect(r1.messageId.hasPrefix("long.") && r1.messageId.hasSuffix("@helpdesk.invalid"))
        // The same message again is still a duplicate.
        #expect(try await env.receive(first).disposition == "duplicate")
        let reply = TestMail(from: "eve@partner.example", subject: "Re: Printer does not print", messageId: "eve-1@partner.example",
                             inReplyTo: [longId], references: [longId], body: "Same here.")
        let r2 = try await env.receive(reply)
        #expect(r2.disposition == "reference")
        #expect(r2.ticket == 1)
    }

    @Test func aRussianMessageOpensARussianTicket() async throws {
        let env = try await MailEnv()
        let mail = TestMail(from: "Иван Петров <ivan@client.example>", subject: "Не работает печать", messageId: "ru-1@client.example",
                            body: "Здравствуйте!\nНе печатается отчёт за март.")
        let r = try await env.receive(mail)
        #expect(r.disposition == "new")
        let t = try #require(try await env.processor.ticket(1))
        #expect(t.language == "ru")
        #expect(t.subject == "Не работает печать")
        let ivan = try #require(r.contact)
        #expect(await env.processor.contact(ivan)?.name == "Иван Петров")
    }
}
