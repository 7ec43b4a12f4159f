import BusinessTime
import Foundation
import Testing
@testable import SupportDesk

@Suite("Organisations")
struct OrganisationTests {
    let state = given(desk)

    @Test func createOrganisation() throws {
        #expect(try when(state, anna, .createOrganisation(id: "initech", name: "Initech", tierId: "standard",
                                                         domains: [" Initech.Example ", "initech.ru"])) == [
            .organisationCreated(OrganisationCreated(organisation: "initech", name: "Initech", tierId: "standard",
                                                     domains: ["initech.example", "initech.ru"])),
        ])
        let body = CommandBody.createOrganisation(id: "initech", name: "Initech", tierId: nil, domains: [])
        expectRefused(state, auditor, body, .forbidden, "auditors")
        expectRefused(state, c1, body, .forbidden, "only staff")
        expectRefused(state, anna, .createOrganisation(id: "init tech", name: "Initech", tierId: nil, domains: []), .invalid, "organisation id")
        expectRefused(state, anna, .createOrganisation(id: "initech", name: " ", tierId: nil, domains: []), .invalid, "name is empty")
        expectRefused(state, anna, .createOrganisation(id: "acme", name: "Acme again", tierId: nil, domains: []), .conflict, "'acme' already exists")
        expectRefused(state, anna, .createOrganisation(id: "initech", name: "Initech", tierId: "gold", domains: []), .notFound, "no SLA tier 'gold'")
    }

    @Test func changeOrganisation() throws {
        #expect(try when(state, anna, .changeOrganisation(id: "acme", name: "Acme plc", tierId: nil, domains: ["ACME.example", "acme.ru"])) == [
            .organisationChanged(OrganisationChanged(organisation: "acme", name: "Acme plc", tierId: nil, domains: ["acme.example", "acme.ru"])),
        ])
        // The tier is the manager's decision (it sets SLA targets); "" clears it.
        expectRefused(state, anna, .changeOrganisation(id: "acme", name: nil, tierId: "standard", domains: nil), .forbidden, "manager role")
        #expect(try when(state, manager, .changeOrganisation(id: "acme", name: nil, tierId: "special", domains: nil)) == [
            .organisationChanged(OrganisationChanged(organisation: "acme", tierId: "special")),
        ])
        #expect(try when(state, manager, .changeOrganisation(id: "acme", name: nil, tierId: "", domains: nil)) == [
            .organisationChanged(OrganisationChanged(organisation: "acme", tierId: "")),
        ])
        expectRefused(state, manager, .changeOrganisation(id: "acme", name: nil, tierId: "gold", domains: nil), .notFound, "no SLA tier 'gold'")
        expectRefused(state, anna, .changeOrganisation(id: "initech", name: "X", tierId: nil, domains: nil), .notFound, "no organisation 'initech'")
        expectRefused(state, anna, .changeOrganisation(id: "acme", name: "", tierId: nil, domains: nil), .invalid, "name is empty")
        expectRefused(state, c1, .changeOrganisation(id: "acme", name: "Mine", tierId: nil, domains: nil), .forbidden, "only staff")
    }

    @Test func buyPremiumQuota() throws {
        #expect(try when(state, manager, .buyPremiumQuota(organisation: "globex", tickets: 10, note: "contract 5")) == [
            .premiumQuotaPurchased(PremiumQuotaPurchased(organisation: "globex", tickets: 10, note: "contract 5")),
        ])
        expectRefused(state, manager, .buyPremiumQuota(organisation: "initech", tickets: 1, note: nil), .notFound, "no organisation 'initech'")
        expectRefused(state, manager, .buyPremiumQuota(organisation: "acme", tickets: 0, note: nil), .invalid, "1…100000")
        expectRefused(state, manager, .buyPremiumQuota(organisation: "acme", tickets: 100_001, note: nil), .invalid, "1…100000")
        expectRefused(state, anna, .buyPremiumQuota(organisation: "acme", tickets: 1, note: nil), .forbidden, "manager role")
    }
}

@Suite("Contacts")
struct ContactTests {
    let state = given(desk)

    func create(_ id: ContactId = "c9", name: String = "Nina Novak", emails: [String] = ["nina@acme.example"],
                phones: [String] = [], org: OrganisationId? = "acme", language: String? = nil) -> CommandBody {
        .createContact(id: id, name: name, emails: emails, phones: phones, organisation: org, language: language)
    }

    @Test func createContactNormalisesAddresses() throws {
        let d = try Desk.decide(Command(actor: anna, create(emails: [" Nina@ACME.example "], phones: ["+7 (495) 000-00-00"])),
                                at: t0, state: state)
        #expect(d.events == [
            .contactCreated(ContactCreated(contact: "c9", name: "Nina Novak", emails: ["nina@acme.example"], phones: ["+74950000000"],
                                           organisation: "acme", language: "ru", automatic: false)),
        ])
        #expect(d.outcome.contact == "c9")
        #expect(try when(state, anna, create(org: nil, language: "en")) == [
            .contactCreated(ContactCreated(contact: "c9", name: "Nina Novak", emails: ["nina@acme.example"], phones: [],
                                           organisation: nil, language: "en", automatic: false)),
        ])
        // A card made by hand may have no address yet (e.g. from a phone call whose number was withheld).
        #expect(try when(state, anna, create(emails: [], phones: [])).count == 1)
    }

    @Test func createContactRefusals() {
        expectRefused(state, anna, create("c 9"), .invalid, "contact id")
        expectRefused(state, anna, create("c1"), .conflict, "contact 'c1' already exists")
        expectRefused(state, anna, create(emails: ["IVAN@acme.example"]), .conflict, "already belongs to contact 'c1'", "merge")
        expectRefused(state, anna, create(emails: [], phones: ["+7 900 111 22 33"]), .conflict, "phone", "already belongs to contact 'c1'")
        expectRefused(state, anna, create(emails: ["nina"]), .invalid, "'nina' is not an e-mail address")
        expectRefused(state, anna, create(emails: [], phones: ["12"]), .invalid, "'12' is not a phone number")
        expectRefused(state, anna, create(org: "initech"), .notFound, "no organisation 'initech'")
        expectRefused(state, anna, create(name: ""), .invalid, "name is empty")
        expectRefused(state, auditor, create(), .forbidden, "auditors")
        expectRefused(state, c1, create(), .forbidden, "only staff")
    }

    @Test func changeContact() throws {
        #expect(try when(state, anna, .changeContact(id: "c1", name: "Ivan I. Clientov", language: nil, organisation: "globex")) == [
            .contactChanged(ContactChanged(contact: "c1", name: "Ivan I. Clientov", organisation: "globex")),
        ])
        #expect(try when(state, anna, .changeContact(id: "c1", name: nil, language: nil, organisation: "")) == [
            .contactChanged(ContactChanged(contact: "c1", organisation: "")),
        ])
        // A client edits their own card (R13: their language), but not their organisation or anyone else's card.
        #expect(try when(state, c1, .changeContact(id: "c1", name: nil, language: "en", organisation: nil)) == [
            .contactChanged(ContactChanged(contact: "c1", language: "en")),
        ])
        expectRefused(state, c1, .changeContact(id: "c1", name: nil, language: nil, organisation: "globex"), .forbidden, "only staff change a contact's organisation")
        expectRefused(state, c1, .changeContact(id: "c2", name: "Petya", language: nil, organisation: nil), .forbidden, "own contact card")
        expectRefused(state, mailer, .changeContact(id: "c2", name: "Petya", language: nil, organisation: nil), .forbidden, "own contact card")
        expectRefused(state, auditor, .changeContact(id: "c2", name: "Petya", language: nil, organisation: nil), .forbidden, "auditors")
        expectRefused(state, anna, .changeContact(id: "c1", name: nil, language: nil, organisation: "initech"), .notFound, "no organisation 'initech'")
        expectRefused(state, anna, .changeContact(id: "c1", name: "  ", language: nil, organisation: nil), .invalid, "name is empty")
        expectRefused(state, anna, .changeContact(id: "c99", name: "X", language: nil, organisation: nil), .notFound, "no contact 'c99'")
    }

    @Test func attachEmail() throws {
        #expect(try when(state, anna, .attachEmail(contact: "c1", email: " Ivan.Home@Mail.Example ")) == [
            .contactEmailAttached(ContactEmailAttached(contact: "c1", email: "ivan.home@mail.example")),
        ])
        expectRefused(state, anna, .attachEmail(contact: "c1", email: "Petr@acme.example"), .conflict, "already belongs to contact 'c2'")
        expectRefused(state, anna, .attachEmail(contact: "c1", email: "ivan at home"), .invalid, "not an e-mail address")
        expectRefused(state, anna, .attachEmail(contact: "c99", email: "x@y.example"), .notFound, "no contact 'c99'")
        expectRefused(state, c1, .attachEmail(contact: "c1", email: "x@y.example"), .forbidden, "only staff")
    }

    @Test func attachingAnAddressTheContactAlreadyHasChangesNothing() {
        expectRefused(state, anna, .attachEmail(contact: "c1", email: "IVAN@acme.example"), .conflict, "already")
        expectRefused(state, anna, .attachPhone(contact: "c1", phone: "+7 900 111-22-33"), .conflict, "already")
    }

    @Test func attachPhone() throws {
        #expect(try when(state, anna, .attachPhone(contact: "c2", phone: " +7 (495) 123-45-67")) == [
            .contactPhoneAttached(ContactPhoneAttached(contact: "c2", phone: "+74951234567")),
        ])
        expectRefused(state, anna, .attachPhone(contact: "c2", phone: "+7 900 111-22-33"), .conflict, "already belongs to contact 'c1'")
        expectRefused(state, anna, .attachPhone(contact: "c2", phone: "ext. 12"), .invalid, "not a phone number")
        expectRefused(state, anna, .attachPhone(contact: "c99", phone: "+7 495 123"), .notFound, "no contact 'c99'")
        expectRefused(state, auditor, .attachPhone(contact: "c2", phone: "+7 495 123"), .forbidden, "auditors")
    }

    @Test func portalAccess() throws {
        #expect(try when(state, anna, .setPortalAccess(contact: "c1", granted: true)) == [
            .portalAccessChanged(PortalAccessChanged(contact: "c1", granted: true)),
        ])
        expectRefused(state, anna, .setPortalAccess(contact: "c1", granted: false), .conflict, "already revoked")
        let granted = given(desk + [.portalAccessChanged(PortalAccessChanged(contact: "c1", granted: true))])
        expectRefused(granted, anna, .setPortalAccess(contact: "c1", granted: true), .conflict, "already granted")
        #expect(try when(granted, anna, .setPortalAccess(contact: "c1", granted: false)) == [
            .portalAccessChanged(PortalAccessChanged(contact: "c1", granted: false)),
        ])
        expectRefused(state, c1, .setPortalAccess(contact: "c1", granted: true), .forbidden, "only staff")
    }

    @Test func contactNotes() throws {
        #expect(try when(state, anna, .addContactNote(contact: "c1", text: "Prefers phone calls")) == [
            .contactNoteAdded(ContactNoteAdded(contact: "c1", author: "anna", text: "Prefers phone calls")),
        ])
        expectRefused(state, anna, .addContactNote(contact: "c1", text: " \n "), .invalid, "note is empty")
        expectRefused(state, anna, .addContactNote(contact: "c99", text: "x"), .notFound, "no contact 'c99'")
        expectRefused(state, c1, .addContactNote(contact: "c1", text: "I am nice"), .forbidden, "only staff")
        expectRefused(state, auditor, .addContactNote(contact: "c1", text: "x"), .forbidden, "auditors")
    }
}

@Suite("Contacts: merging duplicates (R4)")
struct ContactMergeTests {
    /// An auto-created duplicate of Ivan (c1): another address and phone, portal access, and a ticket of its own.
    static let duplicate: [DeskEvent] = [
        .contactCreated(ContactCreated(contact: "auto-4", name: "ivan.home", emails: ["ivan.home@mail.example"], phones: ["+79990000000"],
                                       organisation: nil, language: "ru", automatic: true)),
        .portalAccessChanged(PortalAccessChanged(contact: "auto-4", granted: true)),
        opened(1, contact: "auto-4", organisation: nil, by: mailer, channel: .email),
    ]
    static let merged: [DeskEvent] = [
        .contactMerged(ContactMerged(contact: "auto-4", into: "c1")),
        .contactAbsorbed(ContactAbsorbed(contact: "c1", duplicate: "auto-4", emails: ["ivan.home@mail.example"], phones: ["+79990000000"])),
        .portalAccessChanged(PortalAccessChanged(contact: "c1", granted: true)),
    ]

    @Test func mergeRecordsBothSidesAndCarriesPortalAccess() throws {
        let state = given(desk + Self.duplicate)
        #expect(try when(state, anna, .mergeContacts(duplicate: "auto-4", into: "c1")) == Self.merged)
        // Without portal access on the duplicate (or with it already on the survivor) nothing is granted.
        let noPortal = given(desk + Self.duplicate + [.portalAccessChanged(PortalAccessChanged(contact: "auto-4", granted: false))])
        #expect(try when(noPortal, anna, .mergeContacts(duplicate: "auto-4", into: "c1")) == Array(Self.merged.prefix(2)))
        let both = given(desk + Self.duplicate + [.portalAccessChanged(PortalAccessChanged(contact: "c1", granted: true))])
        #expect(try when(both, anna, .mergeContacts(duplicate: "auto-4", into: "c1")) == Array(Self.merged.prefix(2)))
    }

    @Test func mergeRefusals() {
        let state = given(desk + Self.duplicate)
        expectRefused(state, anna, .mergeContacts(duplicate: "c1", into: "c1"), .invalid, "into itself")
        expectRefused(state, anna, .mergeContacts(duplicate: "c99", into: "c1"), .notFound, "no contact 'c99'")
        expectRefused(state, anna, .mergeContacts(duplicate: "c1", into: "c99"), .notFound, "no contact 'c99'")
        expectRefused(state, c1, .mergeContacts(duplicate: "auto-4", into: "c1"), .forbidden, "only staff")
        let after = given(desk + Self.duplicate + Self.merged)
        expectRefused(after, anna, .mergeContacts(duplicate: "auto-4", into: "c2"), .conflict, "'auto-4' was merged into 'c1'")
        expectRefused(after, anna, .mergeContacts(duplicate: "c2", into: "auto-4"), .conflict, "'auto-4' was merged into 'c1'")
        expectRefused(after, anna, .attachEmail(contact: "auto-4", email: "x@y.example"), .conflict, "merged into 'c1'")
        expectRefused(after, anna, .setPortalAccess(contact: "auto-4", granted: false), .conflict, "merged into 'c1'")
        expectRefused(after, anna, .changeContact(id: "auto-4", name: "X", language: nil, organisation: nil), .conflict, "merged into 'c1'")
        // A chain of merges names the final survivor.
        let chain = given(desk + Self.duplicate + Self.merged + [.contactMerged(ContactMerged(contact: "c1", into: "c2"))])
        expectRefused(chain, anna, .addContactNote(contact: "auto-4", text: "x"), .conflict, "merged into 'c2'")
    }

    @Test func aMergedContactResolvesToItsSurvivor() throws {
        let state = given(desk + Self.duplicate + Self.merged)
        // The duplicate's address now finds the survivor: no new contact.
        let events = try when(state, mailer, .openTicket(OpenTicket(channel: .email, subject: "Again", body: "Hi",
                                                                   contact: .email("Ivan.Home@mail.example", name: "Ivan"))))
        #expect(events.map(\.type) == ["TicketOpened"])
        #expect(openedPayload(events)?.contact == "c1")
        #expect(openedPayload(events)?.organisation == "acme")
        let byPhone = try when(state, anna, .openTicket(OpenTicket(channel: .phone, subject: "Call", body: "",
                                                                   contact: .phone("+7 999 000-00-00", name: nil))))
        #expect(openedPayload(byPhone)?.contact == "c1")
        // …and the address is the survivor's when someone else claims it.
        expectRefused(state, anna, .attachEmail(contact: "c2", email: "ivan.home@mail.example"), .conflict, "contact 'c1'")
        // The duplicate itself can no longer act.
        expectRefused(state, .contact("auto-4"), .openTicket(OpenTicket(channel: .portal, subject: "x", body: "y")),
                      .conflict, "merged into 'c1'")
    }

    @Test func theDuplicatesTicketsFollowTheSurvivor() throws {
        let state = given(desk + Self.duplicate + [accepted(1)] + Self.merged
                          + [commented(1, 2, by: anna, "Which printer?", notify: [.staff("anna"), .contact("c1")])])
        let events = try when(state, c1, commentBody(1, "The one on floor 2"))
        #expect(events == [commented(1, 3, by: c1, "The one on floor 2", notify: [.staff("anna"), .contact("c1")])])
        #expect(try when(state, c1, .rateAnswer(ticket: 1, comment: 2, score: 4, text: nil)) == [
            .answerRated(AnswerRated(ticket: 1, contact: "c1", comment: 2, score: 4, text: nil)),
        ])
        // Another client still cannot see it.
        expectRefused(state, c2, commentBody(1, "me too"), .notFound, "no ticket #1")
    }
}
