import EventLog
import Foundation
import SupportDesk

/// Runs commands against the log: load state, decide, append, group commit.
///
/// One actor decides commands one at a time against state held in memory — the account, every
/// organisation and contact, and a bounded cache of tickets (loaded from their streams on a miss) — and
/// applies the decided events to that state at once, so the next command is decided against it while
/// the append is still committing. Appends are submitted in decision order, each with the exact stream
/// versions it was decided against, so the log refuses anything decided on a state it does not hold.
/// A caller is answered when its events are durable. If an append fails, the state it touched is
/// reloaded from the log.
///
/// In the same transaction as a command's events it writes, in side databases: the command id → its
/// outcome (idempotent retries survive restarts), the last ticket number, and the tickets waiting for
/// escalation with their due times (the escalation timer's work list after a restart).
public actor CommandProcessor {
    public nonisolated let store: any EventStore
    public let clock: any DeskClock
    private var state = DeskState()
    private let ticketCacheLimit: Int
    private var ticketStamp: [TicketNumber: UInt64] = [:]
    private var stamp: UInt64 = 0
    /// Tickets with events decided but not yet committed: never evicted.
    private var uncommitted: [TicketNumber: Int] = [:]
    /// Commands with an id that are being processed; retries wait for the first.
    private var inflight: [String: [CheckedContinuation<CommandOutcome, any Error>]] = [:]
    /// Tickets waiting for the escalation rule, with their due times.
    public private(set) var escalations: [TicketNumber: Date] = [:]
    private var escalationWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter: UInt64 = 0
    /// Bumped on every change of the work list, so that a waiter does not miss one made between
    /// reading the list and starting to wait.
    private var escalationGeneration: UInt64 = 0
    /// Tickets the timer gave up on (refused escalations) until the next restart.
    private var givenUp = Set<TicketNumber>()

    static let commandsDB = "desk.commands"
    static let metaDB = "desk.meta"
    static let escalationsDB = "desk.escalations"
    /// Message-ID of every e-mail received → its ticket (big-endian; 0 when set aside), written with the
    /// `MailReceived` event: the intake's duplicate check and its thread lookup by References.
    static let mailDB = "desk.mail"
    static let lastTicketKey = Array("lastTicket".utf8)

    /// Loads the account, organisations, contacts and the work lists from the log.
    public init(store: any EventStore, clock: any DeskClock = SystemClock(), ticketCacheLimit: Int = 20_000) throws {
        self.store = store
        self.clock = clock
        self.ticketCacheLimit = max(ticketCacheLimit, 16)
        let (loaded, escalations) = try Self.loadState(store)
        state = loaded
        self.escalations = escalations
    }

    // MARK: Queries

    public var account: AccountState { state.account }
    public var lastTicketNumber: TicketNumber { state.lastTicketNumber }
    public func organisation(_ id: OrganisationId) -> OrganisationState? { state.organisations[id] }
    public func contact(_ id: ContactId) -> ContactState? { state.contacts[id] }
    public var contacts: [ContactId: ContactState] { state.contacts }
    public var organisations: [OrganisationId: OrganisationState] { state.organisations }
    public func contact(byEmail email: String) -> ContactState? {
        state.contactByEmail[normalisedEmail(email)].map { state.survivor(of: $0) }.flatMap { state.contacts[$0] }
    }

    /// A ticket's current state (loaded from the log when it is not cached); nil when it does not exist.
    public func ticket(_ n: TicketNumber) throws -> TicketState? {
        try ensureTickets([n])
        return state.tickets[n]
    }

    /// Everything held in memory (tickets: only the cached ones). For tests and diagnostics.
    public func snapshot() -> DeskState { state }

    /// The earliest pending escalation.
    public func nextEscalation() -> (ticket: TicketNumber, due: Date)? {
        escalations.lazy.filter { !self.givenUp.contains($0.key) }
            .min { ($0.value, $0.key) < ($1.value, $1.key) }.map { ($0.key, $0.value) }
    }

    /// The earliest pending escalation and the work list's generation (for `waitForEscalationChange(after:)`).
    public func escalationWorkList() -> (next: (ticket: TicketNumber, due: Date)?, generation: UInt64) {
        (nextEscalation(), escalationGeneration)
    }

    /// Returns when the escalation work list changes (the timer's wake-up), or when cancelled.
    public func waitForEscalationChange() async {
        await waitForEscalationChange(after: escalationGeneration)
    }

    /// Returns once the work list has changed since `generation` (at once if it already has).
    public func waitForEscalationChange(after generation: UInt64) async {
        guard generation == escalationGeneration else { return }
        nextWaiter += 1
        let id = nextWaiter
        await withTaskCancellationHandler {
            await withCheckedContinuation { c in
                if Task.isCancelled { c.resume() } else { escalationWaiters[id] = c }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        escalationWaiters.removeValue(forKey: id)?.resume()
    }

    /// Takes a ticket off the escalation list until the next restart (the timer gives up on it).
    /// Its stored entry stays until the ticket stops waiting, so a restart tries again.
    public func dropEscalation(_ n: TicketNumber) {
        givenUp.insert(n)
    }

    /// The ticket an e-mail with this Message-ID went to: nil if it never arrived, 0 if it was set aside.
    public nonisolated func mailTicket(messageId: String) throws -> TicketNumber? {
        let key = Array(messageId.utf8)
        guard !key.isEmpty, key.count <= 500 else { return nil }
        return try store.read { r in
            try r.get(key, in: Self.mailDB).flatMap { v in
                v.count == 8 ? Int(v.withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) }) : nil
            }
        }
    }

    // MARK: Commands

    /// Decides and durably appends one command; returns its outcome, or throws a `DomainError`
    /// (nothing written) or a log error. `alsoWrite` goes into side databases in the same transaction
    /// as the command's events (e.g. the raw e-mail a `receiveMail` records), and only if it has events.
    public func execute(_ command: Command, alsoWrite: [SideWrite] = []) async throws -> CommandOutcome {
        if let id = command.id {
            if inflight[id] != nil {
                return try await withCheckedThrowingContinuation { inflight[id]!.append($0) }
            }
            if let done = try storedOutcome(id) {
                if let f = done.commandFingerprint, f != command.fingerprint {
                    throw DomainError(.conflict, "command id '\(id)' was already used for a different command")
                }
                return done
            }
            inflight[id] = []
        }
        do {
            let outcome = try await run(command, alsoWrite)
            if let id = command.id { for w in inflight.removeValue(forKey: id) ?? [] { w.resume(returning: outcome) } }
            return outcome
        } catch {
            if let id = command.id { for w in inflight.removeValue(forKey: id) ?? [] { w.resume(throwing: error) } }
            throw error
        }
    }

    /// Decides commands in the given order and appends them (group-committed together); answers each.
    /// The order of decisions, and so of ticket numbers, is the order given.
    public func execute(batch commands: [Command]) async -> [Result<CommandOutcome, any Error>] {
        var pending: [(Int, Task<CommandOutcome, any Error>)] = []
        var results = [Result<CommandOutcome, any Error>?](repeating: nil, count: commands.count)
        for (i, c) in commands.enumerated() {
            if c.id != nil {
                do { results[i] = .success(try await execute(c)) } catch { results[i] = .failure(error) }
                continue
            }
            do {
                let submitted = try submit(c)
                pending.append((i, Task { try await submitted() }))
            } catch {
                results[i] = .failure(error)
            }
        }
        for (i, t) in pending { results[i] = await t.result }
        return results.map { $0! }
    }

    private func run(_ command: Command, _ alsoWrite: [SideWrite] = []) async throws -> CommandOutcome {
        let wait = try submit(command, alsoWrite)
        return try await wait()
    }

    /// Decides `command`, applies it to the state and submits its append; returns a function that
    /// waits for the commit. Everything up to the submit happens without suspending.
    private func submit(_ command: Command, _ alsoWrite: [SideWrite] = []) throws -> @Sendable () async throws -> CommandOutcome {
        let at = Timestamp.date(fromMicros: Timestamp.micros(from: command.at ?? clock.now()))
        try ensureTickets(command.body.tickets)
        let decision = try Desk.decide(command, at: at, state: state)
        // Checked after deciding, so that a caller who may not see the ticket learns nothing from it.
        if let expected = command.expectedVersion, let n = command.body.tickets.first {
            let current = state.tickets[n]?.version ?? 0
            guard current == expected else {
                throw DomainError(.preconditionFailed, "ticket #\(n) is at version \(current), not \(expected); reload it and try again")
            }
        }
        if decision.events.isEmpty { return { [decision] in decision.outcome } }

        // Expected versions, per stream part, from the state the command was decided against.
        var parts: [(stream: String, expected: ExpectedVersion, events: [DeskEvent])] = []
        var versions: [String: UInt64] = [:]
        for e in decision.events {
            let stream = e.stream
            let before = versions[stream] ?? version(of: stream)
            if let last = parts.indices.last, parts[last].stream == stream {
                parts[last].events.append(e)
            } else {
                parts.append((stream, before == 0 ? .noStream : .exact(before), [e]))
            }
            versions[stream] = before + 1
        }
        // Apply at once: the next command is decided against this.
        let lastTicketBefore = state.lastTicketNumber
        var touchedTickets = Set<TicketNumber>()
        for e in decision.events {
            state.evolve(e, at: at)
            if let n = e.ticket { touchedTickets.insert(n) }
        }
        var escalationChanges: [(TicketNumber, Date?)] = []
        for n in touchedTickets {
            uncommitted[n, default: 0] += 1
            touch(n)
            let due = state.tickets[n].flatMap { $0.awaitsEscalation ? $0.escalationDue : nil }
            if escalations[n] != due {
                escalations[n] = due
                escalationChanges.append((n, due))
                if due == nil { givenUp.remove(n) }
            }
        }
        if !escalationChanges.isEmpty { wakeEscalationWaiters() }
        if state.tickets.count > ticketCacheLimit { evictTickets() }  // new tickets count too
        let newLastTicket = state.lastTicketNumber != lastTicketBefore ? state.lastTicketNumber : nil

        var decided = decision.outcome
        decided.versions = versions
        if command.id != nil { decided.commandFingerprint = command.fingerprint }
        let outcome = decided
        let changes = escalationChanges
        let tickets = touchedTickets
        let commandId = command.id
        let metadata = EventMetadata(actor: command.actor.description, correlationId: command.id)
        let frozenParts = parts
        let mailIds: [(String, TicketNumber)] = decision.events.compactMap {
            if case .mailReceived(let m) = $0 { (m.messageId, m.ticket ?? 0) } else { nil }
        }
        let body: @Sendable (any LogWriter) throws -> CommandOutcome = { w in
            var appends: [StreamAppend] = []
            appends.reserveCapacity(frozenParts.count)
            for p in frozenParts {
                let events = try p.events.map { e -> NewEvent in
                    let enc = try EventCodec.encode(e)
                    return NewEvent(type: enc.type, schemaVersion: enc.schemaVersion, timestamp: at, metadata: metadata, payload: enc.payload)
                }
                appends.append(StreamAppend(stream: p.stream, expected: p.expected, events: events))
            }
            var result = outcome
            result.sequences = try w.append(appends).positions.map(\.sequence)
            for (n, due) in changes {
                let key = Self.ticketKey(n)
                if let due {
                    try w.put(key, withUnsafeBytes(of: Timestamp.micros(from: due).bigEndian) { Array($0) }, in: Self.escalationsDB)
                } else {
                    try w.delete(key, in: Self.escalationsDB)
                }
            }
            if let n = newLastTicket {
                try w.put(Self.lastTicketKey, Self.ticketKey(n), in: Self.metaDB)
            }
            for (id, n) in mailIds { try w.put(Array(id.utf8), Self.ticketKey(n), in: Self.mailDB) }
            for x in alsoWrite { try w.put(x.key, x.value, in: x.database) }
            if let commandId {
                try w.put(Array(commandId.utf8), try CompactCoding.encode(result), in: Self.commandsDB)
            }
            return result
        }
        let streams = Set(parts.map(\.stream))
        let store = self.store
        // Submitted now, in decision order; the returned function only waits.
        let result = Pending()
        store.submit(body) { result.complete($0) }
        return { [weak self] in
            let r = await result.value()
            await self?.finished(tickets, streams: streams, failed: r.failure)
            return try r.get()
        }
    }

    private func finished(_ tickets: Set<TicketNumber>, streams: Set<String>, failed: (any Error)?) {
        for n in tickets {
            let left = (uncommitted[n] ?? 1) - 1
            uncommitted[n] = left > 0 ? left : nil
        }
        guard failed != nil else { return }
        // The append did not happen: what was applied in memory must go. Tickets are reloaded on next
        // use; anything else is reloaded from the log now.
        for n in tickets where uncommitted[n] == nil {
            state.tickets[n] = nil
            ticketStamp[n] = nil
        }
        do {
            let (loaded, esc) = try Self.loadState(store)
            do {
                let cached = state.tickets.filter { uncommitted[$0.key] != nil }
                state = loaded
                state.tickets = cached
                escalations = esc
            }
        } catch {
            // The log cannot be read either; the next command will fail the same way.
        }
    }

    // MARK: State loading

    private func version(of stream: String) -> UInt64 {
        if stream == Streams.account { return state.account.version }
        if stream.hasPrefix("org-") { return state.organisations[String(stream.dropFirst(4))]?.version ?? 0 }
        if stream.hasPrefix("contact-") { return state.contacts[String(stream.dropFirst(8))]?.version ?? 0 }
        if let n = Streams.ticketNumber(stream) { return state.tickets[n]?.version ?? 0 }
        if stream == Streams.mail { return state.mailVersion }
        return 0
    }

    private func touch(_ n: TicketNumber) {
        stamp += 1
        ticketStamp[n] = stamp
    }

    /// Makes sure the named tickets are in the cache (loading them from the log), then trims the cache.
    private func ensureTickets(_ numbers: [TicketNumber]) throws {
        let missing = numbers.filter { state.tickets[$0] == nil && $0 >= 1 && $0 <= state.lastTicketNumber }
        if !missing.isEmpty {
            let decoder = EventCodec.makeDecoder()
            var loaded = DeskState()  // ticket events fold on their own; never copy the whole state
            try store.read { r in
                for n in missing {
                    try r.forEachStreamRecord(Streams.ticket(n), from: 1, backward: false) { _, raw in
                        let rec = try RecordFormat.decode(raw)
                        loaded.evolve(try EventCodec.decode(type: rec.type, schemaVersion: rec.schemaVersion,
                                                            payload: rec.payload, with: decoder), at: rec.timestamp)
                        return true
                    }
                }
            }
            for n in missing { state.tickets[n] = loaded.tickets[n] }
            // A merged ticket's original is needed too (mail threads into it).
            let originals = missing.compactMap { state.tickets[$0]?.mergedInto }.filter { state.tickets[$0] == nil }
            if !originals.isEmpty { try ensureTickets(originals) }
        }
        for n in numbers { touch(n) }
        if state.tickets.count > ticketCacheLimit { evictTickets() }
    }

    /// Drops the least recently used half of the cache (never tickets with uncommitted events).
    private func evictTickets() {
        let keep = ticketCacheLimit / 2
        let order = ticketStamp.sorted { $0.value > $1.value }
        for (n, _) in order.dropFirst(keep) where uncommitted[n] == nil {
            state.tickets[n] = nil
            ticketStamp[n] = nil
        }
        for n in state.tickets.keys where ticketStamp[n] == nil { touch(n) }
    }

    private func storedOutcome(_ id: String) throws -> CommandOutcome? {
        guard !id.isEmpty, id.utf8.count <= 300 else { throw DomainError(.invalid, "a command id is 1…300 bytes") }
        guard let bytes = try store.read({ try $0.get(Array(id.utf8), in: Self.commandsDB) }) else { return nil }
        return try CompactCoding.decode(CommandOutcome.self, from: bytes)
    }

    static func ticketKey(_ n: TicketNumber) -> [UInt8] { withUnsafeBytes(of: UInt64(n).bigEndian) { Array($0) } }

    /// Folds the account, every organisation and contact; reads the work lists.
    static func loadState(_ store: any EventStore) throws -> (DeskState, [TicketNumber: Date]) {
        var state = DeskState()
        var escalations: [TicketNumber: Date] = [:]
        let decoder = EventCodec.makeDecoder()
        try store.read { r in
            func fold(_ stream: String) throws {
                try r.forEachStreamRecord(stream, from: 1, backward: false) { _, raw in
                    let rec = try RecordFormat.decode(raw)
                    state.evolve(try EventCodec.decode(type: rec.type, schemaVersion: rec.schemaVersion,
                                                       payload: rec.payload, with: decoder), at: rec.timestamp)
                    return true
                }
            }
            try fold(Streams.account)
            var streams: [String] = []
            try r.forEachStream(prefix: "org-") { name, _ in streams.append(name); return true }
            try r.forEachStream(prefix: "contact-") { name, _ in streams.append(name); return true }
            for s in streams { try fold(s) }
            try r.forEachStream(prefix: Streams.mail) { name, head in
                if name == Streams.mail { state.mailVersion = head.version }
                return false
            }
            if let v = try r.get(lastTicketKey, in: metaDB), v.count == 8 {
                state.lastTicketNumber = Int(v.withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) })
            }
            try r.scan(escalationsDB, from: []) { k, v in
                guard k.count == 8, v.count == 8 else { return true }
                let n = Int(UInt64(bigEndian: k.loadUnaligned(as: UInt64.self)))
                escalations[n] = Timestamp.date(fromMicros: Int64(bitPattern: UInt64(bigEndian: v.loadUnaligned(as: UInt64.self))))
                return true
            }
        }
        return (state, escalations)
    }

    private func wakeEscalationWaiters() {
        escalationGeneration &+= 1
        let w = escalationWaiters
        escalationWaiters = [:]
        for c in w.values { c.resume() }
    }
}

/// A value written to a side database together with a command's events.
public struct SideWrite: Sendable {
    public var database: String
    public var key: [UInt8]
    public var value: [UInt8]
    public init(database: String, key: [UInt8], value: [UInt8]) {
        self.database = database
        self.key = key
        self.value = value
    }
}

/// A one-shot result that one waiter awaits.
final class Pending: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<CommandOutcome, any Error>?
    private var waiter: CheckedContinuation<Result<CommandOutcome, any Error>, Never>?

    func complete(_ r: Result<CommandOutcome, any Error>) {
        lock.lock()
        if let w = waiter {
            waiter = nil
            lock.unlock()
            w.resume(returning: r)
        } else {
            result = r
            lock.unlock()
        }
    }

    func value() async -> Result<CommandOutcome, any Error> {
        await withCheckedContinuation { c in
            lock.lock()
            if let r = result {
                lock.unlock()
                c.resume(returning: r)
            } else {
                waiter = c
                lock.unlock()
            }
        }
    }
}

extension Result {
    var failure: Failure? { if case .failure(let e) = self { e } else { nil } }
}
