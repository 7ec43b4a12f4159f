import EventLog
import Foundation
import SupportDesk
import Synchronization

/// A read model: a pure fold over desk events, persisted in LMDB side databases with its checkpoint
/// in the same transaction (exactly-once: after a crash it resumes from the checkpoint, and what it
/// wrote matches that checkpoint).
///
/// Implementations keep their state in memory for queries, guarded by their own lock, and write the
/// rows that changed since the last flush in `flush`.
public protocol Projection: AnyObject, Sendable {
    /// Unique; also names its checkpoint (`proj.NAME`).
    var name: String { get }
    /// Bump when the fold changes: a projection whose stored version differs rebuilds itself at start.
    var codeVersion: Int { get }
    /// The side databases it owns (cleared by a rebuild).
    var databases: [String] { get }
    /// Forgets everything (before a rebuild).
    func reset()
    /// Folds a batch of events, in log order. The records carry only their sequence, type, schema
    /// version, timestamp and actor (`RecordFormat.decodeForFold`): no payload (the event is there
    /// decoded), hash, stream, version, id, correlation or causation.
    func apply(_ batch: ArraySlice<(event: DeskEvent, record: RecordedEvent)>)
    /// Work on a batch that needs nothing but the batch (no state of the projection): a rebuild
    /// runs it on the thread that read the batch, off the fold's critical path, and hands what it
    /// returns to `apply(_:prepared:)` with each slice of that batch (slices keep the batch's
    /// indexes). `lists`: the notify lists the batch's events were decoded with, for lists made
    /// here (used on this thread only). Nil: nothing to prepare.
    func prepare(_ batch: ArraySlice<(event: DeskEvent, record: RecordedEvent)>, lists: NotifyListCache?) -> (any Sendable)?
    /// `apply(_:)` with what `prepare` made of the batch this slice is part of; the same outcome.
    func apply(_ batch: ArraySlice<(event: DeskEvent, record: RecordedEvent)>, prepared: (any Sendable)?)
    /// Writes the rows changed since the last flush. May run more than once for one batch (the log
    /// can redo a transaction): it must not change the projection; `didFlush` follows the commit.
    func flush(into writer: any LogWriter) throws
    /// The flush committed: forget what was dirty.
    func didFlush()
    /// For rebuilds: takes the rows changed since the last flush as they are now and forgets them as
    /// dirty (as `flush` + `didFlush` would), returning a writer of exactly those rows that may run
    /// later — on the log's writer thread while the next batch is folded — and more than once. Nil
    /// when the projection cannot do that (then the rebuild does not overlap writing and folding).
    func takeFlush() -> (@Sendable (any LogWriter) throws -> Void)?
    /// Loads the persisted rows (at start, when the stored code version matches).
    func load(from reader: any LogReader) throws
    /// How many rows the next flush would write. A rebuild flushes early when this passes
    /// `ProjectionRunner.maxRowsPerFlush`, so that one transaction never holds too many.
    var pendingRows: Int { get }
}

extension Projection {
    /// Folds a whole array of events.
    public func apply(_ batch: [(event: DeskEvent, record: RecordedEvent)]) { apply(batch[...]) }
    public func takeFlush() -> (@Sendable (any LogWriter) throws -> Void)? { nil }
    public func prepare(_ batch: ArraySlice<(event: DeskEvent, record: RecordedEvent)>, lists: NotifyListCache?) -> (any Sendable)? { nil }
    public func apply(_ batch: ArraySlice<(event: DeskEvent, record: RecordedEvent)>, prepared: (any Sendable)?) { apply(batch) }
    public var pendingRows: Int { 0 }
}

/// Runs projections over a log: at start each one loads its rows and catches up from its checkpoint
/// (or rebuilds from zero when its code version changed); then it follows new commits. Each
/// projection has its own loop, so rebuilding one never holds up the others.
///
/// Read-your-writes: a caller that has just committed up to sequence S calls
/// `waitUntil(S, projection:)` (the HTTP service does this with the sequence a command returned)
/// and then sees its own change. Positions move when a batch is folded into memory, before its rows
/// and checkpoint are written (that write follows at once; a restart resumes from the stored checkpoint).
public final class ProjectionRunner: Sendable {
    public let store: any EventStore
    public let projections: [any Projection]
    private let positions: Mutex<[String: UInt64]>
    private let signal = CommitSignalBox()
    private let tasks = Mutex<[Task<Void, Never>]>([])
    /// Events per fold-and-flush transaction.
    public let batchSize: Int

    static let metaDB = "proj.meta"

    /// False for a read-only store (a report beside a running service): projections load their rows
    /// and catch up in memory without writing.
    public let persist: Bool

    /// Events per batch while rebuilding (a row touched by many events is written once per batch).
    public let rebuildBatchSize: Int
    public static let defaultRebuildBatchSize = 50_000
    /// A rebuild folds a batch in slices of `foldSlice` events and stores what it has folded as soon
    /// as a projection holds more than `maxRowsPerFlush` changed rows. Most batches change a few
    /// thousand rows, but a stretch of events touching many tickets (a day of closings) can change
    /// tens of thousands; in one transaction their copies, their encodings, LMDB's dirty pages and
    /// the old rows they replace (read through the map) would all be in memory at once.
    public let foldSlice: Int
    public let maxRowsPerFlush: Int
    /// While following commits: write rows and checkpoint after this many events or seconds.
    public let lazyFlushEvents: Int
    public let lazyFlushSeconds: Double
    /// Per projection, when its rows were last written and how many folded events wait since.
    private let unflushed = Mutex<[String: (lastWrite: Double, events: Int)]>([:])

    /// Where the folding side of the last rebuild (`catchUp(together:…)`) spent its time, in seconds
    /// (benchmarks): the folding side is the one the others overlap with.
    public struct RebuildTimings: Sendable {
        /// Folding batches into the projections.
        public var folding = 0.0
        /// Taking the changed rows (`takeFlush`: freezing tickets, copying rows out).
        public var taking = 0.0
        /// Waiting for the next batch to be read and decoded.
        public var waitingForReads = 0.0
        /// Waiting for the previous batch's rows to be written.
        public var waitingForWrites = 0.0
    }
    private let timings = Mutex(RebuildTimings())
    public var lastRebuildTimings: RebuildTimings { timings.withLock { $0 } }

    public init(store: any EventStore, projections: [any Projection], batchSize: Int = 10_000, persist: Bool = true,
                rebuildBatchSize: Int = ProjectionRunner.defaultRebuildBatchSize, foldSlice: Int = 5_000, maxRowsPerFlush: Int = 8_192,
                lazyFlushEvents: Int = 5_000, lazyFlushSeconds: Double = 0.5) {
        self.foldSlice = max(1, foldSlice)
        self.maxRowsPerFlush = max(1, maxRowsPerFlush)
        self.persist = persist
        self.lazyFlushEvents = max(1, lazyFlushEvents)
        self.lazyFlushSeconds = lazyFlushSeconds
        self.rebuildBatchSize = max(1, rebuildBatchSize)
        self.store = store
        self.projections = projections
        self.batchSize = max(1, batchSize)
        positions = Mutex(Dictionary(uniqueKeysWithValues: projections.map { ($0.name, 0) }))
    }

    /// The sequence each projection has folded up to.
    public func position(_ name: String) -> UInt64 { positions.withLock { $0[name] ?? 0 } }

    /// The lowest position over all projections.
    public var position: UInt64 { positions.withLock { $0.values.min() ?? 0 } }

    /// Loads or rebuilds every projection and catches up to the current head; returns when done.
    public func prepare(progress: (@Sendable (String, UInt64, UInt64) -> Void)? = nil) async throws {
        for p in projections {
            let (checkpoint, version) = try store.read { r -> (UInt64?, Int?) in
                (try r.checkpoint("proj." + p.name),
                 try r.get(Array(p.name.utf8), in: Self.metaDB).flatMap { Int(String(decoding: $0, as: UTF8.self)) })
            }
            if let checkpoint, version == p.codeVersion {
                try store.read { try p.load(from: $0) }
                store.releaseReadPages()  // the rows were read through the map once; they need not stay resident
                positions.withLock { $0[p.name] = checkpoint }
            } else if persist {
                try await rebuild(p, progress: progress)
            } else {
                p.reset()
                positions.withLock { $0[p.name] = 0 }
            }
            try await catchUp(p, progress: progress)
        }
    }

    /// Starts following new commits (after `prepare`).
    public func start() {
        for p in projections {
            let t = Task { [self] in
                while !Task.isCancelled {
                    do {
                        try await store.waitForCommit(after: position(p.name))
                        try await catchUp(p, progress: nil, lazy: true)
                    } catch is CancellationError {
                        return
                    } catch let e as EventLogError where e.code == .closed {
                        return
                    } catch {
                        // A record that does not decode stops this projection; it is reported by
                        // health checks (its position stops moving). Retry after a pause.
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
            tasks.withLock { $0.append(t) }
        }
    }

    public func stop() {
        let t = tasks.withLock { t -> [Task<Void, Never>] in defer { t = [] }; return t }
        for task in t { task.cancel() }
        signal.close()
    }

    /// Returns once `name` (or every projection) has folded up to `sequence`.
    public func waitUntil(_ sequence: UInt64, projection name: String? = nil) async throws {
        while true {
            let generation = signal.generation
            if (name.map(position) ?? position) >= sequence { return }
            try await signal.wait(since: generation)
        }
    }

    /// Forgets `p`'s state and folds the whole log again, as `rebuild(names:)` does for several.
    public func rebuild(_ p: any Projection, progress: (@Sendable (String, UInt64, UInt64) -> Void)? = nil) async throws {
        try await startOver([p])
        try await catchUp(together: [p], progress: progress, batch: rebuildBatchSize)
    }

    /// Forgets `ps`' state in memory and in storage (rows cleared, checkpoints at 0, code versions
    /// recorded), before they fold the log again.
    func startOver(_ ps: [any Projection]) async throws {
        guard persist else { throw EventLogError(.readOnly, "projections cannot be rebuilt through a read-only store") }
        for p in ps { p.reset() }
        let rows = ps.map { (name: $0.name, version: $0.codeVersion, dbs: $0.databases) }
        try await store.write { w in
            for p in rows {
                for db in p.dbs { try w.clear(db) }
                try w.setCheckpoint("proj." + p.name, 0)
                try w.put(Array(p.name.utf8), Array(String(p.version).utf8), in: Self.metaDB)
            }
        }
        positions.withLock { for p in ps { $0[p.name] = 0 } }
    }

    /// Rebuilds the named projections (all when empty) in one pass over the log: each batch is read
    /// and decoded once and folded into every one of them, and their rows and checkpoints are written
    /// in one transaction per batch.
    public func rebuild(names: [String], progress: (@Sendable (String, UInt64, UInt64) -> Void)? = nil) async throws {
        let chosen = names.isEmpty ? projections : projections.filter { names.contains($0.name) }
        let unknown = Set(names).subtracting(projections.map(\.name))
        guard unknown.isEmpty else {
            throw EventLogError(.invalidInput, "unknown projection(s): \(unknown.sorted().joined(separator: ", ")); known: \(projections.map(\.name).joined(separator: ", "))")
        }
        try await startOver(chosen)
        try await catchUp(together: chosen, progress: progress, batch: rebuildBatchSize)
    }

    /// Reads the log in batches and folds every batch into each of `ps` (all at the same position).
    /// Three things overlap: the next batch is read, decoded and prepared (`Projection.prepare`)
    /// on another thread, and — when every projection can hand over its changed rows (`takeFlush`)
    /// — the rows and checkpoints of a batch are written while the next batch is folded. The
    /// reading and the writing run at a lower priority (`BackgroundThread`,
    /// `EventStore.writeInBackground`): the fold is the critical path, and at equal priority it
    /// waited for a core. Writes stay in order (each waits for the one before), so what is stored
    /// is always rows and checkpoint of one batch.
    /// If anything fails the projections are reset, and the error is thrown.
    func catchUp(together ps: [any Projection], progress: (@Sendable (String, UInt64, UInt64) -> Void)?, batch batchSize: Int) async throws {
        guard let first = ps.first else { return }
        var t = RebuildTimings()
        defer { timings.withLock { $0 = t } }
        // The next batch, its last sequence and what each projection prepared of it.
        var ahead: Task<([(event: DeskEvent, record: RecordedEvent)], UInt64, [(any Sendable)?]), any Error>?
        // The last write of rows and checkpoint, and the one before it. Each write starts after the
        // one before has committed (so what is stored is always the rows and checkpoint of one
        // point in the log, and a failed write stops those after it); the fold goes on while the
        // last one is pending and waits for the one before — the writer's time per batch varies
        // more than the fold's.
        var writing: Task<Void, any Error>?
        var writingBefore: Task<Void, any Error>?
        // The batch folded last, freed by the task that reads the next one: its events were made
        // on that side, and freeing ~50,000 of them is work the folding side need not do.
        let spent = SpentBatch()
        // Notify lists decoded once for the whole rebuild (each batch read after the one before).
        let lists = NotifyListCache()
        defer { ahead?.cancel() }
        do {
            while true {
                let from = position(first.name) + 1
                let head = store.committedHead
                guard from <= head else { break }
                let (batch, last): ([(event: DeskEvent, record: RecordedEvent)], UInt64)
                let prepared: [(any Sendable)?]
                var clock = monotonicNow()
                if let pending = ahead {
                    (batch, last, prepared) = try await pending.value
                    ahead = nil
                } else {
                    (batch, last, prepared) = try readPrepared(ps, from: from, head: head, limit: batchSize, lists: lists)
                }
                t.waitingForReads += monotonicNow() - clock
                if last < head {
                    // On a thread of lower priority: the fold keeps its core (`BackgroundThread`).
                    ahead = Task { [self, spent] in
                        try await BackgroundThread.run {
                            spent.drop()
                            return try self.readPrepared(ps, from: last + 1, head: head, limit: batchSize, lists: lists)
                        }
                    }
                }
                // Fold in slices; store early when rows pile up (then `upTo` is the last event
                // folded, and the rest of the batch follows in the next round of this loop body).
                var done = 0
                repeat {
                    var end = done
                    clock = monotonicNow()
                    repeat {
                        let next = min(end + foldSlice, batch.count)
                        for (p, prep) in zip(ps, prepared) { p.apply(batch[end..<next], prepared: prep) }
                        end = next
                    } while end < batch.count && ps.allSatisfy({ $0.pendingRows <= maxRowsPerFlush })
                    let upTo = end == batch.count ? last : batch[end - 1].record.sequence
                    done = end
                    t.folding += monotonicNow() - clock
                    clock = monotonicNow()
                    // At most two writes pending.
                    try await writingBefore?.value
                    writingBefore = nil
                    t.waitingForWrites += monotonicNow() - clock
                    clock = monotonicNow()
                    // What was read of the file so far (the log, the rows it wrote over) need not stay
                    // resident: a rebuild reads each part of the log once.
                    store.releaseReadPages()
                    let taken = ps.map { $0.takeFlush() }
                    t.taking += monotonicNow() - clock
                    if taken.allSatisfy({ $0 != nil }) {
                        let writers = taken.compactMap { $0 }, names = ps.map(\.name), store = self.store
                        let previous = writing
                        writingBefore = previous
                        writing = Task {
                            try await previous?.value
                            // (At a lower priority too.)
                            try await store.writeInBackground { w in
                                for write in writers { try write(w) }
                                for name in names { try w.setCheckpoint("proj." + name, upTo) }
                            }
                        }
                    } else {
                        // Not all can: the others flush in place, in the same transaction, and nothing
                        // is folded meanwhile.
                        try await writing?.value
                        (writing, writingBefore) = (nil, nil)
                        try await store.write { w in
                            for (p, take) in zip(ps, taken) {
                                if let take { try take(w) } else { try p.flush(into: w) }
                                try w.setCheckpoint("proj." + p.name, upTo)
                            }
                        }
                        for (p, take) in zip(ps, taken) where take == nil { p.didFlush() }
                    }
                    positions.withLock { for p in ps { $0[p.name] = upTo } }
                    signal.bump()
                    for p in ps { progress?(p.name, upTo, head) }
                } while done < batch.count
                spent.keep(batch)
            }
            let clock = monotonicNow()
            try await writing?.value
            t.waitingForWrites += monotonicNow() - clock
        } catch {
            // What is in memory may be ahead of what was stored and no longer marked dirty.
            try? await writing?.value
            for p in ps { p.reset() }
            positions.withLock { for p in ps { $0[p.name] = 0 } }
            throw error
        }
    }

    /// `readBatch`, and what each of `ps` prepares of the batch (`Projection.prepare`).
    func readPrepared(_ ps: [any Projection], from: UInt64, head: UInt64, limit: Int, lists: NotifyListCache)
        throws -> ([(event: DeskEvent, record: RecordedEvent)], UInt64, [(any Sendable)?]) {
        let (batch, last) = try readBatch(from: from, head: head, limit: limit, lists: lists)
        return (batch, last, ps.map { $0.prepare(batch[...], lists: lists) })
    }

    /// The decoded desk events from `from` up to `head`, at most `limit` records; and the last
    /// sequence read (records of unknown types are skipped but counted). The records hold only
    /// what the folds read (`RecordFormat.decodeForFold`): the projections get the event decoded.
    /// `lists`: notify lists read before (`NotifyListCache`); used by this call's thread only.
    func readBatch(from: UInt64, head: UInt64, limit: Int, lists: NotifyListCache? = nil) throws -> ([(event: DeskEvent, record: RecordedEvent)], UInt64) {
        var batch: [(event: DeskEvent, record: RecordedEvent)] = []
        // At its full size at once: grown by doubling, a batch of ~400-byte elements was copied
        // again and again into fresh memory (a fifth of the reading).
        batch.reserveCapacity(Int(min(UInt64(limit), head >= from ? head - from + 1 : 0)))
        var last = from - 1
        try store.read { r in
            try r.forEachRawRecord(from: from) { seq, raw in
                let (rec, payload) = try RecordFormat.decodeForFold(raw)
                last = seq
                // What was read of the map need not stay resident (the pages stay in the page cache).
                if (seq - from) % 16_384 == 16_383 { store.releaseReadPages() }
                if let event = try EventCodec.decodeIfKnown(type: rec.type, schemaVersion: rec.schemaVersion, bytes: payload, lists: lists) {
                    batch.append((event, rec))
                }
                return seq < head && seq - from + 1 < UInt64(limit)
            }
        }
        return (batch, last)
    }

    /// Folds everything committed after `p`'s position, in batches, each flushed with its checkpoint.
    ///
    /// With `lazy` (following commits) the rows and checkpoint are written when `lazyFlushSeconds`
    /// have passed since the last write or `lazyFlushEvents` events wait, not after every commit: a
    /// command on a quiet desk is written at once, and under load the projection adds a write
    /// transaction only twice a second. Nothing depends on the stored rows but a restart, which
    /// catches up from the stored checkpoint through the log.
    func catchUp(_ p: any Projection, progress: (@Sendable (String, UInt64, UInt64) -> Void)?, lazy: Bool = false) async throws {
        while true {
            let from = position(p.name) + 1
            let head = store.committedHead
            guard from <= head else { return }
            let (batch, last) = try readBatch(from: from, head: head, limit: batchSize)
            p.apply(batch)
            let name = p.name, upTo = last
            // Queries read the in-memory state, which holds the batch now: waiters (read-your-writes)
            // go on at once instead of after a second durable commit. The rows and the checkpoint
            // follow in one transaction; should that fail, the rows stay dirty and go with the next
            // flush, and a restart resumes from the checkpoint that was stored.
            positions.withLock { $0[name] = upTo }
            signal.bump()
            let now = monotonicNow()
            let due = !lazy || unflushed.withLock { u in
                var pending = u[name] ?? (lastWrite: -Double.infinity, events: 0)
                pending.events += batch.count
                u[name] = pending
                return pending.events >= lazyFlushEvents || now - pending.lastWrite >= lazyFlushSeconds
            }
            if due {
                if persist {
                    try await store.write { w in
                        try p.flush(into: w)
                        try w.setCheckpoint("proj." + name, upTo)
                    }
                }
                p.didFlush()
                unflushed.withLock { $0[name] = (lastWrite: now, events: 0) }
            }
            progress?(name, upTo, head)
        }
    }
}

extension ArraySlice where Element == (event: DeskEvent, record: RecordedEvent) {
    /// Calls `body` with each event and record of the batch where they are, for a fold that only
    /// reads them. They are lent `inout` because that is how Swift hands out a value inside a
    /// buffer without copying it: a plain argument (`fold(batch[i].event, …)`, a `for … in`, an
    /// unsafe pointer's `pointee`) copies the event, retaining each of its strings and arrays, and
    /// frees the copy after — a tenth of a rebuild's fold. `body` must not change them: the batch's
    /// storage is shared with the runner and the other projections.
    func lendEach(_ body: (inout DeskEvent, inout RecordedEvent) -> Void) {
        withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return }
            let p = UnsafeMutablePointer(mutating: base)
            for i in 0..<b.count { body(&p[i].event, &p[i].record) }
        }
    }
}

/// Hands a folded batch from the folding task to the reading one, which frees it.
final class SpentBatch: Sendable {
    private let batch = Mutex<[(event: DeskEvent, record: RecordedEvent)]>([])
    func keep(_ b: [(event: DeskEvent, record: RecordedEvent)]) { batch.withLock { $0 = b } }
    /// Frees the batch kept (if the folding side holds no other reference to it).
    func drop() {
        let b = batch.withLock { b -> [(event: DeskEvent, record: RecordedEvent)] in defer { b = [] }; return b }
        _ = consume b
    }
}

func monotonicNow() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Wakes everyone waiting for any projection to move.
final class CommitSignalBox: Sendable {
    private let state = Mutex<(generation: UInt64, waiters: [CheckedContinuation<Void, any Error>], closed: Bool)>((0, [], false))

    func bump() {
        let w = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.generation += 1
            defer { s.waiters = [] }
            return s.waiters
        }
        for c in w { c.resume() }
    }

    func close() {
        let w = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.closed = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for c in w { c.resume(throwing: CancellationError()) }
    }

    var generation: UInt64 { state.withLock { $0.generation } }

    /// Returns at the first bump after `generation` (at once if there was one already).
    func wait(since generation: UInt64) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let now = state.withLock { s -> Int in
                if s.closed { return 2 }
                if s.generation != generation { return 1 }
                s.waiters.append(c)
                return 0
            }
            if now == 1 { c.resume() } else if now == 2 { c.resume(throwing: CancellationError()) }
        }
    }
}
