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
        let s = stream.utf8.count
        if s == 0 || s > Limits.maxStreamBytes { throw EventLogError.invalid("stream name must be 1…\(Limits.maxStreamBytes) bytes of UTF-8, got \(s)") }
        if stream.utf8.contains(0) { throw EventLogError.invalid("stream name must not contain NUL") }
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

    /// Encodes a record into `out` (cleared first) and returns its hash, which is also its last 32 bytes.
    @discardableResult
    static func encode(stream: String, event: NewEvent, fields f: Fields, previousHash: [UInt8],
                       into out: inout [UInt8]) -> [UInt8] {
        out.removeAll(keepingCapacity: true)
        let actor = event.metadata.actor, corr = event.metadata.correlationId, caus = event.metadata.causationId
        var flags: UInt8 = 0
        if actor != nil { flags |= 1 }
        if corr != nil { flags |= 2 }
        if caus != nil { flags |= 4 }
        out.append(currentVersion)
        out.append(flags)
        appendLE(&out, f.schemaVersion)
        appendLE(&out, UInt16(stream.utf8.count))
        appendLE(&out, UInt16(event.type.utf8.count))
        appendLE(&out, f.sequence)
        appendLE(&out, f.version)
        appendLE(&out, UInt64(bitPattern: f.timestampMicros))
        appendLE(&out, f.previousInStream)
        withUnsafeBytes(of: event.id.uuid) { out.append(contentsOf: $0) }
        appendLE(&out, UInt32(event.payload.count))
        appendLE(&out, UInt16(actor?.utf8.count ?? 0))
        appendLE(&out, UInt16(corr?.utf8.count ?? 0))
        appendLE(&out, UInt16(caus?.utf8.count ?? 0))
        out.append(contentsOf: stream.utf8)
        out.append(contentsOf: event.type.utf8)
        if let actor { out.append(contentsOf: actor.utf8) }
        if let corr { out.append(contentsOf: corr.utf8) }
        if let caus { out.append(contentsOf: caus.utf8) }
        out.append(contentsOf: event.payload)
        let hash = chainHash(previous: previousHash, body: out)
        out.append(contentsOf: hash)
        return hash
    }

    static func chainHash(previous: [UInt8], body: some ContiguousBytes) -> [UInt8] {
        var h = SHA256()
        h.update(data: previous)
        body.withUnsafeBytes { h.update(bufferPointer: $0) }
        return Array(h.finalize())
    }

    @inline(__always)
    static func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    /// Decodes a stored record. Throws `unknownFormatVersion` for a newer format and `corrupted` for
    /// bytes that cannot be a record; never reads outside `raw`.
    public static func decode(_ raw: UnsafeRawBufferPointer) throws -> RecordedEvent {
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
        let stream = str(sLen)
        let type = str(tLen)
        let actor = str(aLen), corr = str(cLen), caus = str(kLen)
        let payload = [UInt8](UnsafeRawBufferPointer(rebasing: raw[o..<(o + pLen)]))
        o += pLen
        let hash = [UInt8](UnsafeRawBufferPointer(rebasing: raw[o..<(o + hashSize)]))
        return RecordedEvent(
            sequence: seq, stream: stream, version: ver, id: UUID(uuid: uuid), type: type,
            schemaVersion: schema, timestampMicros: ts,
            metadata: EventMetadata(actor: flags & 1 != 0 ? actor : nil,
                                    correlationId: flags & 2 != 0 ? corr : nil,
                                    causationId: flags & 4 != 0 ? caus : nil),
            payload: payload, hash: hash)
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
    static func peekSequenceAndHash(_ raw: UnsafeRawBufferPointer) -> (UInt64, [UInt8])? {
        guard raw.count >= headerSize + hashSize else { return nil }
        return (raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian, Array(raw[(raw.count - hashSize)...]))
    }
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
