import Crypto
import DeskEngine
import EventLog
import Foundation
import Logging
import MailDesk
import Projections
import ServiceLifecycle
import SupportDesk
import Synchronization

/// Who is asking, once their bearer token is checked.
public struct Principal: Sendable, Hashable {
    public var party: Party
    /// Staff role; nil for a client contact.
    public var role: Role?
    public var isClient: Bool { party.contactId != nil }
    public func atLeast(_ r: Role) -> Bool { (role ?? .auditor) >= r && role != nil }
}

public struct ServerOptions: Sendable {
    public var dataDirectory: URL
    public var host = "127.0.0.1"
    public var port = 8080
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes = 1 << 20
    /// The first admin's token on an empty data folder (default: a random one, printed once).
    public var adminToken: String?
    /// Generate a demo history (this many tickets) into an empty data folder.
    public var demoTickets: Int?
    public var durability: Durability = .durable
    /// The domain in the Message-IDs of outgoing mail (our thread tokens).
    public var mailDomain = "helpdesk.local"
    /// Outgoing mail: nil turns the sender off (the outbox still fills, and shows what would go out).
    public var mailSender: MailSenderOptions? = MailSenderOptions()
    public var mailLimits = MailLimits()
    /// Session cookies with `Secure` (browsers send them over https and to localhost only); turn off
    /// only for plain http beyond localhost.
    public var secureCookies = true
    /// Seconds between keep-alive comments on `/live` streams.
    public var liveHeartbeat: TimeInterval = 15
    /// Reuse rendered Chronicle pages and tickets while they hold (`ReadCache`); off for comparisons.
    public var readCache = true

    public init(dataDirectory: URL) { self.dataDirectory = dataDirectory }
}

/// The running desk: the log, the command processor, the projections and the escalation timer.
public final class DeskService: Sendable {
    public let store: LMDBEventStore
    public let processor: CommandProcessor
    public let view: DeskView
    public let runner: ProjectionRunner
    public let clock: any DeskClock
    public let options: ServerOptions
    public let outbox: Outbox
    public let blobs: BlobStore
    public let intake: MailIntake
    public let sender: MailSender?
    let metrics = ServerMetrics()
    /// Who has a ticket page open right now (its live stream), for "also viewing".
    let viewers = Viewers()
    /// What each staff member has seen: the Chronicle's unread marks.
    let seen = SeenMarks()
    /// Rendered Chronicle pages and tickets, reused while they hold (`ReadCache`).
    let readCache: ReadCache

    /// Opens (and on an empty folder creates) the desk. Returns the first admin's token when it created one.
    public static func open(_ options: ServerOptions, clock: any DeskClock = SystemClock(),
                            logger: Logger = Logger(label: "helpdesk")) async throws -> (DeskService, String?) {
        var lmdb = LMDBOptions()
        lmdb.durability = options.durability
        let store = try LMDBEventStore(directory: options.dataDirectory, options: lmdb)
        do {
            let processor = try CommandProcessor(store: store, clock: clock)
            var firstToken: String?
            if await !processor.account.created {
                if let demo = options.demoTickets {
                    logger.info("empty data folder: generating a demo history of \(demo) tickets")
                    _ = try await HistoryGenerator(.init(tickets: demo, seed: 1)).run(on: processor)
                } else {
                    _ = try await processor.execute(Command(actor: .system("setup"), .createAccount(
                        name: "Help desk", timeZone: TimeZone.current.identifier, defaultLanguage: "en",
                        admin: "admin", adminName: "Administrator", adminEmail: "admin@localhost.localdomain")))
                }
                let token = options.adminToken ?? Self.newToken()
                _ = try await processor.execute(Command(actor: .system("setup"), .issueToken(
                    hash: Self.hash(token), party: .staff("admin"), label: "first admin token")))
                firstToken = token
            } else if let token = options.adminToken, await processor.account.tokens[Self.hash(token)] == nil {
                _ = try await processor.execute(Command(actor: .system("setup"), .issueToken(
                    hash: Self.hash(token), party: .staff("admin"), label: "admin token from the command line")))
            }
            let view = DeskView()
            let outbox = Outbox()
            let runner = ProjectionRunner(store: store, projections: [view, outbox])
            try await runner.prepare()  // caught up before the server answers; `ProjectionService` follows on
            let blobs = try BlobStore(root: options.dataDirectory.appendingPathComponent("blobs"))
            let secret = try MailThreadToken.loadOrCreateSecret(at: options.dataDirectory.appendingPathComponent("mail-secret"))
            let token = MailThreadToken(secret: secret, domain: options.mailDomain)
            let intake = MailIntake(processor: processor, blobs: blobs, token: token, limits: options.mailLimits,
                                    ownAddress: options.mailSender?.fromAddress)
            let sender = options.mailSender.map {
                MailSender(processor: processor, outbox: outbox, runner: runner, blobs: blobs, token: token, options: $0, clock: clock)
            }
            let service = DeskService(store: store, processor: processor, view: view, runner: runner, clock: clock, options: options,
                                      outbox: outbox, blobs: blobs, intake: intake, sender: sender)
            try service.seen.load(store)
            return (service, firstToken)
        } catch {
            store.close()
            throw error
        }
    }

    init(store: LMDBEventStore, processor: CommandProcessor, view: DeskView, runner: ProjectionRunner, clock: any DeskClock,
         options: ServerOptions, outbox: Outbox, blobs: BlobStore, intake: MailIntake, sender: MailSender?) {
        self.outbox = outbox
        self.blobs = blobs
        self.intake = intake
        self.sender = sender
        self.store = store
        self.processor = processor
        self.view = view
        self.runner = runner
        self.clock = clock
        self.options = options
        self.readCache = ReadCache(limits: .init(enabled: options.readCache))
    }

    /// Stops the projections and closes the log (finishing every queued commit).
    public func close() {
        runner.stop()
        store.close()
    }

    static let invitationLabel = "portal invitation"

    /// A new random token (256 bits, URL-safe).
    public static func newToken() -> String {
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        return "hd_" + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public static func hash(_ token: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in SHA256.hash(data: Data(token.utf8)) {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The principal for a bearer token: staff must be active, contacts must have portal access.
    /// Read from the projection (a lock, no hop onto the command processor's actor); every command
    /// that issues or revokes a token is folded before its answer, so a new token works at once.
    public func authenticate(_ token: String) async -> Principal? {
        let h = Self.hash(token)
        return view.principal(forTokenHash: h).map { Principal(party: $0.party, role: $0.role) }
    }

    /// Runs a command for `principal`; waits until the projections have folded it (read-your-writes).
    func execute(_ body: CommandBody, as principal: Principal, idempotencyKey: String?, expectedVersion: UInt64?) async throws -> CommandOutcome {
        var command = Command(id: idempotencyKey.map { "http:\(principal.party):\($0)" }, actor: principal.party, body)
        command.expectedVersion = expectedVersion
        let outcome = try await processor.execute(command)
        if let last = outcome.sequences.max() { try await runner.waitUntil(last) }
        return outcome
    }
}

/// Runs the projections' follow loops as a service of the application's ServiceGroup: they stop at
/// graceful shutdown, after the HTTP server has finished its requests.
struct ProjectionService: Service {
    let runner: ProjectionRunner
    func run() async throws {
        runner.start()
        try? await gracefulShutdown()
        runner.stop()
    }
}

/// Runs the escalation timer as a service of the application's ServiceGroup.
struct EscalationService: Service {
    let timer: EscalationTimer
    func run() async throws {
        await cancelWhenGracefulShutdown { await timer.run() }
    }
}

/// Runs the mail sender as a service of the application's ServiceGroup.
struct MailSenderService: Service {
    let sender: MailSender
    func run() async throws {
        await cancelWhenGracefulShutdown { await sender.run() }
    }
}

/// Staff with a ticket page open (counted per open live stream).
final class Viewers: Sendable {
    private let state = Mutex<[TicketNumber: [StaffId: Int]]>([:])
    func enter(_ n: TicketNumber, _ staff: StaffId) { state.withLock { $0[n, default: [:]][staff, default: 0] += 1 } }
    func leave(_ n: TicketNumber, _ staff: StaffId) {
        state.withLock {
            let left = ($0[n]?[staff] ?? 1) - 1
            $0[n]?[staff] = left > 0 ? left : nil
            if $0[n]?.isEmpty == true { $0[n] = nil }
        }
    }
    func on(_ n: TicketNumber) -> [StaffId] { state.withLock { ($0[n] ?? [:]).keys.sorted() } }
}

/// The log position of the last activity each staff member saw on each ticket (opening its page marks
/// it read). Page state, not desk history: kept in the side database `web.seen`, not in the log.
final class SeenMarks: Sendable {
    static let db = "web.seen"
    private let state = Mutex<[StaffId: [TicketNumber: UInt64]]>([:])

    static func key(_ staff: StaffId, _ n: TicketNumber) -> [UInt8] {
        Array(staff.utf8) + [0] + withUnsafeBytes(of: UInt64(n).bigEndian) { Array($0) }
    }

    func load(_ store: any EventStore) throws {
        var loaded: [StaffId: [TicketNumber: UInt64]] = [:]
        try store.read { r in
            try r.scan(Self.db, from: []) { k, v in
                guard let zero = k.firstIndex(of: 0), k.count == zero + 9, v.count == 8 else { return true }
                let staff = String(decoding: UnsafeRawBufferPointer(rebasing: k[..<zero]), as: UTF8.self)
                let n = Int(UInt64(bigEndian: UnsafeRawBufferPointer(rebasing: k[(zero + 1)...]).loadUnaligned(as: UInt64.self)))
                loaded[staff, default: [:]][n] = UInt64(bigEndian: v.loadUnaligned(as: UInt64.self))
                return true
            }
        }
        state.withLock { $0 = loaded }
    }

    func seen(_ staff: StaffId, _ n: TicketNumber) -> UInt64 { state.withLock { $0[staff]?[n] ?? 0 } }

    func mark(_ staff: StaffId, _ n: TicketNumber, upTo sequence: UInt64, in store: any EventStore) async {
        let changed = state.withLock { s -> Bool in
            guard (s[staff]?[n] ?? 0) < sequence else { return false }
            s[staff, default: [:]][n] = sequence
            return true
        }
        guard changed else { return }
        let key = Self.key(staff, n), value = withUnsafeBytes(of: sequence.bigEndian) { Array($0) }
        _ = try? await store.write { w in try w.put(key, value, in: Self.db) }
    }
}
