import Crypto
import Foundation

/// The binary layout of one log record (format version 1), little-endian:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 1 | format version (1) |
/// | 1 | 1 | flags: bit 0 actor present, bit 1 correlation id present, bit 2 causation id present |
/// | 2 | 2 | schema version of the payload |
/// | 4 | 2 | stream name length S |
/// | 6 | 2 | type name length T |
/// | 8 | 8 | global sequence |
/// | 16 | 8 | version within the stream |
/// | 24 | 8 | timestamp, µs since the Unix epoch (signed) |
/// | 32 | 8 | sequence of the previous event of the same stream (0 for a stream's first) |
/// | 40 | 16 | event id (UUID bytes) |
/// | 56 | 4 | payload length P |
/// | 60 | 2 | actor length A |
/// | 62 | 2 | correlation id length C |
/// | 64 | 2 | causation id length K |
/// | 66 | S+T+A+C+K+P | stream, type, actor, correlation, causation (UTF-8), payload |
/// | end−32 | 32 | SHA-256(previous record's hash ‖ every byte above) |
///
/// The back-link to the stream's previous event is the stream index: a stream is read by following
/// links from its head (kept in the `heads` table), so an append dirties only the tail of the log and
/// the head entry instead of a page per stream in a separate index B-tree.
///
/// The first record's "previous hash" is 32 zero bytes. Changing any byte of history changes every
/// later hash, which `verify` detects. A reader that meets a format version it does not know throws
/// `unknownFormatVersion` instead of guessing.
public enum RecordFormat {
    public static let currentVersion: UInt8 = 1
    static let headerSize = 66
    static let hashSize = 32
    public static let genesisHash = [UInt8](repeating: 0, count: 32)

    struct Fields {
        var sequence: UInt64
        var version: UInt64
        var timestampMicros: Int64
        var schemaVersion: UInt16
        var previousInStream: UInt64
    }

    /// Checks sizes before anything is written, so that an append either writes everything or nothing.
    static func validate(stream: String, _ event: NewEvent) throws {
        try validate(stream: stream)
        try validate(event: event)
    }

    /// The stream-name half of `validate(stream:_:)`: the same checks in the same order.
    static func validate(stream: String) throws {
        let s = stream.utf8.count
        if s == 0 || s > Limits.maxStreamBytes { throw EventLogError.invalid("stream name must be 1…\(Limits.maxStreamBytes) bytes of UTF-8, got \(s)") }
        if stream.utf8.contains(0) { throw EventLogError.invalid("stream name must not contain NUL") }
    }

    /// The event half of `validate(stream:_:)`.
    static func validate(event: NewEvent) throws {
        let t = event.type.utf8.count
        if t == 0 || t > Limits.maxTypeBytes { throw EventLogError.invalid("event type must be 1…\(Limits.maxTypeBytes) bytes, got \(t)") }
        func check(_ value: String?, _ name: @autoclosure () -> String) throws {
            if let v = value, v.utf8.count > Limits.maxMetadataFieldBytes {
                throw EventLogError.invalid("\(name()) is longer than \(Limits.maxMetadataFieldBytes) bytes")
            }
        }
        try check(event.metadata.actor, "actor")
        try check(event.metadata.correlationId, "correlation id")
        try check(event.metadata.causationId, "causation id")
        if event.payload.count > Limits.maxPayloadBytes {
            throw EventLogError.invalid("payload of \(event.payload.count) bytes exceeds \(Limits.maxPayloadBytes); store blobs beside the log")
        }
    }

    /// Encodes a record into `out` (resized to the record's length) and returns its hash, which is also
    /// its last 32 bytes. The fields are stored straight into `out`'s memory: sizes are known up front,
    /// so there is no per-field append (capacity and uniqueness checks) and no allocation once `out`
    /// has grown to the largest record seen.
    @discardableResult
    static func encode(stream: String, event: NewEvent, fields f: Fields, previousHash: ChainHash,
                       into out: inout [UInt8]) -> ChainHash {
        let m = event.metadata
        let sLen = stream.utf8.count, tLen = event.type.utf8.count
        let aLen = m.actor?.utf8.count ?? 0, cLen = m.correlationId?.utf8.count ?? 0, kLen = m.causationId?.utf8.count ?? 0
        let bodySize = headerSize + sLen + tLen + aLen + cLen + kLen + event.payload.count
        let total = bodySize + hashSize
        if out.count < total {
            out.append(contentsOf: repeatElement(0, count: total - out.count))
        } else if out.count > total {
            out.removeLast(out.count - total)
        }
        var flags: UInt8 = 0
        if m.actor != nil { flags |= 1 }
        if m.correlationId != nil { flags |= 2 }
        if m.causationId != nil { flags |= 4 }
        return out.withUnsafeMutableBytes { p in
            p.storeBytes(of: currentVersion, toByteOffset: 0, as: UInt8.self)
            p.storeBytes(of: flags, toByteOffset: 1, as: UInt8.self)
            p.storeBytes(of: f.schemaVersion.littleEndian, toByteOffset: 2, as: UInt16.self)
            p.storeBytes(of: UInt16(sLen).littleEndian, toByteOffset: 4, as: UInt16.self)
            p.storeBytes(of: UInt16(tLen).littleEndian, toByteOffset: 6, as: UInt16.self)
            p.storeBytes(of: f.sequence.littleEndian, toByteOffset: 8, as: UInt64.self)
            p.storeBytes(of: f.version.littleEndian, toByteOffset: 16, as: UInt64.self)
            p.storeBytes(of: UInt64(bitPattern: f.timestampMicros).littleEndian, toByteOffset: 24, as: UInt64.self)
            p.storeBytes(of: f.previousInStream.littleEndian, toByteOffset: 32, as: UInt64.self)
            p.storeBytes(of: event.id.uuid, toByteOffset: 40, as: uuid_t.self)
            p.storeBytes(of: UInt32(event.payload.count).littleEndian, toByteOffset: 56, as: UInt32.self)
            p.storeBytes(of: UInt16(aLen).littleEndian, toByteOffset: 60, as: UInt16.self)
            p.storeBytes(of: UInt16(cLen).littleEndian, toByteOffset: 62, as: UInt16.self)
            p.storeBytes(of: UInt16(kLen).littleEndian, toByteOffset: 64, as: UInt16.self)
            var w = ByteWriter(at: p.baseAddress! + headerSize)
            w.copy(stream)
            w.copy(event.type)
            w.copy(m.actor)
            w.copy(m.correlationId)
            w.copy(m.causationId)
            event.payload.withUnsafeBytes { w.copy($0) }
            let hash = chainHash(previous: previousHash, body: UnsafeRawBufferPointer(rebasing: p[0..<bodySize]))
            hash.withUnsafeBytes { w.copy($0) }
            return hash
        }
    }

    /// A cursor over memory already sized for what is copied into it (a value, so no closure captures
    /// a mutable offset: those cost a dynamic exclusivity check per field).
    private struct ByteWriter {
        var at: UnsafeMutableRawPointer

        @inline(__always)
        mutating func copy(_ bytes: UnsafeRawBufferPointer) {
            if let base = bytes.baseAddress, bytes.count > 0 { at.copyMemory(from: base, byteCount: bytes.count) }
            at += bytes.count
        }

        @inline(__always)
        mutating func copy(_ string: String?) {
            guard var s = string else { return }
            let n = s.withUTF8 { u in
                if let base = u.baseAddress, u.count > 0 { at.copyMemory(from: base, byteCount: u.count) }
                return u.count
            }
            at += n
        }
    }

    static func chainHash(previous: ChainHash, body: UnsafeRawBufferPointer) -> ChainHash {
        var h = SHA256()
        previous.withUnsafeBytes { h.update(bufferPointer: $0) }
        h.update(bufferPointer: body)
        return h.finalize().withUnsafeBytes { ChainHash($0) }
    }

    /// Decodes a stored record. Throws `unknownFormatVersion` for a newer format and `corrupted` for
    /// bytes that cannot be a record; never reads outside `raw`.
    public static func decode(_ raw: UnsafeRawBufferPointer) throws -> RecordedEvent {
        try decode(raw, copyingBytes: true).record
    }

    /// As `decode`, but the record's `payload` and `hash` are left empty and the payload is given
    /// as a range of `raw` instead: for readers that decode the payload at once and keep only the
    /// rest (a projection rebuild holds tens of thousands of records; the copies were a third of them).
    public static func decodeWithoutBytes(_ raw: UnsafeRawBufferPointer) throws -> (record: RecordedEvent, payload: UnsafeRawBufferPointer) {
        let (record, range) = try decode(raw, copyingBytes: false)
        return (record, UnsafeRawBufferPointer(rebasing: raw[range]))
    }

    /// As `decodeWithoutBytes`, keeping only what a projection's fold reads: sequence, type, schema
    /// version, timestamp and actor. The stream, version, id, correlation and causation are left
    /// empty (a rebuild decodes millions of records; their strings were a fifth of reading one).
    public static func decodeForFold(_ raw: UnsafeRawBufferPointer) throws -> (record: RecordedEvent, payload: UnsafeRawBufferPointer) {
        let (record, range) = try decode(raw, copyingBytes: false, lean: true)
        return (record, UnsafeRawBufferPointer(rebasing: raw[range]))
    }

    static func decode(_ raw: UnsafeRawBufferPointer, copyingBytes: Bool, lean: Bool = false) throws -> (record: RecordedEvent, payload: Range<Int>) {
        guard raw.count >= headerSize + hashSize else {
            throw EventLogError(.corrupted, "record of \(raw.count) bytes is shorter than the minimum \(headerSize + hashSize)")
        }
        let fmt = raw[0]
        guard fmt == currentVersion else {
            if fmt > currentVersion {
                throw EventLogError(.unknownFormatVersion,
                                    "record format version \(fmt) is newer than this build understands (\(currentVersion)); upgrade the tool")
            }
            throw EventLogError(.corrupted, "record format version \(fmt) is not valid")
        }
        let flags = raw[1]
        let schema = raw.loadUnaligned(fromByteOffset: 2, as: UInt16.self).littleEndian
        let sLen = Int(raw.loadUnaligned(fromByteOffset: 4, as: UInt16.self).littleEndian)
        let tLen = Int(raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self).littleEndian)
        let seq = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian
        let ver = raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian
        let ts = Int64(bitPattern: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self).littleEndian)
        let uuid = raw.loadUnaligned(fromByteOffset: 40, as: uuid_t.self)
        let pLen = Int(raw.loadUnaligned(fromByteOffset: 56, as: UInt32.self).littleEndian)
        let aLen = Int(raw.loadUnaligned(fromByteOffset: 60, as: UInt16.self).littleEndian)
        let cLen = Int(raw.loadUnaligned(fromByteOffset: 62, as: UInt16.self).littleEndian)
        let kLen = Int(raw.loadUnaligned(fromByteOffset: 64, as: UInt16.self).littleEndian)
        let total = headerSize + sLen + tLen + aLen + cLen + kLen + pLen + hashSize
        guard total == raw.count else {
            throw EventLogError(.corrupted, "record lengths add up to \(total) bytes but \(raw.count) are stored", sequence: seq)
        }
        var o = headerSize
        func str(_ n: Int) -> String {
            defer { o += n }
            return String(decoding: UnsafeRawBufferPointer(rebasing: raw[o..<(o + n)]), as: UTF8.self)
        }
        if lean {
            o += sLen
            let type = str(tLen)
            let actor = flags & 1 != 0 ? str(aLen) : nil
            let range = o + cLen + kLen..<(o + cLen + kLen + pLen)
            let record = RecordedEvent(
                sequence: seq, stream: "", version: 0, id: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), type: type,
                schemaVersion: schema, timestampMicros: ts, metadata: EventMetadata(actor: actor),
                payload: [], hash: [])
            return (record, range)
        }
        let stream = str(sLen)
        let type = str(tLen)
        let actor = str(aLen), corr = str(cLen), caus = str(kLen)
        let range = o..<(o + pLen)
        let payload = copyingBytes ? [UInt8](UnsafeRawBufferPointer(rebasing: raw[range])) : []
        o += pLen
        let hash = copyingBytes ? [UInt8](UnsafeRawBufferPointer(rebasing: raw[o..<(o + hashSize)])) : []
        let record = RecordedEvent(
            sequence: seq, stream: stream, version: ver, id: UUID(uuid: uuid), type: type,
            schemaVersion: schema, timestampMicros: ts,
            metadata: EventMetadata(actor: flags & 1 != 0 ? actor : nil,
                                    correlationId: flags & 2 != 0 ? corr : nil,
                                    causationId: flags & 4 != 0 ? caus : nil),
            payload: payload, hash: hash)
        return (record, range)
    }

    public static func decode(_ bytes: [UInt8]) throws -> RecordedEvent {
        try bytes.withUnsafeBytes { try decode($0) }
    }

    /// The stored hash (last 32 bytes) and the hash recomputed from `previous` and the body.
    static func checkHash(_ raw: UnsafeRawBufferPointer, previous: [UInt8]) -> (stored: [UInt8], computed: [UInt8])? {
        guard raw.count >= hashSize else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - hashSize)])
        var h = SHA256()
        h.update(data: previous)
        h.update(bufferPointer: body)
        return (Array(raw[(raw.count - hashSize)...]), Array(h.finalize()))
    }

    /// Reads the stream-index fields of a record without decoding it: version, sequence, timestamp and
    /// the back-link. Nil when the bytes are too short to be a record.
    static func peekIndex(_ raw: UnsafeRawBufferPointer) -> (entry: StreamIndexEntry, previous: UInt64)? {
        guard raw.count >= headerSize + hashSize, raw[0] == currentVersion else { return nil }
        let entry = StreamIndexEntry(version: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian,
                                     sequence: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian,
                                     timestampMicros: Int64(bitPattern: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self).littleEndian))
        return (entry, raw.loadUnaligned(fromByteOffset: 32, as: UInt64.self).littleEndian)
    }

    /// Reads only the sequence and hash of a record without decoding it (for the writer at start-up).
    static func peekSequenceAndHash(_ raw: UnsafeRawBufferPointer) -> (UInt64, ChainHash)? {
        guard raw.count >= headerSize + hashSize else { return nil }
        return (raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian,
                ChainHash(UnsafeRawBufferPointer(rebasing: raw[(raw.count - hashSize)...])))
    }
}

/// A SHA-256 value held inline (four words, no heap allocation): the running hash of the chain,
/// carried from record to record and batch to batch by the writer.
struct ChainHash: Sendable {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    static let genesis = ChainHash(words: (0, 0, 0, 0))

    private init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// Copies 32 bytes.
    init(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == RecordFormat.hashSize)
        words = (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    init(_ bytes: [UInt8]) { self = bytes.withUnsafeBytes { ChainHash($0) } }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words, body)
    }

    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// Big-endian keys, so that LMDB's byte order is numeric order.
enum Keys {
    @inline(__always)
    static func u64(_ v: UInt64) -> [UInt8] {
        withUnsafeBytes(of: v.bigEndian) { Array($0) }
    }
    @inline(__always)
    static func readU64(_ raw: UnsafeRawBufferPointer, at offset: Int = 0) -> UInt64 {
        UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    static func uuid(_ id: UUID) -> [UInt8] { withUnsafeBytes(of: id.uuid) { Array($0) } }
}
