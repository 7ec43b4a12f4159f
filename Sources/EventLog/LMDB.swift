import CLMDB
import Foundation

// A deliberately small wrapper over the LMDB C API: only what the log needs. Raw handles never leave
// this module; every transaction is scoped (`LMDBEventStore.read` / the writer thread).

func lmdbError(_ rc: Int32, _ operation: String) -> EventLogError {
    EventLogError(.lmdb, "\(operation): \(String(cString: mdb_strerror(rc)))", lmdbCode: rc)
}

@inline(__always)
func lmdbCheck(_ rc: Int32, _ operation: @autoclosure () -> String) throws {
    if rc != 0 { throw lmdbError(rc, operation()) }
}

extension EventLogError {
    var isMapFull: Bool { code == .lmdb && lmdbCode == MDB_MAP_FULL }
}

/// A transaction handle plus the handles of the databases the log uses.
struct LMDBTxn {
    let txn: OpaquePointer

    @inline(__always)
    static func withVal<R>(_ bytes: UnsafeRawBufferPointer, _ body: (inout MDB_val) throws -> R) rethrows -> R {
        var v = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
        return try body(&v)
    }

    /// The value for `key`, valid until the transaction ends; nil when absent.
    func get(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        var data = MDB_val()
        let rc = LMDBTxn.withVal(key) { k in mdb_get(txn, dbi, &k, &data) }
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc, "mdb_get")
        return UnsafeRawBufferPointer(start: data.mv_data, count: data.mv_size)
    }

    func get(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        try key.withUnsafeBytes { try get(dbi, $0) }
    }

    /// Returns the raw LMDB code for flags like `MDB_NOOVERWRITE`; throws on any other failure.
    @discardableResult
    func put(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, flags: UInt32 = 0) throws -> Int32 {
        let rc = LMDBTxn.withVal(key) { k in
            LMDBTxn.withVal(value) { v in mdb_put(txn, dbi, &k, &v, flags) }
        }
        if rc == MDB_KEYEXIST && flags & UInt32(MDB_NOOVERWRITE) != 0 { return rc }
        try lmdbCheck(rc, "mdb_put")
        return rc
    }

    func put(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8], flags: UInt32 = 0) throws {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in _ = try put(dbi, k, v, flags: flags) } }
    }

    /// Deletes `key`; returns false when it was absent.
    @discardableResult
    func delete(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> Bool {
        let rc = key.withUnsafeBytes { kb in LMDBTxn.withVal(kb) { k in mdb_del(txn, dbi, &k, nil) } }
        if rc == MDB_NOTFOUND { return false }
        try lmdbCheck(rc, "mdb_del")
        return true
    }

    func entries(_ dbi: MDB_dbi) throws -> Int {
        var st = MDB_stat()
        try lmdbCheck(mdb_stat(txn, dbi, &st), "mdb_stat")
        return st.ms_entries
    }

    func stat(_ dbi: MDB_dbi) throws -> MDB_stat {
        var st = MDB_stat()
        try lmdbCheck(mdb_stat(txn, dbi, &st), "mdb_stat")
        return st
    }

    /// Runs `body` with a cursor that is closed afterwards.
    func withCursor<R>(_ dbi: MDB_dbi, _ body: (LMDBCursor) throws -> R) throws -> R {
        var c: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(txn, dbi, &c), "mdb_cursor_open")
        guard let cursor = c else { throw lmdbError(EINVAL, "mdb_cursor_open") }
        defer { mdb_cursor_close(cursor) }
        return try body(LMDBCursor(cursor: cursor))
    }
}

struct LMDBCursor {
    let cursor: OpaquePointer

    /// Positions the cursor; returns the key and value there, or nil at the end.
    func get(_ op: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil)
        throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        var k = MDB_val()
        var v = MDB_val()
        if let key {
            k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        }
        let rc = mdb_cursor_get(cursor, &k, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc, "mdb_cursor_get")
        return (UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    func get(_ op: MDB_cursor_op, key: [UInt8]) throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        try key.withUnsafeBytes { try get(op, key: $0) }
    }

    func deleteCurrent() throws {
        try lmdbCheck(mdb_cursor_del(cursor, 0), "mdb_cursor_del")
    }
}

/// A reader–writer lock that prefers writers: readers hold it in shared mode while a read transaction
/// is open; the map is only resized under the exclusive lock, i.e. with no transaction open in this process.
final class ReadWriteLock: @unchecked Sendable {
    private var lock = pthread_rwlock_t()

    init() {
        var attr = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attr)
        #if os(Linux)
        pthread_rwlockattr_setkind_np(&attr, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        #endif
        pthread_rwlock_init(&lock, &attr)
        pthread_rwlockattr_destroy(&attr)
    }

    deinit { pthread_rwlock_destroy(&lock) }

    func withReadLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(&lock)
        defer { pthread_rwlock_unlock(&lock) }
        return try body()
    }

    func withWriteLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(&lock)
        defer { pthread_rwlock_unlock(&lock) }
        return try body()
    }
}
