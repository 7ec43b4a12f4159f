import BusinessTime
import Foundation
import Testing
@testable import SupportDesk

/// One event of every type, with every optional field filled in where there is one.
let oneOfEveryEvent: [DeskEvent] = {
    let day = LocalDate(year: 2025, month: 3, day: 5)
    let calendar = BusinessCalendar(id: "moscow", name: "Moscow office", timeZone: "Europe/Moscow", week: moscowCalendar.week,
                                    holidays: [LocalDate(year: 2025, month: 1, day: 1), LocalDate(year: 2025, month: 5, day: 9)],
                                    extraWorkingDays: [LocalDate(year: 2025, month: 11, day: 1): [WorkingInterval(startMinute: 600, endMinute: 1080)]])
    let file = AttachmentRef(sha256: String(repeating: "ef", count: 32), filename: "отчёт.pdf", contentType: "application/pdf", size: 4096)
    return [
        .accountCreated(AccountCreated(name: "Acme Support", timeZone: "Europe/Moscow", defaultLanguage: "ru")),
        .staffAdded(StaffAdded(staff: "anna", name: "Anna Petrova", email: "anna@desk.example", role: .staff, isDeveloper: false)),
        .staffChanged(StaffChanged(staff: "anna", name: "Anna P.", email: "ap@desk.example", role: .manager, isDeveloper: true,
                                   signature: "Anna\nAcme Support", active: false)),
        .brainMembersSet(BrainMembersSet(members: ["max", "olga"])),
        .calendarDefined(CalendarDefined(calendar: calendar)),
        .slaTierDefined(SLATierDefined(tier: SLATier(id: "vip", name: "VIP", calendarId: "moscow", reactionHours: 2.5, resolutionHours: 8),
                                       isDefault: true)),
        .escalationRuleSet(EscalationRuleSet(rule: EscalationRule(afterBusinessHours: 2, manager: "max"))),
        .visibilitySet(VisibilitySet(settings: VisibilitySettings(onlyNotified: true, organisationSharing: true))),
        .payrollFormulaPublished(PayrollFormulaPublished(version: 3, effectiveFrom: day, source: "amount = \"x\" == \"x\"\n", note: "n")),
        .tokenIssued(TokenIssued(hash: String(repeating: "b", count: 64), party: .contact("c1"), label: "portal invitation")),
        .tokenRevoked(TokenRevoked(hash: String(repeating: "b", count: 64), by: .staff("olga"))),
        .organisationCreated(OrganisationCreated(organisation: "acme", name: "Acme", tierId: "vip", domains: ["acme.example"])),
        .organisationChanged(OrganisationChanged(organisation: "acme", name: "Acme plc", tierId: "", domains: [])),
        .premiumQuotaPurchased(PremiumQuotaPurchased(organisation: "acme", tickets: 10, note: "invoice 17")),
        .premiumQuotaUsed(PremiumQuotaUsed(organisation: "acme", ticket: 7)),
        .contactCreated(ContactCreated(contact: "c1", name: "Иван", emails: ["ivan@acme.example"], phones: ["+79001112233"],
                                       organisation: "acme", language: "ru", automatic: true)),
        .contactChanged(ContactChanged(contact: "c1", name: "Ivan", language: "en", organisation: "globex")),
        .contactEmailAttached(ContactEmailAttached(contact: "c1", email: "ivan@home.example")),
        .contactPhoneAttached(ContactPhoneAttached(contact: "c1", phone: "+74950000000")),
        .contactMerged(ContactMerged(contact: "auto-4", into: "c1")),
        .contactAbsorbed(ContactAbsorbed(contact: "c1", duplicate: "auto-4", emails: ["a@b.example"], phones: ["123"])),
        .portalAccessChanged(PortalAccessChanged(contact: "c1", granted: true)),
        .contactNoteAdded(ContactNoteAdded(contact: "c1", author: "anna", text: "VIP, be nice")),
        .ticketOpened(TicketOpened(ticket: 7, channel: .webForm, subject: "Printer", body: "🔥 it burns", contact: "c1",
                                   organisation: "acme", language: "ru", openedBy: .system("mail"), premium: false,
                                   premiumRefused: "Acme has no premium tickets left", participants: ["anna", "max"], tierId: "vip",
                                   reactionDue: utc("2025-03-10T08:00:00Z"), resolutionDue: utc("2025-03-10T14:00:00Z"),
                                   escalationDue: utc("2025-03-10T08:00:00Z"), attachments: [file], externalId: "<abc@mail.example>",
                                   origin: TicketOrigin(splitFrom: 3, comment: 4))),
        .ticketAccepted(TicketAccepted(ticket: 7, by: "anna")),
        .participantAdded(ParticipantAdded(ticket: 7, staff: "dev", role: .coExecutor, by: .staff("anna"))),
        .participantRemoved(ParticipantRemoved(ticket: 7, staff: "dev", role: .participant, by: .staff("dev"))),
        .ticketReassigned(TicketReassigned(ticket: 7, from: "anna", to: "boris", by: "max")),
        .ticketEscalated(TicketEscalated(ticket: 7, manager: "max", afterBusinessHours: 2)),
        .commentAdded(CommentAdded(ticket: 7, comment: 2, author: .contact("c1"), text: "Ещё вопрос", isInternal: false,
                                   notify: [.staff("anna"), .contact("c1")], attachments: [file], channel: .email, externalId: "<def@x>")),
        .deliveryRecorded(DeliveryRecorded(ticket: 7, comment: 2, recipient: .contact("c1"), status: .failed, detail: "550 no such user")),
        .mailReceived(MailReceived(messageId: "reply-2@mail.example", from: "ivan@acme.example", subject: "Re: [#7] Printer",
                                   raw: String(repeating: "ab", count: 32), ticket: 7, comment: 3, threadedBy: "token", note: nil)),
        .statusChanged(StatusChanged(ticket: 7, from: .accepted, to: .postponed, by: .staff("anna"), reason: "holidays",
                                     until: utc("2025-03-12T09:00:00Z"))),
        .ticketClassified(TicketClassified(ticket: 7, classification: Classification(
            type: .changeRequest, firstLine: .answeredInFAQ, direction: "Billing", directionType: "Invoices", complexity: 2,
            criticality: .critical, category: "printers", plannedMinutes: 45, expectedDate: day), by: "anna")),
        .levelChanged(LevelChanged(ticket: 7, from: .l1, to: .l3, by: "anna")),
        .commentSplitOff(CommentSplitOff(ticket: 7, comment: 2, newTicket: 8, by: "anna")),
        .ticketMerged(TicketMerged(ticket: 9, into: 7, by: "anna")),
        .duplicateMergedIn(DuplicateMergedIn(ticket: 7, duplicate: 9, by: "anna")),
        .markedAsSpam(MarkedAsSpam(ticket: 9, by: "boris")),
        .timeLogged(TimeLogged(ticket: 7, staff: "dev", minutes: 90, on: day, note: "debugging")),
        .answerEvaluated(AnswerEvaluated(ticket: 7, staff: "anna", evaluation: AnswerEvaluation(kind: 4, volume: .long, links: 3,
                                                                                               screenshots: 2, help: 2))),
        .answerRated(AnswerRated(ticket: 7, contact: "c1", comment: 2, score: 4, text: "Quick, thanks")),
    ]
}()

/// Events whose optional fields are all absent.
let sparseEvents: [DeskEvent] = [
    .staffChanged(StaffChanged(staff: "anna")),
    .escalationRuleSet(EscalationRuleSet(rule: nil)),
    .organisationChanged(OrganisationChanged(organisation: "acme")),
    .contactChanged(ContactChanged(contact: "c1")),
    opened(1, organisation: nil),
    .ticketReassigned(TicketReassigned(ticket: 1, from: nil, to: "anna", by: "max")),
    .commentAdded(CommentAdded(ticket: 1, comment: 2, author: .staff("anna"), text: "", isInternal: true, notify: [], attachments: [],
                               channel: nil, externalId: nil)),
    .statusChanged(StatusChanged(ticket: 1, from: .new, to: .closed, by: .staff("max"), reason: nil, until: nil)),
    .answerRated(AnswerRated(ticket: 1, contact: "c1", comment: nil, score: 1, text: nil)),
]

/// AnswerRated as schema 1 wrote it.
struct OldRating: Encodable {
    var ticket: Int
    var contact: String
    var stars: Int
}

/// Empty collections followed by more fields: the compact form must keep every field after them.
let eventsWithEmptyCollections: [DeskEvent] = [
    .contactCreated(ContactCreated(contact: "auto-4", name: "+7 912", emails: [], phones: ["+7912"], organisation: "acme",
                                   language: "ru", automatic: true)),
    .contactAbsorbed(ContactAbsorbed(contact: "c1", duplicate: "auto-4", emails: [], phones: [])),
    .commentAdded(CommentAdded(ticket: 1, comment: 2, author: .contact("c1"), text: "re", isInternal: false, notify: [.staff("anna")],
                               attachments: [], channel: .email, externalId: "<reply@mail.example>")),
    .commentAdded(CommentAdded(ticket: 1, comment: 2, author: .staff("anna"), text: "x", isInternal: true, notify: [],
                               attachments: [AttachmentRef(sha256: "a", filename: "b", contentType: "c", size: 1)], channel: nil, externalId: nil)),
    .calendarDefined(CalendarDefined(calendar: moscowCalendar)),
    .calendarDefined(CalendarDefined(calendar: roundTheClock)),
    .ticketOpened(TicketOpened(ticket: 1, channel: .email, subject: "s", body: "b", contact: "c1", organisation: nil, language: "ru",
                               openedBy: .system("mail"), premium: false, premiumRefused: nil, participants: [], tierId: "vip",
                               reactionDue: nil, resolutionDue: nil, escalationDue: nil, attachments: [], externalId: "<id@mail.example>",
                               origin: nil)),
    .brainMembersSet(BrainMembersSet(members: [])),
]

@Suite("EventCodec")
struct CodecTests {
    @Test("the samples cover every event type")
    func samplesCoverEveryType() {
        let sampled = oneOfEveryEvent.map(\.type)
        #expect(Set(sampled).count == sampled.count)
        #expect(Set(sampled) == Set(DeskEvent.payloadTypes.map { $0.type }))
        #expect(sampled.count == 42)
    }

    @Test("every event round-trips", arguments: oneOfEveryEvent + sparseEvents)
    func roundTrip(_ event: DeskEvent) throws {
        let encoded = try EventCodec.encode(event)
        #expect(encoded.type == event.type)
        #expect(encoded.schemaVersion == (event.type == "AnswerRated" ? 2 : 1))
        #expect(EventCodec.isKnown(encoded.type))
        let decoded = try EventCodec.decode(type: encoded.type, schemaVersion: encoded.schemaVersion, payload: encoded.payload)
        #expect(decoded == event)
        #expect(DeskEvent.payloadTypes[event.kindIndex].type == event.type, "kindIndex names the event's type")
        let ifKnown = try encoded.payload.withUnsafeBytes {
            try EventCodec.decodeIfKnown(type: encoded.type, schemaVersion: encoded.schemaVersion, bytes: $0)
        }
        #expect(ifKnown == event, "one lookup decodes the same")
        // Bytes are not compared: a Set (calendar holidays) may encode in another order after a round trip.
    }

    @Test("events with empty collections round-trip", arguments: eventsWithEmptyCollections)
    func emptyCollections(_ event: DeskEvent) throws {
        let encoded = try EventCodec.encode(event)
        #expect(try EventCodec.decode(type: encoded.type, schemaVersion: encoded.schemaVersion, payload: encoded.payload) == event)
        let json = Array(try EventCodec.makeEncoder().encode(event.payload))
        #expect(try EventCodec.decode(type: encoded.type, schemaVersion: encoded.schemaVersion, payload: json) == event)
    }

    @Test("JSON payloads (by hand, importers, early builds) decode too", arguments: oneOfEveryEvent + sparseEvents)
    func jsonRoundTrip(_ event: DeskEvent) throws {
        let json = Array(try EventCodec.makeEncoder().encode(event.payload))
        #expect(json.first == UInt8(ascii: "{"))
        let schema = Swift.type(of: event.payload).schemaVersion
        #expect(try EventCodec.decode(type: event.type, schemaVersion: schema, payload: json) == event)
    }

    @Test func payloadsAreCompactAndJSONIsReadable() throws {
        let event = DeskEvent.statusChanged(StatusChanged(ticket: 7, from: .waitingForClient, to: .postponed, by: .staff("anna"),
                                                          reason: nil, until: utc("2025-03-12T09:00:00Z")))
        #expect(try EventCodec.encode(event).payload.first == CompactCoding.marker)
        let json = try #require(String(bytes: try EventCodec.makeEncoder().encode(event.payload), encoding: .utf8))
        #expect(json.contains(#""until":"2025-03-12T09:00:00Z""#))
        #expect(json.contains(#""by":"staff:anna""#))
        #expect(json.contains(#""from":"waiting-for-client""#))
        #expect(!json.contains("reason"))
        // A hand-written JSON event.
        let typed = Array(#"{"ticket":7,"from":"waiting-for-client","to":"postponed","by":"staff:anna","until":"2025-03-12T09:00:00Z"}"#.utf8)
        #expect(try EventCodec.decode(type: "StatusChanged", schemaVersion: 1, payload: typed) == event)
    }

    @Test("AnswerRated schema 1 (stars 1…10) is upgraded to a score 1…5")
    func upgradesAnswerRatedV1() throws {
        let v1 = Array(#"{"ticket":1,"contact":"c1","stars":7}"#.utf8)
        #expect(try EventCodec.decode(type: "AnswerRated", schemaVersion: 1, payload: v1) ==
            .answerRated(AnswerRated(ticket: 1, contact: "c1", comment: nil, score: 4, text: nil)))
        // The same old shape in the compact form.
        let compact = try CompactCoding.encode(OldRating(ticket: 1, contact: "c1", stars: 7))
        #expect(try EventCodec.decode(type: "AnswerRated", schemaVersion: 1, payload: compact) ==
            .answerRated(AnswerRated(ticket: 1, contact: "c1", comment: nil, score: 4, text: nil)))
        for (stars, score) in [(1, 1), (2, 1), (3, 2), (9, 5), (10, 5)] {
            let p = Array(#"{"ticket":2,"contact":"c2","comment":3,"stars":\#(stars)}"#.utf8)
            #expect(try EventCodec.decode(type: "AnswerRated", schemaVersion: 1, payload: p) ==
                .answerRated(AnswerRated(ticket: 2, contact: "c2", comment: 3, score: score, text: nil)), "stars \(stars)")
        }
    }

    @Test("unknown types and future schema versions are refused")
    func unknownEvents() throws {
        func expectUnknown(_ type: String, _ version: UInt16, sourceLocation: SourceLocation = #_sourceLocation) {
            let u = #expect(throws: EventCodec.UnknownEvent.self, sourceLocation: sourceLocation) {
                try EventCodec.decode(type: type, schemaVersion: version, payload: Array(#"{"ticket":1,"by":"anna"}"#.utf8))
            }
            #expect(u?.type == type, sourceLocation: sourceLocation)
            #expect(u?.schemaVersion == version, sourceLocation: sourceLocation)
            #expect(u?.description.contains(type) == true, sourceLocation: sourceLocation)
        }
        expectUnknown("TicketExploded", 1)
        expectUnknown("ticketAccepted", 1)
        expectUnknown("TicketAccepted", 2)
        expectUnknown("TicketAccepted", 0)
        expectUnknown("AnswerRated", 3)
        expectUnknown("AnswerRated", 0)
        #expect(!EventCodec.isKnown("TicketExploded"))
        // Skipped (nil) when the type is unknown; a known type in a schema this build cannot read throws.
        let payload = Array(#"{"ticket":1,"by":"anna"}"#.utf8)
        #expect(try payload.withUnsafeBytes { try EventCodec.decodeIfKnown(type: "TicketExploded", schemaVersion: 1, bytes: $0) } == nil)
        #expect(throws: EventCodec.UnknownEvent.self) {
            try payload.withUnsafeBytes { try EventCodec.decodeIfKnown(type: "TicketAccepted", schemaVersion: 2, bytes: $0) }
        }
    }

    @Test func aDamagedPayloadIsADecodingError() {
        #expect(throws: DecodingError.self) {
            try EventCodec.decode(type: "TicketAccepted", schemaVersion: 1, payload: Array(#"{"ticket":"one","by":"anna"}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try EventCodec.decode(type: "CommentAdded", schemaVersion: 1, payload: Array(
                #"{"ticket":1,"comment":2,"author":"robot:x","text":"","isInternal":false,"notify":[],"attachments":[]}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try EventCodec.decode(type: "AnswerRated", schemaVersion: 1, payload: Array(#"{"ticket":1,"contact":"c1","score":4}"#.utf8))
        }
    }

    @Test("each event names its stream")
    func streams() {
        #expect(DeskEvent.accountCreated(AccountCreated(name: "a", timeZone: "UTC", defaultLanguage: "en")).stream == "account")
        #expect(DeskEvent.payrollFormulaPublished(PayrollFormulaPublished(version: 1, effectiveFrom: LocalDate(year: 2025, month: 1, day: 1),
                                                                          source: "amount = 1", note: nil)).stream == "account")
        #expect(DeskEvent.premiumQuotaUsed(PremiumQuotaUsed(organisation: "acme", ticket: 3)).stream == "org-acme")
        #expect(DeskEvent.contactAbsorbed(ContactAbsorbed(contact: "c1", duplicate: "auto-4", emails: [], phones: [])).stream == "contact-c1")
        #expect(DeskEvent.contactMerged(ContactMerged(contact: "auto-4", into: "c1")).stream == "contact-auto-4")
        #expect(DeskEvent.duplicateMergedIn(DuplicateMergedIn(ticket: 7, duplicate: 9, by: "anna")).stream == "ticket-7")
        #expect(DeskEvent.ticketMerged(TicketMerged(ticket: 9, into: 7, by: "anna")).stream == "ticket-9")
        #expect(Streams.ticketNumber("ticket-42") == 42)
        #expect(Streams.ticketNumber("contact-42") == nil)
        #expect(Set(oneOfEveryEvent.filter { $0.ticket != nil }.map(\.stream)) == ["ticket-7", "ticket-9"])
    }
}
