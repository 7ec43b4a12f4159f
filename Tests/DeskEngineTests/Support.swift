import BusinessTime
import EventLog
import Foundation
import SupportDesk
import Testing
@testable import DeskEngine

// Shared helpers of the DeskEngine tests: temporary LMDB folders, a small desk to run commands
// against, reading and folding the log, and bounded waiting.

/// A temporary directory removed when the value is deinitialised.
final class TempDir: @unchecked Sendable {
    let url: URL
    init() throws {
        url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("desk-engine-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The small desk most tests start from. All times come from the processor's clock.
enum Fixture {
    /// Monday 2 March 2026, 06:00 UTC (whole seconds).
    static let start = Date(timeIntervalSince1970: 1_772_431_200)
    static let admin = Party.staff("admin")
    static let boss = Party.staff("boss")

    /// Staff: admin (admin), boss (manager, escalation target), s1…s3 (staff), dev (developer),
    /// aud (auditor); calendars 24x7 and office; tiers "special" (24x7, default) and "standard"
    /// (office); escalation after 2 business hours to boss; organisations o1 (special, 2 premium
    /// tickets) and o2 (standard); contacts c1, c2 (o1), c3 (o2), c4 (no organisation).
    static func setupCommands(extraStaff: Int = 0) -> [Command] {
        var out: [Command] = []
        func add(_ body: CommandBody, by: Party = admin) { out.append(Command(actor: by, body)) }
        out.append(Command(actor: .system("setup"), .createAccount(
            name: "Test Desk", timeZone: "UTC", defaultLanguage: "en", admin: "admin", adminName: "Admin",
            adminEmail: "admin@desk.example")))
        add(.addStaff(id: "boss", name: "Boss", email: "boss@desk.example", role: .manager, isDeveloper: false))
        for s in ["s1", "s2", "s3"] {
            add(.addStaff(id: s, name: "Staff \(s)", email: "\(s)@desk.example", role: .staff, isDeveloper: false))
        }
        add(.addStaff(id: "dev", name: "Developer", email: "dev@desk.example", role: .staff, isDeveloper: true))
        add(.addStaff(id: "aud", name: "Auditor", email: "aud@desk.example", role: .auditor, isDeveloper: false))
        for i in 0..<extraStaff {
            add(.addStaff(id: "agent\(i)", name: "Agent \(i)", email: "agent\(i)@desk.example", role: .staff, isDeveloper: false))
        }
        add(.defineCalendar(.twentyFourSeven()))
        add(.defineCalendar(.weekdays(id: "office", name: "Office 9–18", timeZone: "UTC", from: 540, to: 1080)))
        add(.defineSLATier(SLATier(id: "special", name: "Special", calendarId: "24x7", reactionHours: 1, resolutionHours: 8),
                           isDefault: true))
        add(.defineSLATier(SLATier(id: "standard", name: "Standard", calendarId: "office", reactionHours: 4, resolutionHours: 40),
                           isDefault: false))
        add(.setEscalationRule(EscalationRule(afterBusinessHours: 2, manager: "boss")))
        add(.setVisibility(VisibilitySettings(onlyNotified: true, organisationSharing: true)))
        add(.createOrganisation(id: "o1", name: "Org One", tierId: "special", domains: ["o1.example"]))
        add(.createOrganisation(id: "o2", name: "Org Two", tierId: "standard", domains: ["o2.example"]))
        add(.buyPremiumQuota(organisation: "o1", tickets: 2, note: "invoice 1"))
        add(.createContact(id: "c1", name: "Client One", emails: ["c1@o1.example"], phones: ["+7 900 111-22-33"],
                           organisation: "o1", language: "ru"))
        add(.createContact(id: "c2", name: "Client Two", emails: ["c2@o1.example"], phones: [], organisation: "o1", language: nil))
        add(.createContact(id: "c3", name: "Client Three", emails: ["c3@o2.example"], phones: [], organisation: "o2", language: nil))
        add(.createContact(id: "c4", name: "Client Four", emails: ["c4@free.example"], phones: ["+44 20 7946 0000"],
                           organisation: nil, language: "en"))
        add(.setPortalAccess(contact: "c1", granted: true))
        return out
    }

    static func setUp(_ p: CommandProcessor, extraStaff: Int = 0) async throws {
        for c in setupCommands(extraStaff: extraStaff) { _ = try await p.execute(c) }
    }

    /// An e-mail ticket from c1 (organisation o1, 24/7 tier), opened by the mail intake.
    static func openFromC1(_ subject: String = "Import fails", id: String? = nil) -> Command {
        Command(id: id, actor: .system("mail"), .openTicket(OpenTicket(
            channel: .email, subject: subject, body: "Hello, \(subject).", contact: .email("c1@o1.example", name: nil))))
    }
}

/// Every record of the log, in order.
func allRecords(_ store: any EventStore) throws -> [RecordedEvent] {
    try store.readAll(from: 1, limit: .max)
}

func decode(_ r: RecordedEvent, _ decoder: JSONDecoder = EventCodec.makeDecoder()) throws -> DeskEvent {
    try EventCodec.decode(type: r.type, schemaVersion: r.schemaVersion, payload: r.payload, with: decoder)
}

/// The state rebuilt from the whole log, in log order, over a fresh `DeskState`.
func replay(_ store: any EventStore) throws -> DeskState {
    var s = DeskState()
    let d = EventCodec.makeDecoder()
    for r in try allRecords(store) { s.evolve(try decode(r, d), at: r.timestamp) }
    return s
}

/// One ticket rebuilt by folding only its own stream.
func foldTicket(_ store: any EventStore, _ n: TicketNumber) throws -> TicketState? {
    var s = DeskState()
    let d = EventCodec.makeDecoder()
    for r in try store.readStream(Streams.ticket(n)) { s.evolve(try decode(r, d), at: r.timestamp) }
    return s.tickets[n]
}

/// The records of one type (optionally of one stream).
func records(_ store: any EventStore, type: String, stream: String? = nil) throws -> [RecordedEvent] {
    try allRecords(store).filter { $0.type == type && (stream == nil || $0.stream == stream) }
}

/// `contactByEmail` / `contactByPhone` with every entry resolved to its surviving contact: what a
/// lookup answers (the raw map may name a merged-away contact, which lookups follow).
func resolvedAddresses(_ s: DeskState) -> (emails: [String: ContactId], phones: [String: ContactId]) {
    (s.contactByEmail.mapValues(s.survivor(of:)), s.contactByPhone.mapValues(s.survivor(of:)))
}

/// What the escalation work list should be, derived from ticket states.
func expectedEscalations(_ s: DeskState) -> [TicketNumber: Date] {
    var out: [TicketNumber: Date] = [:]
    for (n, t) in s.tickets where t.awaitsEscalation { out[n] = t.escalationDue }
    return out
}

/// Runs `body` and returns the `DomainError` it throws; records an issue when it throws something
/// else or nothing.
@discardableResult
func domainError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> DomainError? {
    do {
        try await body()
        Issue.record("expected a DomainError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let e as DomainError {
        return e
    } catch {
        Issue.record("expected a DomainError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Polls `condition` until it holds or `timeout` seconds pass; returns whether it held.
func eventually(timeout: Double = 5, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}

/// A fast LMDB store for tests that do not exercise durability itself.
func lmdbStore(_ dir: TempDir, durability: Durability = .durable) throws -> LMDBEventStore {
    try LMDBEventStore(directory: dir.url, options: LMDBOptions(durability: durability, initialMapSize: 64 << 20))
}
