import CLMDB
import Foundation
import Synchronization

/// How to open an LMDB event store.
public struct LMDBOptions: Sendable {
    /// Durable by default; see `Durability` for the relaxed modes and what they risk.
    public var durability: Durability = .durable
    /// Initial map size in bytes. The file is sparse; the map doubles by itself when full.
    public var initialMapSize: Int = 8 << 30
    /// Open without writing: no writer thread, no folder lock; sees other processes' commits.
    public var readOnly = false
    public var maxReaders: UInt32 = 512
    /// At most this many requests go into one write transaction.
    public var maxBatchRequests = 8192
    /// The log's clock for events without their own timestamp (µs since the Unix epoch).
    public var clock: @Sendable () -> Int64 = Timestamp.nowMicros

    public init(durability: Durability = .durable, initialMapSize: Int = 8 << 30, readOnly: Bool = false) {
        self.durability = durability
        self.initialMapSize = initialMapSize
        self.readOnly = readOnly
    }
}

/// Facts about an open store, for `helpdesk stats`.
public struct StoreStats: Sendable, Codable, Hashable {
    public var events: UInt64
    public var streams: Int
    public var fileBytes: Int64
    public var mapBytes: Int
    public var mapUsedBytes: Int
    public var pageSize: Int
    public var readerSlotsUsed: Int
    public var maxReaders: Int
    public var treeDepth: Int
    public var mapGrowths: Int
    public var durability: String
}

/// The event log on LMDB.
///
/// Layout: one environment in the data folder (`data.mdb`, `lock.mdb`) with the tables
/// `events` (big-endian sequence → record; appended with `MDB_APPEND`), `heads` (stream → big-endian
/// version ‖ sequence of its last event), `ids` (event UUID → sequence), `checkpoints`, `side` (named
/// side databases as key prefixes) and `meta` (format version). There is no per-event stream index:
/// each record carries the sequence of its stream's previous event, so a stream is a linked list
/// through `events` walked back from its head (see docs/event-log.md for why).
///
/// Writes go through one writer thread that groups every request arriving while the previous group
/// commits into the next transaction (group commit); each caller is resumed only after its group's
/// commit returned (fsync'd, in `durable` mode).
public final class LMDBEventStore: EventStore, @unchecked Sendable {
    public let directory: URL
    public let options: LMDBOptions
    private let env: OpaquePointer
    private let dbs: DBIs
    private let rw = ReadWriteLock()
    /// Where the map is (`releaseReadPages`), once found; nil after the map changed (`remap`).
    private let mapRanges = Mutex<[Range<UInt>]?>(nil)
    private let signal: CommitSignal
    private var folderLock: FolderLock?
    private var watcher: FileWatcher?

    // Writer state: the queues are guarded by `queueCondition`; the rest is touched only by the
    // writer threads, one transaction at a time (`transactionLock`).
    private let queueCondition = NSCondition()
    private var queue: [WriteRequest] = []
    private var stopping = false
    private var writerDone = DispatchSemaphore(value: 0)
    private var writerRunning = false
    /// `writeInBackground`'s requests, and whether its thread runs (started at the first one).
    private var backgroundQueue: [WriteRequest] = []
    private var backgroundDone = DispatchSemaphore(value: 0)
    private var backgroundRunning = false
    private let transactionLock = NSLock()
    private var committedNext: UInt64 = 1
    private var committedHash = ChainHash.genesis
    private let growths = Atomic<Int>(0)
    private let commitCount = Atomic<Int>(0)
    private let commitRequests = Atomic<Int>(0)
    private let commitNanos = Atomic<Int>(0)
    private let txnNanos = Atomic<Int>(0)

    /// Counters of the writer since open: commits, requests committed, and time spent building
    /// transactions vs. in `mdb_txn_commit` (the fsyncs). For metrics and benchmarks.
    public struct WriterCounters: Sendable, Hashable, Codable {
        public var commits: Int
        public var requests: Int
        public var commitSeconds: Double
        public var buildSeconds: Double
    }

    public var writerCounters: WriterCounters {
        WriterCounters(commits: commitCount.load(ordering: .relaxed), requests: commitRequests.load(ordering: .relaxed),
                       commitSeconds: Double(commitNanos.load(ordering: .relaxed)) / 1e9,
                       buildSeconds: Double(txnNanos.load(ordering: .relaxed)) / 1e9)
    }
    private let closed = Atomic<Bool>(false)

    struct DBIs {
        var events: MDB_dbi = 0, heads: MDB_dbi = 0, ids: MDB_dbi = 0
        var meta: MDB_dbi = 0, checkpoints: MDB_dbi = 0, side: MDB_dbi = 0
    }

    /// Opens (creating when writable) the log in `directory`.
    public init(directory: URL, options: LMDBOptions = LMDBOptions()) throws {
        self.directory = directory
        self.options = options
        let fm = FileManager.default
        if options.readOnly {
            guard fm.fileExists(atPath: directory.appendingPathComponent("data.mdb").path) else {
                throw EventLogError(.io, "no event log in \(directory.path) (data.mdb not found)")
            }
        } else {
            do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
                throw EventLogError(.io, "cannot create data folder \(directory.path): \(error.localizedDescription)")
            }
        }
        let lock = options.readOnly ? nil : try FolderLock(directory: directory)
        var e: OpaquePointer?
        try lmdbCheck(mdb_env_create(&e), "mdb_env_create")
        guard let env = e else { throw lmdbError(ENOMEM, "mdb_env_create") }
        var ok = false
        defer { if !ok { mdb_env_close(env); lock?.release() } }
        try lmdbCheck(mdb_env_set_maxdbs(env, 16), "mdb_env_set_maxdbs")
        try lmdbCheck(mdb_env_set_maxreaders(env, options.maxReaders), "mdb_env_set_maxreaders")
        if !options.readOnly {
            try lmdbCheck(mdb_env_set_mapsize(env, max(options.initialMapSize, 1 << 16)), "mdb_env_set_mapsize")
        }
        var flags = UInt32(MDB_NOTLS)
        switch options.durability {
        case .durable, .relaxedNoMetaSync: flags |= UInt32(MDB_NOMETASYNC)  // see `Durability.durable`
        case .unsafeNoSync: flags |= UInt32(MDB_NOSYNC)
        }
        if options.readOnly { flags |= UInt32(MDB_RDONLY) }
        try lmdbCheck(mdb_env_open(env, directory.path, flags, 0o644), "mdb_env_open \(directory.path)")
        if !options.readOnly {
            var dead: Int32 = 0
            mdb_reader_check(env, &dead)  // clear reader slots left by dead processes
        }
        dbs = try LMDBEventStore.openDatabases(env, readOnly: options.readOnly)
        // Load the head and check the format.
        var head: UInt64 = 0
        var hash = ChainHash.genesis
        var txn: OpaquePointer?
        try lmdbCheck(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin")
        defer { mdb_txn_abort(txn) }
        let t = LMDBTxn(txn: txn!)
        if let f = try t.get(dbs.meta, Array("format".utf8)), let v = f.first, v > RecordFormat.currentVersion {
            throw EventLogError(.unknownFormatVersion,
                                "the log in \(directory.path) has format version \(v); this build understands \(RecordFormat.currentVersion)")
        }
        if let last = try t.withCursor(dbs.events, { try $0.get(MDB_LAST) }) {
            guard let (seq, h) = RecordFormat.peekSequenceAndHash(last.value) else {
                throw EventLogError(.corrupted, "the last record of the log cannot be read")
            }
            head = seq
            hash = h
        }
        self.env = env
        folderLock = lock
        committedNext = head + 1
        committedHash = hash
        signal = CommitSignal(head: head)
        ok = true
        if options.readOnly {
            watcher = FileWatcher(path: directory.appendingPathComponent("data.mdb").path) { [weak self] in
                guard let self, let h = try? self.read({ try $0.head() }) else { return }
                self.signal.publish(h)
            }
        } else {
            startWriter()
        }
    }

    deinit { close() }

    private static func openDatabases(_ env: OpaquePointer, readOnly: Bool) throws -> DBIs {
        var txn: OpaquePointer?
        try lmdbCheck(mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn), "mdb_txn_begin")
        var committed = false
        defer { if !committed { mdb_txn_abort(txn) } }
        func open(_ name: String) throws -> MDB_dbi {
            var dbi: MDB_dbi = 0
            let rc = mdb_dbi_open(txn, name, readOnly ? 0 : UInt32(MDB_CREATE), &dbi)
            if rc == MDB_NOTFOUND {
                throw EventLogError(.io, "the data folder holds no event log (table '\(name)' is missing)")
            }
            try lmdbCheck(rc, "mdb_dbi_open \(name)")
            return dbi
        }
        var d = DBIs()
        d.events = try open("events")
        d.heads = try open("heads")
        d.ids = try open("ids")
        d.meta = try open("meta")
        d.checkpoints = try open("checkpoints")
        d.side = try open("side")
        if !readOnly {
            let t = LMDBTxn(txn: txn!)
            if try t.get(d.meta, Array("format".utf8)) == nil {
                try t.put(d.meta, Array("format".utf8), [RecordFormat.currentVersion])
            }
        }
        committed = true
        try lmdbCheck(mdb_txn_commit(txn), "mdb_txn_commit (open)")
        return d
    }

    // MARK: EventStore

    public var committedHead: UInt64 { signal.head }

    public func waitForCommit(after sequence: UInt64) async throws {
        try await signal.wait(after: sequence)
    }

    public func read<T>(_ body: (any LogReader) throws -> T) throws -> T {
        if closed.load(ordering: .acquiring) { throw EventLogError(.closed, "the event store is closed") }
        while true {
            var resized = false
            let result: T? = try rw.withReadLock {
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
                if rc == MDB_MAP_RESIZED { resized = true; return nil }
                try lmdbCheck(rc, "mdb_txn_begin (read)")
                defer { mdb_txn_abort(txn) }
                return try body(LMDBReader(txn: LMDBTxn(txn: txn!), dbs: dbs))
            }
            if !resized, let result { return result }
            if !resized { fatalError("unreachable: read produced no result") }
            // Another process grew the map: adopt its size, with no transaction open here.
            try lmdbCheck(remap(0), "mdb_env_set_mapsize")
        }
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any LogWriter) throws -> T) async throws -> T {
        // Unsafe (unchecked) continuation: `enqueue` finishes every request exactly once.
        try await withUnsafeThrowingContinuation { (c: UnsafeContinuation<T, any Error>) in
            enqueue(TypedWriteRequest(body, reply: .continuation(c)))
        }
    }

    public func submit<T: Sendable>(_ body: @escaping @Sendable (any LogWriter) throws -> T,
                                    completion: @escaping @Sendable (Result<T, any Error>) -> Void) {
        enqueue(TypedWriteRequest(body, reply: .completion(completion)))
    }

    public func writeInBackground<T: Sendable>(_ body: @escaping @Sendable (any LogWriter) throws -> T) async throws -> T {
        try await withUnsafeThrowingContinuation { (c: UnsafeContinuation<T, any Error>) in
            enqueue(TypedWriteRequest(body, reply: .continuation(c)), background: true)
        }
    }

    /// Queues a request for the writer thread (or the background writer's), or finishes it at once
    /// with the reason it cannot run.
    private func enqueue(_ request: WriteRequest, background: Bool = false) {
        if options.readOnly {
            request.finish(.failure(EventLogError(.readOnly, "this store was opened read-only")))
            return
        }
        queueCondition.lock()
        if stopping {
            queueCondition.unlock()
            request.finish(.failure(EventLogError(.closed, "the event store is closing")))
            return
        }
        if background {
            backgroundQueue.append(request)
            if !backgroundRunning {
                backgroundRunning = true
                let thread = Thread { [self] in backgroundLoop() }
                thread.name = "eventlog-bulk"
                thread.stackSize = 4 << 20
                thread.start()
            }
        } else {
            queue.append(request)
        }
        queueCondition.broadcast()
        queueCondition.unlock()
    }

    /// Finishes every queued write, then closes the environment and releases the folder lock.
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        queueCondition.lock()
        stopping = true
        queueCondition.broadcast()
        let running = writerRunning
        queueCondition.unlock()
        if running { writerDone.wait() }
        watcher?.stop()
        signal.close()
        rw.withWriteLock {
            mapRanges.withLock { $0 = [] }  // unmapped: nothing to release from now on
            mdb_env_close(env)
        }
        folderLock?.release()
    }

    // MARK: Writer

    private var syncer: MetaSyncer?

    private func startWriter() {
        if options.durability == .durable {
            syncer = MetaSyncer(env: env, signal: signal)
        }
        writerRunning = true
        let thread = Thread { [self] in writerLoop() }
        thread.name = "eventlog-writer"
        thread.stackSize = 4 << 20
        thread.start()
    }

    /// Waits for requests in `queue` and takes up to `limit` of them; nil once the store is closing
    /// and none are left.
    private func take(from queue: ReferenceWritableKeyPath<LMDBEventStore, [WriteRequest]>, limit: Int) -> [WriteRequest]? {
        queueCondition.lock()
        defer { queueCondition.unlock() }
        while self[keyPath: queue].isEmpty && !stopping { queueCondition.wait() }
        if self[keyPath: queue].isEmpty { return nil }
        if self[keyPath: queue].count <= limit {
            defer { self[keyPath: queue] = [] }
            return self[keyPath: queue]
        }
        defer { self[keyPath: queue].removeFirst(limit) }
        return Array(self[keyPath: queue].prefix(limit))
    }

    private func writerLoop() {
        while let batch = take(from: \.queue, limit: options.maxBatchRequests) {
            transactionLock.withLock { runBatch(batch) }
        }
        // The background writer's last answers go through the syncer too.
        queueCondition.lock()
        let background = backgroundRunning
        queueCondition.unlock()
        if background { backgroundDone.wait() }
        syncer?.finish()
        writerDone.signal()
    }

    /// The background writer: `writeInBackground`'s requests one at a time (each is a large
    /// transaction of its own), at a lower priority (`BackgroundThread`). When closing, the writer
    /// thread waits for it before it stops the syncer, which answers its requests too.
    private func backgroundLoop() {
        BackgroundThread.lowerCurrentPriority()
        while let one = take(from: \.backgroundQueue, limit: 1) {
            transactionLock.withLock { runBatch(one) }
        }
        backgroundDone.signal()
    }

    /// Called after a successful commit. In `durable` mode the commit synced its data pages but not
    /// its meta page: the syncer thread makes that durable (one `fdatasync` for everything handed to it
    /// meanwhile) while this thread builds the next transaction, and answers the callers after it.
    private func acknowledge(_ answers: [(WriteRequest, Result<Void, any Error>)], head: UInt64) {
        if let syncer {
            syncer.hand(answers, head: head)
        } else {
            signal.publish(head)
            for (r, result) in answers { r.finish(result) }
        }
    }

    /// One group commit. Requests that fail before writing are answered with their error and the rest
    /// commit; a request that fails after writing forces the group to be redone without it; a full map
    /// is grown and the group redone.
    private func runBatch(_ batch: [WriteRequest]) {
        var failures: [Int: any Error] = [:]
        let t0 = DispatchTime.now().uptimeNanoseconds
        attempt: while true {
            var txnPtr: OpaquePointer?
            var rc = mdb_txn_begin(env, nil, 0, &txnPtr)
            if rc == MDB_MAP_RESIZED {
                _ = remap(0)
                rc = mdb_txn_begin(env, nil, 0, &txnPtr)
            }
            guard rc == 0, let txn = txnPtr else {
                let err = lmdbError(rc, "mdb_txn_begin (write)")
                for r in batch { r.finish(.failure(err)) }
                return
            }
            let writer = LMDBWriter(txn: LMDBTxn(txn: txn), dbs: dbs, next: committedNext,
                                    hash: committedHash, clock: options.clock)
            writer.release = { [unowned self] in releaseReadPages() }
            for (i, r) in batch.enumerated() where failures[i] == nil {
                writer.dirty = false
                do {
                    try r.run(writer)
                } catch let e as EventLogError where e.isMapFull {
                    mdb_txn_abort(txn)
                    growMap()
                    continue attempt
                } catch {
                    failures[i] = error
                    if writer.dirty {
                        mdb_txn_abort(txn)
                        continue attempt
                    }
                }
            }
            let t1 = DispatchTime.now().uptimeNanoseconds
            rc = mdb_txn_commit(txn)  // frees the transaction whatever it returns
            let t2 = DispatchTime.now().uptimeNanoseconds
            if rc == MDB_MAP_FULL {
                growMap()
                continue attempt
            }
            if rc != 0 {
                let err = lmdbError(rc, "mdb_txn_commit")
                for r in batch { r.finish(.failure(err)) }
                return
            }
            committedNext = writer.nextSequence
            committedHash = writer.previousHash
            commitCount.add(1, ordering: .relaxed)
            commitRequests.add(batch.count, ordering: .relaxed)
            commitNanos.add(Int(t2 - t1), ordering: .relaxed)
            txnNanos.add(Int(t1 - t0), ordering: .relaxed)
            var answers: [(WriteRequest, Result<Void, any Error>)] = []
            answers.reserveCapacity(batch.count)
            for (i, r) in batch.enumerated() {
                answers.append((r, failures[i].map { .failure($0) } ?? .success(())))
            }
            acknowledge(answers, head: committedNext - 1)
            return
        }
    }

    /// Doubles the map. Runs on the writer thread with its transaction aborted; the exclusive lock
    /// waits for this process's readers to finish, as LMDB requires.
    private func growMap() {
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        let newSize = max(info.me_mapsize * 2, 1 << 20)
        _ = remap(newSize)
        growths.add(1, ordering: .relaxed)
    }

    /// Sets the map's size (0: the size in the file), which maps the file anew: every change of the
    /// map goes through here, under the exclusive lock, and forgets where the map was.
    private func remap(_ size: Int) -> Int32 {
        rw.withWriteLock {
            mapRanges.withLock { $0 = nil }
            return mdb_env_set_mapsize(env, size)
        }
    }

    /// Drops the log's map from this process's page tables (`madvise(MADV_DONTNEED)`): it is a
    /// shared, read-only mapping of the file, so nothing is lost — the pages stay in the page cache
    /// and a later read faults them in again. LMDB does not say where its map is (`me_mapaddr` is
    /// only set for fixed maps), so it is found in `/proc/self/maps` — once per mapping: `remap`
    /// forgets it (reading and parsing that file at each call cost a rebuild half a second). Under
    /// the read lock, so the map cannot move meanwhile. Linux only; elsewhere it does nothing.
    public func releaseReadPages() {
        #if os(Linux)
        rw.withReadLock {
            let ranges = mapRanges.withLock { known in
                if let known { return known }
                let found = Self.mappedRanges(of: directory.appendingPathComponent("data.mdb").resolvingSymlinksInPath().path)
                known = found
                return found
            }
            for r in ranges {
                guard let base = UnsafeMutableRawPointer(bitPattern: r.lowerBound) else { continue }
                _ = madvise(base, Int(r.upperBound - r.lowerBound), MADV_DONTNEED)
            }
        }
        #endif
    }

    /// Where `file` is mapped in this process, from `/proc/self/maps`.
    static func mappedRanges(of file: String) -> [Range<UInt>] {
        // Read to the end: `String(contentsOfFile:)` stops short on /proc files.
        guard let h = FileHandle(forReadingAtPath: "/proc/self/maps") else { return [] }
        defer { try? h.close() }
        let maps = String(decoding: (try? h.readToEnd()) ?? Data(), as: UTF8.self)
        return maps.split(separator: "\n").compactMap { line in
            guard line.hasSuffix(" " + file) else { return nil }
            let range = line.prefix { $0 != " " }.split(separator: "-")
            guard range.count == 2, let lo = UInt(range[0], radix: 16), let hi = UInt(range[1], radix: 16), hi > lo else { return nil }
            return lo..<hi
        }
    }

    // MARK: Operations

    /// Sizes and counts for `helpdesk stats`.
    public func stats() throws -> StoreStats {
        var info = MDB_envinfo()
        var est = MDB_stat()
        mdb_env_info(env, &info)
        mdb_env_stat(env, &est)
        let (events, streams, depth) = try read { r -> (UInt64, Int, Int) in
            let l = r as! LMDBReader
            return (try r.head(), try r.streamCount(), Int(try l.txn.stat(dbs.events).ms_depth))
        }
        let attrs = try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("data.mdb").path)
        return StoreStats(events: events, streams: streams,
                          fileBytes: (attrs?[.size] as? NSNumber)?.int64Value ?? 0,
                          mapBytes: info.me_mapsize, mapUsedBytes: (info.me_last_pgno + 1) * Int(est.ms_psize),
                          pageSize: Int(est.ms_psize), readerSlotsUsed: Int(info.me_numreaders),
                          maxReaders: Int(info.me_maxreaders), treeDepth: depth,
                          mapGrowths: growths.load(ordering: .relaxed), durability: options.durability.rawValue)
    }

    /// A hot, compacted copy of the whole environment into `destination` (created; must not hold a log).
    public func backup(to destination: URL) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: destination.appendingPathComponent("data.mdb").path) {
            throw EventLogError(.io, "\(destination.path) already holds a data.mdb; choose an empty folder")
        }
        do { try fm.createDirectory(at: destination, withIntermediateDirectories: true) } catch {
            throw EventLogError(.io, "cannot create \(destination.path): \(error.localizedDescription)")
        }
        try rw.withReadLock {
            try lmdbCheck(mdb_env_copy2(env, destination.path, UInt32(MDB_CP_COMPACT)), "mdb_env_copy2 \(destination.path)")
        }
    }

    /// Replaces the log in `dataDirectory` with the backup in `source`, after checking the backup.
    /// Refuses while another process holds the data folder for writing.
    public static func restore(from source: URL, to dataDirectory: URL) throws -> VerifyReport {
        let report: VerifyReport
        do {
            let backup = try LMDBEventStore(directory: source, options: LMDBOptions(readOnly: true))
            defer { backup.close() }
            report = try backup.verify()
        }
        guard report.ok else { return report }
        let fm = FileManager.default
        try? fm.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let lock = try FolderLock(directory: dataDirectory)
        defer { lock.release() }
        let target = dataDirectory.appendingPathComponent("data.mdb")
        let temp = dataDirectory.appendingPathComponent("data.mdb.restoring")
        do {
            try? fm.removeItem(at: temp)
            try fm.copyItem(at: source.appendingPathComponent("data.mdb"), to: temp)
            let fd = open(temp.path, O_RDONLY)
            if fd >= 0 { fsync(fd); Glibc.close(fd) }
            if rename(temp.path, target.path) != 0 {
                throw EventLogError(.io, "cannot move the restored file into place: \(String(cString: strerror(errno)))")
            }
            try? fm.removeItem(at: dataDirectory.appendingPathComponent("lock.mdb"))
        } catch let e as EventLogError {
            throw e
        } catch {
            throw EventLogError(.io, "restore failed: \(error.localizedDescription)")
        }
        return report
    }
}

/// The thread that makes committed batches durable in `durable` mode (see `Durability.durable`):
/// takes everything the writer handed over since its last round, runs one `mdb_env_sync` (an
/// `fdatasync` that carries the meta pages written meanwhile), then wakes subscribers and answers
/// the callers. An `fdatasync` started after a commit returned covers that commit entirely.
final class MetaSyncer: @unchecked Sendable {
    private let env: OpaquePointer
    private let signal: CommitSignal
    private let condition = NSCondition()
    private var pending: [(WriteRequest, Result<Void, any Error>)] = []
    private var pendingHead: UInt64 = 0
    private var finishing = false
    private let done = DispatchSemaphore(value: 0)

    init(env: OpaquePointer, signal: CommitSignal) {
        self.env = env
        self.signal = signal
        let thread = Thread { [self] in loop() }
        thread.name = "eventlog-sync"
        thread.start()
    }

    func hand(_ answers: [(WriteRequest, Result<Void, any Error>)], head: UInt64) {
        condition.lock()
        pending.append(contentsOf: answers)
        pendingHead = max(pendingHead, head)
        condition.signal()
        condition.unlock()
    }

    /// Syncs and answers whatever is pending, then stops the thread (returns when it has).
    func finish() {
        condition.lock()
        finishing = true
        condition.signal()
        condition.unlock()
        done.wait()
    }

    private func loop() {
        while true {
            condition.lock()
            while pending.isEmpty && !finishing { condition.wait() }
            if pending.isEmpty && finishing {
                condition.unlock()
                break
            }
            let answers = pending
            let head = pendingHead
            pending = []
            condition.unlock()
            let rc = mdb_env_sync(env, 1)
            if rc != 0 {
                let err = lmdbError(rc, "mdb_env_sync")
                for (r, _) in answers { r.finish(.failure(err)) }
                continue
            }
            signal.publish(head)
            for (r, result) in answers { r.finish(result) }
        }
        done.signal()
    }
}

/// One queued write: runs its body inside the writer's transaction (perhaps more than once, see
/// `EventStore.write`), then is finished exactly once with its group's outcome.
class WriteRequest: @unchecked Sendable {
    func run(_ writer: any LogWriter) throws { fatalError("abstract") }
    func finish(_ result: Result<Void, any Error>) { fatalError("abstract") }
}

/// A request with its body, its result and the way back to the caller in one object (instead of a
/// result box, two closures and a continuation wrapper per request): the group-commit path allocates
/// little per request, which matters with hundreds of single-event appenders.
final class TypedWriteRequest<T: Sendable>: WriteRequest, @unchecked Sendable {
    enum Reply {
        case completion(@Sendable (Result<T, any Error>) -> Void)
        case continuation(UnsafeContinuation<T, any Error>)
    }
    private let body: @Sendable (any LogWriter) throws -> T
    private let reply: Reply
    private var value: T?

    init(_ body: @escaping @Sendable (any LogWriter) throws -> T, reply: Reply) {
        self.body = body
        self.reply = reply
    }

    override func run(_ writer: any LogWriter) throws { value = try body(writer) }

    override func finish(_ result: Result<Void, any Error>) {
        let answer: Result<T, any Error>
        switch result {
        case .success:
            if let value { answer = .success(value) } else {
                answer = .failure(EventLogError(.corrupted, "write finished without a result"))
            }
        case .failure(let e): answer = .failure(e)
        }
        value = nil
        switch reply {
        case .completion(let c): c(answer)
        case .continuation(let c): c.resume(with: answer)
        }
    }
}

/// Read access inside one LMDB transaction.
class LMDBReader: LogReader {
    let txn: LMDBTxn
    let dbs: LMDBEventStore.DBIs

    init(txn: LMDBTxn, dbs: LMDBEventStore.DBIs) {
        self.txn = txn
        self.dbs = dbs
    }

    func head() throws -> UInt64 {
        guard let last = try txn.withCursor(dbs.events, { try $0.get(MDB_LAST) }) else { return 0 }
        return Keys.readU64(last.key)
    }

    func headHash() throws -> [UInt8] {
        guard let last = try txn.withCursor(dbs.events, { try $0.get(MDB_LAST) }),
              let (_, h) = RecordFormat.peekSequenceAndHash(last.value) else { return RecordFormat.genesisHash }
        return h.bytes
    }

    func forEachRawRecord(from sequence: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        try txn.withCursor(dbs.events) { c in
            var entry = try c.get(MDB_SET_RANGE, key: Keys.u64(sequence))
            while let e = entry {
                guard e.key.count == 8 else { throw EventLogError(.corrupted, "an events key is \(e.key.count) bytes, not 8") }
                if try !body(Keys.readU64(e.key), e.value) { return }
                entry = try c.get(MDB_NEXT)
            }
        }
    }

    func withRawRecord<R>(at sequence: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        var key = sequence.bigEndian
        let value = try withUnsafeBytes(of: &key) { try txn.get(dbs.events, $0) }
        guard let value else { return nil }
        return try body(value)
    }

    func streamHead(_ stream: String) throws -> StreamHead? {
        var name = stream
        guard let v = try name.withUTF8({ try txn.get(dbs.heads, UnsafeRawBufferPointer($0)) }) else { return nil }
        return try Self.decodeHead(stream, v)
    }

    static func decodeHead(_ stream: String, _ v: UnsafeRawBufferPointer) throws -> StreamHead {
        guard v.count == 16 else { throw EventLogError(.corrupted, "head of stream '\(stream)' is \(v.count) bytes, not 16", stream: stream) }
        return StreamHead(version: Keys.readU64(v), lastSequence: Keys.readU64(v, at: 8))
    }

    func forEachStream(from start: String, _ body: (String, StreamHead) throws -> Bool) throws {
        try txn.withCursor(dbs.heads) { c in
            var cur = start.isEmpty ? try c.get(MDB_FIRST) : try c.get(MDB_SET_RANGE, key: Array(start.utf8))
            while let e = cur {
                let name = String(decoding: e.key, as: UTF8.self)
                if try !body(name, try Self.decodeHead(name, e.value)) { return }
                cur = try c.get(MDB_NEXT)
            }
        }
    }

    func streamCount() throws -> Int { try txn.entries(dbs.heads) }
    func eventIdCount() throws -> Int { try txn.entries(dbs.ids) }

    func sequence(ofEventId id: UUID) throws -> UInt64? {
        var key = id.uuid
        guard let v = try withUnsafeBytes(of: &key, { try txn.get(dbs.ids, $0) }) else { return nil }
        guard v.count == 8 else { throw EventLogError(.corrupted, "id index entry for \(id) is \(v.count) bytes") }
        return Keys.readU64(v)
    }

    func get(_ key: [UInt8], in database: String) throws -> [UInt8]? {
        try txn.get(dbs.side, try SideKeys.key(database, key)).map { Array($0) }
    }

    func scan(_ database: String, from start: [UInt8],
              _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        let prefix = try SideKeys.prefix(database)
        try txn.withCursor(dbs.side) { c in
            var cur = try c.get(MDB_SET_RANGE, key: prefix + start)
            while let e = cur, e.key.starts(with: prefix) {
                if try !body(UnsafeRawBufferPointer(rebasing: e.key[prefix.count...]), e.value) { return }
                cur = try c.get(MDB_NEXT)
            }
        }
    }

    func checkpoint(_ name: String) throws -> UInt64? {
        guard let v = try txn.get(dbs.checkpoints, try SideKeys.checkpointKey(name)), v.count == 8 else { return nil }
        return Keys.readU64(v)
    }
}

/// Write access inside the writer's transaction.
final class LMDBWriter: LMDBReader, LogWriter, AppendBackend {
    var nextSequence: UInt64
    var previousHash: ChainHash
    var recordBuffer: [UInt8] = []
    let clock: @Sendable () -> Int64
    var dirty = false
    /// The store's `releaseReadPages` (set by the store; the writer thread never holds its lock).
    var release: () -> Void = {}

    func releaseReadPages() { release() }

    init(txn: LMDBTxn, dbs: LMDBEventStore.DBIs, next: UInt64, hash: ChainHash, clock: @escaping @Sendable () -> Int64) {
        nextSequence = next
        previousHash = hash
        self.clock = clock
        recordBuffer.reserveCapacity(1024)
        super.init(txn: txn, dbs: dbs)
    }

    override func head() throws -> UInt64 { nextSequence - 1 }
    override func headHash() throws -> [UInt8] { previousHash.bytes }

    func append(_ appends: [StreamAppend]) throws -> AppendResult { try performAppend(appends) }

    func storeRecord(sequence: UInt64, bytes: [UInt8]) throws {
        dirty = true
        var key = sequence.bigEndian
        try withUnsafeBytes(of: &key) { k in
            try bytes.withUnsafeBytes { v in _ = try txn.put(dbs.events, k, v, flags: UInt32(MDB_APPEND)) }
        }
    }

    func storeEventIdIfNew(_ id: UUID, sequence: UInt64) throws -> Bool {
        var key = id.uuid
        var value = sequence.bigEndian
        // Time-ordered ids usually sort after every stored one: try an append (no tree search) first;
        // LMDB refuses it (MDB_KEYEXIST, nothing written) when the key is not the largest, and the
        // ordinary insert then decides whether the id is new.
        var rc = withUnsafeBytes(of: &key) { k in
            withUnsafeBytes(of: &value) { v in
                LMDBTxn.withVal(k) { kv in LMDBTxn.withVal(v) { vv in mdb_put(txn.txn, dbs.ids, &kv, &vv, UInt32(MDB_APPEND)) } }
            }
        }
        if rc == MDB_MAP_FULL { try lmdbCheck(rc, "mdb_put (ids)") }
        if rc != 0 {
            rc = try withUnsafeBytes(of: &key) { k in
                try withUnsafeBytes(of: &value) { v in try txn.put(dbs.ids, k, v, flags: UInt32(MDB_NOOVERWRITE)) }
            }
        }
        if rc == MDB_KEYEXIST { return false }
        dirty = true
        return true
    }

    func storeStreamHead(_ stream: String, _ head: StreamHead) throws {
        dirty = true
        var name = stream
        let value = (head.version.bigEndian, head.lastSequence.bigEndian)  // 16 bytes, no padding
        try name.withUTF8 { k in
            try withUnsafeBytes(of: value) { v in _ = try txn.put(dbs.heads, UnsafeRawBufferPointer(k), v) }
        }
    }

    func put(_ key: [UInt8], _ value: [UInt8], in database: String) throws {
        let k = try SideKeys.key(database, key)
        dirty = true
        try txn.put(dbs.side, k, value)
    }

    func delete(_ key: [UInt8], in database: String) throws {
        let k = try SideKeys.key(database, key)
        dirty = true
        try txn.delete(dbs.side, k)
    }

    func clear(_ database: String) throws {
        let prefix = try SideKeys.prefix(database)
        dirty = true
        try txn.withCursor(dbs.side) { c in
            var cur = try c.get(MDB_SET_RANGE, key: prefix)
            while let e = cur, e.key.starts(with: prefix) {
                try c.deleteCurrent()
                cur = try c.get(MDB_GET_CURRENT)
            }
        }
    }

    func setCheckpoint(_ name: String, _ sequence: UInt64) throws {
        let k = try SideKeys.checkpointKey(name)
        dirty = true
        try txn.put(dbs.checkpoints, k, Keys.u64(sequence))
    }
}

/// Wakes a read-only store when another process writes the data file (inotify), so that
/// subscriptions in a separate process (`helpdesk dump --follow`) follow commits without polling.
///
/// LMDB readers take their snapshot from the transaction id in `lock.mdb`, which the writer updates in
/// memory just *after* the meta-page write that raises the inotify event. So a reader woken by the
/// event can still see the previous commit; after each event the watcher therefore re-checks a few
/// times over a bounded window (2 ms … 1 s), then sleeps until the next event.
final class FileWatcher: @unchecked Sendable {
    private final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }
    private let fd: Int32
    private let stopped = Flag()
    static let recheckDelaysMs: [Int32] = [2, 20, 200, 1000]

    init?(path: String, onChange: @escaping @Sendable () -> Void) {
        #if os(Linux)
        fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        guard inotify_add_watch(fd, path, UInt32(IN_MODIFY)) >= 0 else {
            Glibc.close(fd)
            return nil
        }
        let fd = self.fd
        let thread = Thread { [stopped] in
            var buf = [UInt8](repeating: 0, count: 4096)
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            var rechecks: ArraySlice<Int32> = []
            while !stopped.value.load(ordering: .relaxed) {
                // Without pending re-checks the timeout only lets the thread notice `stop()`.
                let n = poll(&pfd, 1, rechecks.first ?? 500)
                if n > 0 {
                    _ = read(fd, &buf, buf.count)
                    onChange()
                    rechecks = FileWatcher.recheckDelaysMs[...]
                } else if n == 0, !rechecks.isEmpty {
                    rechecks = rechecks.dropFirst()
                    onChange()
                }
            }
            Glibc.close(fd)
        }
        thread.name = "eventlog-watcher"
        thread.start()
        #else
        return nil
        #endif
    }

    func stop() { stopped.value.store(true, ordering: .relaxed) }
}
