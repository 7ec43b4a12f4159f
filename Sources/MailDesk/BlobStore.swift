import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Content-addressed files beside the LMDB files: attachments and raw messages, each named by the
/// SHA-256 of its bytes (`blobs/ab/abcdef…`). A blob is written to `blobs/tmp/` in pieces while it is
/// hashed, fsynced, then renamed into place (atomic: a reader sees the whole file or none), so memory
/// stays bounded by the piece size whatever the size of the blob. Writing the same content twice
/// stores it once.
///
/// Many blobs written at once need not each pay for an fsync: `write(durable: false)` skips it, and
/// `sync()` then makes everything written so far durable with one `syncfs` shared by every caller
/// waiting at that moment (group commit, as the log does). Nothing that depends on a blob may be
/// acknowledged before its `sync()` returns.
public struct BlobStore: Sendable {
    public let root: URL
    let syncer: GroupSyncer

    public enum BlobError: Error, CustomStringConvertible {
        case tooLarge(limit: Int)
        case io(String)
        public var description: String {
            switch self {
            case .tooLarge(let limit): "larger than the limit of \(limit) bytes"
            case .io(let s): s
            }
        }
    }

    public init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root.appendingPathComponent("tmp"), withIntermediateDirectories: true)
        syncer = GroupSyncer(directory: root.path)
    }

    /// Makes every blob written before the call durable (one `syncfs` for all callers waiting together).
    public func sync() async throws {
        try await syncer.sync()
    }

    /// Whether `sha256` is a well-formed blob name (64 lowercase hex digits): nothing else ever reaches the file system.
    public static func isName(_ sha256: String) -> Bool {
        sha256.utf8.count == 64 && sha256.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    public func path(_ sha256: String) -> String? {
        guard Self.isName(sha256) else { return nil }
        return root.appendingPathComponent(String(sha256.prefix(2))).appendingPathComponent(sha256).path
    }

    public func contains(_ sha256: String) -> Bool {
        path(sha256).map { FileManager.default.fileExists(atPath: $0) } ?? false
    }

    /// The size of a stored blob.
    public func size(_ sha256: String) -> Int? {
        guard let p = path(sha256), let a = try? FileManager.default.attributesOfItem(atPath: p) else { return nil }
        return (a[.size] as? NSNumber)?.intValue
    }

    /// The whole blob (small blobs only; see `forEachChunk` for large ones).
    public func read(_ sha256: String) throws -> [UInt8] {
        var out: [UInt8] = []
        try forEachChunk(sha256) { out.append(contentsOf: $0) }
        return out
    }

    /// Reads a blob in pieces of 64 KiB.
    public func forEachChunk(_ sha256: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let p = path(sha256) else { throw BlobError.io("'\(sha256)' is not a blob name") }
        let fd = open(p, O_RDONLY)
        guard fd >= 0 else { throw BlobError.io("no blob \(sha256)") }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n < 0 { if errno == EINTR { continue }; throw BlobError.io("reading blob \(sha256): errno \(errno)") }
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// Stores bytes; returns their SHA-256 (hex) and size.
    @discardableResult
    public func put(_ bytes: some Collection<UInt8>, limit: Int = .max, durable: Bool = true) throws -> (sha256: String, size: Int) {
        if let r = try bytes.withContiguousStorageIfAvailable({ buffer in
            try write(limit: limit, durable: durable) { sink in try sink(UnsafeRawBufferPointer(buffer)) }
        }) { return r }
        let array = Array(bytes)
        return try write(limit: limit, durable: durable) { sink in try array.withUnsafeBytes { try sink($0) } }
    }

    /// Stores what `produce` passes to its sink, piece by piece; returns the SHA-256 and size. More than
    /// `limit` bytes throws `tooLarge` and stores nothing.
    /// With `durable: false` nothing is fsynced: call `sync()` before relying on the blob.
    public func write(limit: Int = .max, durable: Bool = true,
                      _ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> (sha256: String, size: Int) {
        let w = try writer(limit: limit)
        do {
            try produce { try w.append($0) }
            return try w.finish(durable: durable)
        } catch {
            w.abort()
            throw error
        }
    }

    /// An incremental writer (for bodies that arrive in pieces, e.g. an HTTP upload): `append`, then
    /// `finish` (or `abort`, which leaves nothing behind).
    public func writer(limit: Int = .max) throws -> Writer { try Writer(root: root, limit: limit) }

    public final class Writer {
        let root: URL
        let limit: Int
        let tmp: String
        var fd: Int32
        var hasher = SHA256()
        public private(set) var size = 0

        init(root: URL, limit: Int) throws {
            self.root = root
            self.limit = limit
            tmp = root.appendingPathComponent("tmp").appendingPathComponent(UUID().uuidString).path
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw BlobError.io("cannot create \(tmp): errno \(errno)") }
        }

        deinit { abort() }

        public func append(_ piece: UnsafeRawBufferPointer) throws {
            guard fd >= 0 else { throw BlobError.io("the blob writer is closed") }
            if size + piece.count > limit {
                abort()  // nothing of an oversize blob is ever stored
                throw BlobError.tooLarge(limit: limit)
            }
            size += piece.count
            hasher.update(bufferPointer: piece)
            var done = 0
            while done < piece.count {
                let n = Glibc.write(fd, piece.baseAddress! + done, piece.count - done)
                if n < 0 { if errno == EINTR { continue }; throw BlobError.io("writing a blob: errno \(errno)") }
                done += n
            }
        }

        public func append(_ bytes: some Collection<UInt8>) throws {
            if let done = try bytes.withContiguousStorageIfAvailable({ try append(UnsafeRawBufferPointer($0)) }) { return done }
            try Array(bytes).withUnsafeBytes { try append($0) }
        }

        /// Puts the blob in place, durable unless `durable` is false (then `BlobStore.sync()` makes it so).
        public func finish(durable: Bool = true) throws -> (sha256: String, size: Int) {
            guard fd >= 0 else { throw BlobError.io("the blob writer is closed") }
            defer { abort() }
            if durable, fsync(fd) != 0 { throw BlobError.io("fsync of a blob failed: errno \(errno)") }
            close(fd)
            fd = -1
            let sha = hex(hasher.finalize())
            let dir = root.appendingPathComponent(String(sha.prefix(2)))
            let final = dir.appendingPathComponent(sha).path
            if FileManager.default.fileExists(atPath: final) { return (sha, size) }
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            guard rename(tmp, final) == 0 else { throw BlobError.io("cannot move a blob into place: errno \(errno)") }
            if durable {
                let dfd = open(dir.path, O_RDONLY | O_DIRECTORY)
                if dfd >= 0 { fsync(dfd); close(dfd) }
            }
            return (sha, size)
        }

        /// Forgets what was written (nothing is left in the store).
        public func abort() {
            if fd >= 0 { close(fd); fd = -1 }
            unlink(tmp)
        }
    }
}

/// One `syncfs` for everyone waiting: requests queue on a serial queue; the first to run syncs the
/// file system once for every request made before it started, and the rest find their work done.
final class GroupSyncer: @unchecked Sendable {
    private let lock = NSLock()
    private var requested: UInt64 = 0
    private var done: UInt64 = 0
    private var waiters: [(UInt64, CheckedContinuation<Void, any Error>)] = []
    private let queue = DispatchQueue(label: "blobstore.sync")
    private let directory: String

    /// `syncfs(2)`, looked up at run time (Glibc's Swift module does not export it); nil if missing.
    private static let syncfsFunction: (@convention(c) (Int32) -> Int32)? = {
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "syncfs") else { return nil }
        return unsafeBitCast(sym, to: (@convention(c) (Int32) -> Int32).self)
    }()

    init(directory: String) { self.directory = directory }

    func sync() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            lock.lock()
            requested += 1
            waiters.append((requested, c))
            lock.unlock()
            queue.async { self.drain() }
        }
    }

    private func drain() {
        lock.lock()
        let target = requested
        guard target > done else { lock.unlock(); return }
        lock.unlock()
        var failure: (any Error)?
        let fd = open(directory, O_RDONLY | O_DIRECTORY)
        if fd < 0 {
            failure = BlobStore.BlobError.io("cannot open \(directory) to sync it: errno \(errno)")
        } else {
            let rc = Self.syncfsFunction.map { $0(fd) } ?? { Glibc.sync(); return 0 }()
            if rc != 0 { failure = BlobStore.BlobError.io("syncfs failed: errno \(errno)") }
            close(fd)
        }
        lock.lock()
        done = target
        let ready = waiters.filter { $0.0 <= target }
        waiters.removeAll { $0.0 <= target }
        lock.unlock()
        for (_, c) in ready {
            if let failure { c.resume(throwing: failure) } else { c.resume() }
        }
    }
}
