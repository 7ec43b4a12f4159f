import BusinessTime
import Foundation
import Testing
@testable import SupportDesk

/// One command of every `CommandBody` case, with plausible arguments.
let oneOfEveryCommand: [CommandBody] = [
    .createAccount(name: "Acme Support", timeZone: "Europe/Moscow", defaultLanguage: "ru", admin: "olga",
                   adminName: "Olga Adminova", adminEmail: "olga@desk.example"),
    .addStaff(id: "zoe", name: "Zoe", email: "zoe@desk.example", role: .staff, isDeveloper: false),
    .changeStaff(id: "anna", name: "Anna P.", email: nil, role: nil, isDeveloper: nil, signature: nil, active: nil),
    .setBrain(members: ["max"]),
    .defineCalendar(moscowCalendar),
    .defineSLATier(vipTier, isDefault: false),
    .setEscalationRule(EscalationRule(afterBusinessHours: 2, manager: "max")),
    .setVisibility(VisibilitySettings(onlyNotified: true, organisationSharing: true)),
    .publishFormula(effectiveFrom: LocalDate(year: 2025, month: 4, day: 1), source: "amount = 100", note: nil),
    .issueToken(hash: String(repeating: "a", count: 64), party: .staff("olga"), label: "laptop"),
    .revokeToken(hash: String(repeating: "a", count: 64)),
    .createOrganisation(id: "initech", name: "Initech", tierId: nil, domains: []),
    .changeOrganisation(id: "acme", name: "Acme plc", tierId: nil, domains: nil),
    .buyPremiumQuota(organisation: "acme", tickets: 5, note: nil),
    .createContact(id: "c9", name: "Nina", emails: ["nina@acme.example"], phones: [], organisation: nil, language: nil),
    .changeContact(id: "c1", name: "Ivan C.", language: nil, organisation: nil),
    .attachEmail(contact: "c1", email: "ivan.home@mail.example"),
    .attachPhone(contact: "c1", phone: "+7 495 000-00-00"),
    .mergeContacts(duplicate: "c2", into: "c1"),
    .setPortalAccess(contact: "c1", granted: true),
    .addContactNote(contact: "c1", text: "Prefers phone calls"),
    .openTicket(OpenTicket(channel: .email, subject: "Help", body: "Please", contact: .email("ivan@acme.example", name: nil))),
    .acceptTicket(ticket: 1),
    .addParticipant(ticket: 1, staff: "dev", role: .participant),
    .removeParticipant(ticket: 1, staff: "dev", role: .participant),
    .reassign(ticket: 1, to: "boris"),
    .comment(ticket: 1, text: "Hello", internal: false, notify: nil, attachments: [], channel: nil, externalId: nil),
    .recordDelivery(ticket: 1, comment: 1, recipient: .contact("c1"), status: .delivered, detail: nil),
    .changeStatus(ticket: 1, to: .resolved, reason: nil, until: nil),
    .close(ticket: 1, evaluation: nil, reason: nil),
    .classify(ticket: 1, Classification(type: .incident)),
    .changeLevel(ticket: 1, to: .l2),
    .splitComment(ticket: 1, comment: 2, subject: nil),
    .mergeTicket(duplicate: 2, into: 1),
    .markSpam(ticket: 1),
    .logTime(ticket: 1, minutes: 30, on: nil, note: nil),
    .rateAnswer(ticket: 1, comment: nil, score: 5, text: nil),
    .escalate(ticket: 1),
    .receiveMail(InboundMail(messageId: "r1@acme.example", from: "ivan@acme.example", subject: "Re: [#1] Help", text: "Thanks",
                             raw: String(repeating: "0", count: 64), thread: 1, threadVia: "token", subjectTicket: 1)),
]

@Suite("Account: creation and the refusal of everything before it")
struct AccountCreationTests {
    @Test("the sample list names every CommandBody case once")
    func everyCaseSampled() {
        let names = oneOfEveryCommand.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.count == 39)
        #expect(names.first == "createAccount" && names.last == "receiveMail")
    }

    @Test("every command before createAccount is refused", arguments: oneOfEveryCommand.dropFirst())
    func refusedBeforeAccount(_ body: CommandBody) {
        for actor in [admin, Party.system("setup"), c1] {
            expectRefused(DeskState(), actor, body, .conflict, "account has not been created")
        }
        // Even with some configuration-looking history but no AccountCreated.
        expectRefused(given([staffAdded("olga", "Olga", .admin)]), admin, body, .conflict, "not been created")
    }

    @Test func createAccountRecordsTheAccountAndItsFirstAdmin() throws {
        let events = try when(DeskState(), .system("setup"),
                              .createAccount(name: "Acme Support", timeZone: "Europe/Moscow", defaultLanguage: "ru",
                                             admin: "olga", adminName: "Olga Adminova", adminEmail: " Olga@Desk.Example "))
        #expect(events == [
            .accountCreated(AccountCreated(name: "Acme Support", timeZone: "Europe/Moscow", defaultLanguage: "ru")),
            .staffAdded(StaffAdded(staff: "olga", name: "Olga Adminova", email: "olga@desk.example", role: .admin, isDeveloper: false)),
        ])
        let s = then(DeskState(), events)
        #expect(s.account.created && s.account.staff["olga"]?.role == .admin)
    }

    @Test func createAccountRefusals() {
        let body = { (name: String, tz: String, id: String, mail: String) in
            CommandBody.createAccount(name: name, timeZone: tz, defaultLanguage: "ru", admin: id, adminName: "Olga", adminEmail: mail)
        }
        let ok = body("Acme", "Europe/Moscow", "olga", "olga@desk.example")
        expectRefused(given(desk), .system("setup"), ok, .conflict, "already exists")
        expectRefused(DeskState(), admin, ok, .forbidden, "desk itself")
        expectRefused(DeskState(), c1, ok, .forbidden, "desk itself")
        expectRefused(DeskState(), .system("setup"), body("  ", "Europe/Moscow", "olga", "olga@desk.example"), .invalid, "account name is empty")
        expectRefused(DeskState(), .system("setup"), body(String(repeating: "x", count: 201), "UTC", "olga", "olga@desk.example"),
                      .invalid, "account name", "longer than 200")
        expectRefused(DeskState(), .system("setup"), body("Acme", "Mars/Olympus", "olga", "olga@desk.example"), .invalid, "Mars/Olympus")
        expectRefused(DeskState(), .system("setup"), body("Acme", "UTC", "olga admin", "olga@desk.example"), .invalid, "admin id")
        expectRefused(DeskState(), .system("setup"), body("Acme", "UTC", "", "olga@desk.example"), .invalid, "admin id")
        expectRefused(DeskState(), .system("setup"), body("Acme", "UTC", "olga", "olga.desk.example"), .invalid, "not an e-mail address")
        expectRefused(DeskState(), .system("setup"), body("Acme", "UTC", "olga", "olga@localhost"), .invalid, "not an e-mail address")
    }

    @Test func createAccountWithoutAnAdminNameIsRefused() {
        // addStaff refuses an empty name; the first admin should not be the exception.
        expectRefused(DeskState(), .system("setup"),
                      .createAccount(name: "Acme", timeZone: "UTC", defaultLanguage: "en", admin: "olga",
                                     adminName: " ", adminEmail: "olga@desk.example"), .invalid, "name")
    }
}

@Suite("Account: staff")
struct StaffTests {
    let state = given(desk)

    @Test func onlyAdminsAddStaff() throws {
        let body = CommandBody.addStaff(id: "zoe", name: "Zoe Novak", email: "Zoe@Desk.Example", role: .staff, isDeveloper: true)
        #expect(try when(state, admin, body) == [
            .staffAdded(StaffAdded(staff: "zoe", name: "Zoe Novak", email: "zoe@desk.example", role: .staff, isDeveloper: true)),
        ])
        expectRefused(state, manager, body, .forbidden, "admin role", "Max Managerov is manager")
        expectRefused(state, anna, body, .forbidden, "admin role")
        expectRefused(state, auditor, body, .forbidden, "auditors change nothing")
        expectRefused(state, former, body, .forbidden, "'ivan' is not an active staff member")
        expectRefused(state, Party.staff("nobody"), body, .forbidden, "'nobody' is not an active staff member")
        expectRefused(state, c1, body, .forbidden, "only staff")
        expectRefused(state, mailer, body, .forbidden, "only staff")
    }

    @Test func addStaffValidation() {
        func add(_ id: String, _ name: String = "Zoe", _ mail: String = "zoe@desk.example") -> CommandBody {
            .addStaff(id: id, name: name, email: mail, role: .staff, isDeveloper: false)
        }
        expectRefused(state, admin, add("zoe novak"), .invalid, "staff id")
        expectRefused(state, admin, add("zoë"), .invalid, "staff id")
        expectRefused(state, admin, add(String(repeating: "z", count: 101)), .invalid, "staff id", "1…100")
        expectRefused(state, admin, add("zoe", " \n"), .invalid, "name is empty")
        expectRefused(state, admin, add("zoe", "Zoe", "zoe@@desk.example"), .invalid, "not an e-mail address")
        expectRefused(state, admin, add("anna"), .conflict, "'anna' already exists")
    }

    @Test func everyoneChangesTheirOwnNameAndSignature() throws {
        let body = CommandBody.changeStaff(id: "anna", name: "Anna P.", email: nil, role: nil, isDeveloper: nil,
                                           signature: "Anna Petrova, Acme Support, +7 495 000-00-00", active: nil)
        #expect(try when(state, anna, body) == [
            .staffChanged(StaffChanged(staff: "anna", name: "Anna P.", signature: "Anna Petrova, Acme Support, +7 495 000-00-00")),
        ])
        // …but not somebody else's, and not their own role, e-mail or activity.
        expectRefused(state, boris, body, .forbidden, "admin role")
        expectRefused(state, anna, .changeStaff(id: "anna", name: nil, email: nil, role: .admin, isDeveloper: nil, signature: nil, active: nil),
                      .forbidden, "admin role")
        expectRefused(state, anna, .changeStaff(id: "anna", name: nil, email: "a@b.example", role: nil, isDeveloper: nil, signature: nil, active: nil),
                      .forbidden, "admin role")
        expectRefused(state, auditor, .changeStaff(id: "audrey", name: "A.", email: nil, role: nil, isDeveloper: nil, signature: nil, active: nil),
                      .forbidden, "auditors")
        expectRefused(state, c1, body, .forbidden, "only staff")
    }

    @Test func adminsChangeOthers() throws {
        let body = CommandBody.changeStaff(id: "anna", name: nil, email: " Anna.P@Desk.Example", role: .manager, isDeveloper: nil,
                                           signature: nil, active: nil)
        #expect(try when(state, admin, body) == [
            .staffChanged(StaffChanged(staff: "anna", email: "anna.p@desk.example", role: .manager)),
        ])
        expectRefused(state, manager, body, .forbidden, "admin role")
        expectRefused(state, admin, .changeStaff(id: "zed", name: "Z", email: nil, role: nil, isDeveloper: nil, signature: nil, active: nil),
                      .notFound, "no staff member 'zed'")
        expectRefused(state, admin, .changeStaff(id: "anna", name: "", email: nil, role: nil, isDeveloper: nil, signature: nil, active: nil),
                      .invalid, "name is empty")
        expectRefused(state, admin, .changeStaff(id: "anna", name: nil, email: "anna", role: nil, isDeveloper: nil, signature: nil, active: nil),
                      .invalid, "not an e-mail address")
        expectRefused(state, anna, .changeStaff(id: "anna", name: nil, email: nil, role: nil, isDeveloper: nil,
                                                signature: String(repeating: "s", count: 2001), active: nil),
                      .invalid, "signature", "2000")
        #expect(throws: Never.self) {
            try when(state, anna, .changeStaff(id: "anna", name: nil, email: nil, role: nil, isDeveloper: nil,
                                               signature: String(repeating: "s", count: 2000), active: nil))
        }
    }

    @Test func theLastAdminCannotDemoteOrDeactivateThemselves() throws {
        let demote = CommandBody.changeStaff(id: "olga", name: nil, email: nil, role: .manager, isDeveloper: nil, signature: nil, active: nil)
        let leave = CommandBody.changeStaff(id: "olga", name: nil, email: nil, role: nil, isDeveloper: nil, signature: nil, active: false)
        expectRefused(state, admin, demote, .conflict, "last active admin")
        expectRefused(state, admin, leave, .conflict, "last active admin")
        // An inactive second admin does not count.
        let inactiveSecond = given(desk + [staffAdded("petra", "Petra", .admin), .staffChanged(StaffChanged(staff: "petra", active: false))])
        expectRefused(inactiveSecond, admin, demote, .conflict, "last active admin")
        // With another active admin it is fine.
        let two = given(desk + [staffAdded("petra", "Petra", .admin)])
        #expect(try when(two, admin, demote) == [.staffChanged(StaffChanged(staff: "olga", role: .manager))])
        #expect(try when(two, admin, leave) == [.staffChanged(StaffChanged(staff: "olga", active: false))])
        // Keeping the admin role is no demotion.
        #expect(throws: Never.self) {
            try when(state, admin, .changeStaff(id: "olga", name: nil, email: nil, role: .admin, isDeveloper: nil, signature: nil, active: true))
        }
    }

    @Test func brainMembers() throws {
        #expect(try when(state, manager, .setBrain(members: ["audrey", "max", "audrey"])) == [
            .brainMembersSet(BrainMembersSet(members: ["audrey", "max"])),
        ])
        #expect(try when(state, admin, .setBrain(members: [])) == [.brainMembersSet(BrainMembersSet(members: []))])
        expectRefused(state, manager, .setBrain(members: ["max", "zed"]), .notFound, "no staff member 'zed'")
        expectRefused(state, anna, .setBrain(members: ["max"]), .forbidden, "manager role")
    }
}

@Suite("Account: calendars, SLA, escalation, visibility, formula")
struct ConfigurationTests {
    let state = given(desk)

    static let managerCommands: [CommandBody] = [
        .defineCalendar(BusinessCalendar.weekdays(id: "spb", name: "St Petersburg", timeZone: "Europe/Moscow", from: 540, to: 1080)),
        .defineSLATier(SLATier(id: "partner", name: "Partners", calendarId: "moscow", reactionHours: 5, resolutionHours: 40), isDefault: false),
        .setEscalationRule(EscalationRule(afterBusinessHours: 4, manager: "anna")),
        .setEscalationRule(nil),
        .setVisibility(VisibilitySettings(onlyNotified: true, organisationSharing: false)),
        .publishFormula(effectiveFrom: LocalDate(year: 2025, month: 4, day: 1), source: "amount = 100 * kind", note: "April"),
        .setBrain(members: ["max"]),
        .buyPremiumQuota(organisation: "acme", tickets: 3, note: nil),
    ]

    @Test("managers and admins configure; staff and auditors are forbidden", arguments: managerCommands)
    func managerOnly(_ body: CommandBody) throws {
        expectRefused(state, anna, body, .forbidden, "manager role", "Anna Petrova is staff")
        expectRefused(state, developer, body, .forbidden, "manager role")
        expectRefused(state, auditor, body, .forbidden, "auditors change nothing")
        expectRefused(state, c1, body, .forbidden, "only staff")
        #expect(try when(state, manager, body).count == 1)
        #expect(try when(state, admin, body).count == 1)
    }

    @Test func defineCalendar() throws {
        let holidays = BusinessCalendar(id: "moscow", name: "Moscow office", timeZone: "Europe/Moscow",
                                        week: moscowCalendar.week, holidays: [LocalDate(year: 2025, month: 3, day: 10)])
        #expect(try when(state, manager, .defineCalendar(holidays)) == [.calendarDefined(CalendarDefined(calendar: holidays))])
        var badId = moscowCalendar
        badId.id = "moscow office"
        expectRefused(state, manager, .defineCalendar(badId), .invalid, "calendar id")
    }

    @Test func anInvalidCalendarIsRefusedWithItsProblems() {
        let mars = BusinessCalendar(id: "mars", name: "Mars", timeZone: "Mars/Olympus",
                                    week: Array(repeating: [WorkingInterval(startMinute: 600, endMinute: 1140)], count: 6))
        expectRefused(state, manager, .defineCalendar(mars), .invalid, "not valid", "Mars/Olympus", "exactly 7 entries")
        let backwards = BusinessCalendar(id: "odd", name: "Odd", timeZone: "UTC",
                                         week: [[WorkingInterval(startMinute: 1140, endMinute: 600)]] + Array(repeating: [], count: 6))
        expectRefused(state, manager, .defineCalendar(backwards), .invalid, "Monday", "19:00–10:00", "out of range")
        let closed = BusinessCalendar(id: "closed", name: "Closed", timeZone: "UTC", week: Array(repeating: [], count: 7))
        expectRefused(state, manager, .defineCalendar(closed), .invalid, "no working time")
    }

    @Test func defineSLATier() throws {
        let partner = SLATier(id: "partner", name: "Partners fast", calendarId: "moscow", reactionHours: 3, resolutionHours: 16)
        #expect(try when(state, manager, .defineSLATier(partner, isDefault: true)) == [
            .slaTierDefined(SLATierDefined(tier: partner, isDefault: true)),
        ])
        var t = partner
        t.id = "partner fast"
        expectRefused(state, manager, .defineSLATier(t, isDefault: false), .invalid, "tier id")
        t = partner
        t.calendarId = "lunar"
        expectRefused(state, manager, .defineSLATier(t, isDefault: false), .notFound, "no calendar 'lunar'")
        for (reaction, resolution) in [(0.0, 8.0), (-1, 8), (4, 3), (1, 24 * 365 + 1)] {
            t = partner
            t.reactionHours = reaction
            t.resolutionHours = resolution
            expectRefused(state, manager, .defineSLATier(t, isDefault: false), .invalid, "targets must be positive")
        }
        t = partner
        t.reactionHours = 24
        t.resolutionHours = 24
        #expect(throws: Never.self) { try when(state, manager, .defineSLATier(t, isDefault: false)) }
    }

    @Test func escalationRule() throws {
        #expect(try when(state, manager, .setEscalationRule(EscalationRule(afterBusinessHours: 3, manager: "anna"))) == [
            .escalationRuleSet(EscalationRuleSet(rule: EscalationRule(afterBusinessHours: 3, manager: "anna"))),
        ])
        #expect(try when(state, manager, .setEscalationRule(nil)) == [.escalationRuleSet(EscalationRuleSet(rule: nil))])
        expectRefused(state, manager, .setEscalationRule(EscalationRule(afterBusinessHours: 2, manager: "audrey")),
                      .notFound, "no active staff member 'audrey'")
        expectRefused(state, manager, .setEscalationRule(EscalationRule(afterBusinessHours: 2, manager: "ivan")),
                      .notFound, "'ivan'")
        expectRefused(state, manager, .setEscalationRule(EscalationRule(afterBusinessHours: 2, manager: "zed")), .notFound, "'zed'")
        expectRefused(state, manager, .setEscalationRule(EscalationRule(afterBusinessHours: 0, manager: "max")), .invalid, "720")
        expectRefused(state, manager, .setEscalationRule(EscalationRule(afterBusinessHours: 721, manager: "max")), .invalid, "720")
        #expect(throws: Never.self) { try when(state, manager, .setEscalationRule(EscalationRule(afterBusinessHours: 720, manager: "max"))) }
    }

    @Test func visibility() throws {
        let v = VisibilitySettings(onlyNotified: true, organisationSharing: true)
        #expect(try when(state, manager, .setVisibility(v)) == [.visibilitySet(VisibilitySet(settings: v))])
    }

    @Test func publishFormulaNumbersVersions() throws {
        let from = LocalDate(year: 2025, month: 4, day: 1)
        let source = "base = choose(kind, 50, 100, 200, 400, 800)\namount = round(base * if(volume == \"long\", 1.5, 1), 2)"
        let d = try Desk.decide(Command(actor: manager, .publishFormula(effectiveFrom: from, source: source, note: "April")), at: t0, state: state)
        #expect(d.events == [.payrollFormulaPublished(PayrollFormulaPublished(version: 1, effectiveFrom: from, source: source, note: "April"))])
        #expect(d.outcome.formulaVersion == 1)
        // The next version follows the highest one published, whatever the order.
        let later = given(desk + [
            .payrollFormulaPublished(PayrollFormulaPublished(version: 4, effectiveFrom: from, source: "amount = 1", note: nil)),
            .payrollFormulaPublished(PayrollFormulaPublished(version: 2, effectiveFrom: from, source: "amount = 2", note: nil)),
        ])
        #expect(try when(later, admin, .publishFormula(effectiveFrom: from, source: "amount = 3", note: nil)) == [
            .payrollFormulaPublished(PayrollFormulaPublished(version: 5, effectiveFrom: from, source: "amount = 3", note: nil)),
        ])
    }

    @Test func aFormulaThatDoesNotParseIsInvalid() {
        let from = LocalDate(year: 2025, month: 4, day: 1)
        expectRefused(state, manager, .publishFormula(effectiveFrom: from, source: "amount = (1 +", note: nil), .invalid, "does not parse")
        expectRefused(state, manager, .publishFormula(effectiveFrom: from, source: "bonus = 1", note: nil), .invalid, "does not parse")
        expectRefused(state, manager, .publishFormula(effectiveFrom: LocalDate(year: 2025, month: 2, day: 30), source: "amount = 1", note: nil),
                      .invalid, "2025-02-30", "does not exist")
    }
}

@Suite("Tokens")
struct TokenTests {
    let hash = String(repeating: "c", count: 64)

    @Test("admins issue staff tokens, staff issue portal tokens only for contacts with portal access; owners and admins revoke")
    func tokens() throws {
        let base = given(desk)
        let issued = try when(base, .staff("olga"), .issueToken(hash: hash, party: .staff("anna"), label: "laptop"))
        #expect(issued == [.tokenIssued(TokenIssued(hash: hash, party: .staff("anna"), label: "laptop"))])
        // Staff may not issue tokens for others; a member may open another session of their own (web sign-in).
        expectRefused(base, .staff("anna"), .issueToken(hash: hash, party: .staff("boris"), label: ""), .forbidden, "admin")
        #expect(try when(base, .staff("anna"), .issueToken(hash: hash, party: .staff("anna"), label: "web session"))
                == [.tokenIssued(TokenIssued(hash: hash, party: .staff("anna"), label: "web session"))])
        expectRefused(base, .staff("olga"), .issueToken(hash: "ABC", party: .staff("anna"), label: ""), .invalid, "64")
        expectRefused(base, .staff("anna"), .issueToken(hash: hash, party: .contact("c1"), label: ""), .conflict, "portal access")
        let withToken = given(desk + issued)
        #expect(withToken.account.tokens[hash]?.party == .staff("anna"))
        expectRefused(withToken, .staff("olga"), .issueToken(hash: hash, party: .staff("olga"), label: ""), .conflict, "already")
        // The owner signs out; someone else may not revoke it unless admin.
        #expect(try when(withToken, .staff("anna"), .revokeToken(hash: hash)) == [.tokenRevoked(TokenRevoked(hash: hash, by: .staff("anna")))])
        expectRefused(withToken, .staff("boris"), .revokeToken(hash: hash), .forbidden, "admin")
        #expect(given(desk + issued + [.tokenRevoked(TokenRevoked(hash: hash, by: .staff("olga")))]).account.tokens[hash] == nil)
        // A contact with portal access may open another session of their own, not one for someone else.
        let portal = given(desk + [.portalAccessChanged(PortalAccessChanged(contact: "c1", granted: true))])
        #expect(try when(portal, .contact("c1"), .issueToken(hash: hash, party: .contact("c1"), label: "portal")).count == 1)
        expectRefused(portal, .contact("c1"), .issueToken(hash: hash, party: .staff("anna"), label: ""), .forbidden, "only staff")
    }
}
