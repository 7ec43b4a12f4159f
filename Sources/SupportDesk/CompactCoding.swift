import Foundation

// A compact, self-describing binary form for Codable values: the payload format of desk events.
//
// Foundation's JSON coders build an intermediate tree and run at about 120,000 small objects per
// second here; projections must fold events several times faster than that. This format keeps keys
// (so adding an optional field needs no schema bump, as with JSON) and writes straight into one
// buffer; objects and arrays carry their byte length, so a decoder skips what it does not need.
//
//   value  := 0x00 nil | 0x01 false | 0x02 true | 0x03 zigzag-varint Int | 0x04 varint UInt
//           | 0x05 Double (8 bytes LE) | 0x06 string: varint length, UTF-8
//           | 0x07 array:  u32 LE byte length of what follows, u32 LE count, values
//           | 0x08 object: u32 LE byte length of what follows, u32 LE count, (key: varint length, UTF-8; value)…
//   payload := 0xB1 value
//
// Containers are written in the order Codable's synthesized code uses them (each nested value is
// complete before the next key), so a container patches its length and count after every element.

public enum CompactCoding {
    public static let marker: UInt8 = 0xB1

    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        if let fast = value as? any FastCompact { return payload(fast) }
        return try encode(value, nestedFast: true)
    }

    /// The payload of a value with a hand-written compact form (FastCompact.swift).
    static func payload<T: FastCompact>(_ value: T) -> [UInt8] {
        var w = CompactWriter()
        w.bytes.reserveCapacity(256)
        w.bytes.append(marker)
        value.writeCompact(into: &w)
        return w.bytes
    }

    /// Through Codable alone, with no fast path anywhere inside: the reference the fast paths are
    /// tested against (`FastCompactTests`) and measured against (`helpdesk-bench codec`).
    @_spi(Codec) public static func encodeViaCodable<T: Encodable>(_ value: T) throws -> [UInt8] { try encode(value, nestedFast: false) }

    private static func encode<T: Encodable>(_ value: T, nestedFast: Bool) throws -> [UInt8] {
        let sink = Sink()
        sink.useFast = nestedFast
        sink.bytes.reserveCapacity(256)
        sink.bytes.append(marker)
        try value.encode(to: CompactEncoder(sink: sink, codingPath: []))
        // Container lengths are settled in one pass at the end: a nested container (e.g. an enum
        // case's associated values) may be filled after its parent's last element was counted.
        _ = sink.settleLengths(1)
        return sink.bytes
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        guard bytes.first == marker else { throw corrupt("not a compact payload", []) }
        let reader = Reader(bytes: bytes)
        if let fast = T.self as? any FastCompact.Type { return try reader.decodeFast(fast, at: 1) }
        return try T(from: CompactDecoder(reader: reader, offset: 1, codingPath: []))
    }

    /// Through Codable alone, with no fast path anywhere inside (see `encodeViaCodable`).
    @_spi(Codec) public static func decodeViaCodable<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { bytes in
            guard bytes.first == marker else { throw corrupt("not a compact payload", []) }
            return try T(from: CompactDecoder(reader: Reader(bytes: bytes, useFast: false), offset: 1, codingPath: []))
        }
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { try decode(type, from: $0) }
    }

    static func corrupt(_ what: String, _ path: [any CodingKey]) -> DecodingError {
        .dataCorrupted(.init(codingPath: path, debugDescription: "compact payload: \(what)"))
    }
}

// MARK: Encoding

final class Sink {
    var bytes: [UInt8] = []
    /// Values with a hand-written compact form nested in Codable ones write it (false: Codable only).
    var useFast = true

    @inline(__always) func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    func int(_ v: Int64) {
        bytes.append(0x03)
        varint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    func uint(_ v: UInt64) {
        bytes.append(0x04)
        varint(v)
    }

    func double(_ v: Double) {
        bytes.append(0x05)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    func string(_ s: String) {
        bytes.append(0x06)
        var s = s
        s.withUTF8 { u in
            varint(UInt64(u.count))
            bytes.append(contentsOf: u)
        }
    }

    func key(_ s: String) {
        var s = s
        s.withUTF8 { u in
            varint(UInt64(u.count))
            bytes.append(contentsOf: u)
        }
    }

    /// Starts a container; returns the offset of its length field.
    func open(_ tag: UInt8) -> Int {
        bytes.append(tag)
        let at = bytes.count
        bytes.append(contentsOf: [4, 0, 0, 0, 0, 0, 0, 0])  // length 4 (just the count), count 0
        return at
    }

    /// Records the container's element count (called after every element).
    func patch(_ at: Int, count: Int) {
        let c = UInt32(count)
        bytes.withUnsafeMutableBytes { b in b.storeBytes(of: c.littleEndian, toByteOffset: at + 4, as: UInt32.self) }
    }

    /// Writes the byte length of every container in the value at `at`; returns the offset past it.
    func settleLengths(_ at: Int) -> Int {
        var p = at + 1
        func varintEnd() { while bytes[p] & 0x80 != 0 { p += 1 }; p += 1 }
        switch bytes[at] {
        case 0, 1, 2: return p
        case 3, 4: varintEnd(); return p
        case 5: return at + 9
        case 6:
            var n = 0, shift = 0
            while true {
                let b = bytes[p]
                p += 1
                n |= Int(b & 0x7F) << shift
                if b < 0x80 { break }
                shift += 7
            }
            return p + n
        default:  // 7 array, 8 object
            let count = bytes.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at + 5, as: UInt32.self))) }
            p = at + 9
            for _ in 0..<count {
                if bytes[at] == 8 {  // key
                    var n = 0, shift = 0
                    while true {
                        let b = bytes[p]
                        p += 1
                        n |= Int(b & 0x7F) << shift
                        if b < 0x80 { break }
                        shift += 7
                    }
                    p += n
                }
                p = settleLengths(p)
            }
            let length = UInt32(p - at - 5)
            bytes.withUnsafeMutableBytes { $0.storeBytes(of: length.littleEndian, toByteOffset: at + 1, as: UInt32.self) }
            return p
        }
    }

    func encode<T: Encodable>(_ value: T, path: [any CodingKey]) throws {
        // Type checks by metatype, then bit casts: dynamic `as` casts cost more than the encoding.
        if T.self == String.self { string(unsafeBitCast(value, to: String.self)) }
        else if T.self == Int.self { int(Int64(unsafeBitCast(value, to: Int.self))) }
        else if T.self == Double.self { double(unsafeBitCast(value, to: Double.self)) }
        else if T.self == Bool.self { bytes.append(unsafeBitCast(value, to: Bool.self) ? 0x02 : 0x01) }
        else if T.self == Date.self { double(unsafeBitCast(value, to: Date.self).timeIntervalSinceReferenceDate) }
        else if useFast, let fast = value as? any FastCompact { write(fast) }
        else { try value.encode(to: CompactEncoder(sink: self, codingPath: path)) }
    }

    /// A fast value inside a Codable one: written in place (the buffer is moved, not copied).
    private func write<F: FastCompact>(_ value: F) {
        var w = CompactWriter()
        swap(&w.bytes, &bytes)
        value.writeCompact(into: &w)
        swap(&w.bytes, &bytes)
    }
}

struct CompactEncoder: Encoder {
    let sink: Sink
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedWriter<Key>(sink: sink, at: sink.open(0x08), codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedWriter(sink: sink, at: sink.open(0x07), codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleWriter(sink: sink, codingPath: codingPath) }
}

struct KeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: Sink
    let at: Int
    var codingPath: [any CodingKey]
    var count = 0

    mutating func done() {
        count += 1
        sink.patch(at, count: count)
    }

    mutating func encodeNil(forKey key: Key) throws { sink.key(key.stringValue); sink.bytes.append(0); done() }
    mutating func encode(_ v: Bool, forKey key: Key) throws { sink.key(key.stringValue); sink.bytes.append(v ? 2 : 1); done() }
    mutating func encode(_ v: String, forKey key: Key) throws { sink.key(key.stringValue); sink.string(v); done() }
    mutating func encode(_ v: Double, forKey key: Key) throws { sink.key(key.stringValue); sink.double(v); done() }
    mutating func encode(_ v: Float, forKey key: Key) throws { sink.key(key.stringValue); sink.double(Double(v)); done() }
    mutating func encode(_ v: Int, forKey key: Key) throws { sink.key(key.stringValue); sink.int(Int64(v)); done() }
    mutating func encode(_ v: Int8, forKey key: Key) throws { sink.key(key.stringValue); sink.int(Int64(v)); done() }
    mutating func encode(_ v: Int16, forKey key: Key) throws { sink.key(key.stringValue); sink.int(Int64(v)); done() }
    mutating func encode(_ v: Int32, forKey key: Key) throws { sink.key(key.stringValue); sink.int(Int64(v)); done() }
    mutating func encode(_ v: Int64, forKey key: Key) throws { sink.key(key.stringValue); sink.int(v); done() }
    mutating func encode(_ v: UInt, forKey key: Key) throws { sink.key(key.stringValue); sink.uint(UInt64(v)); done() }
    mutating func encode(_ v: UInt8, forKey key: Key) throws { sink.key(key.stringValue); sink.uint(UInt64(v)); done() }
    mutating func encode(_ v: UInt16, forKey key: Key) throws { sink.key(key.stringValue); sink.uint(UInt64(v)); done() }
    mutating func encode(_ v: UInt32, forKey key: Key) throws { sink.key(key.stringValue); sink.uint(UInt64(v)); done() }
    mutating func encode(_ v: UInt64, forKey key: Key) throws { sink.key(key.stringValue); sink.uint(v); done() }
    mutating func encode<T: Encodable>(_ v: T, forKey key: Key) throws {
        sink.key(key.stringValue)
        try sink.encode(v, path: [])
        done()
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        sink.key(key.stringValue)
        let c = KeyedWriter<NestedKey>(sink: sink, at: sink.open(0x08), codingPath: [])
        done()
        return KeyedEncodingContainer(c)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        sink.key(key.stringValue)
        let c = UnkeyedWriter(sink: sink, at: sink.open(0x07), codingPath: [])
        done()
        return c
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        sink.key(key.stringValue)
        done()
        return CompactEncoder(sink: sink, codingPath: [])
    }
}

struct UnkeyedWriter: UnkeyedEncodingContainer {
    let sink: Sink
    let at: Int
    var codingPath: [any CodingKey]
    var count = 0

    mutating func done() {
        count += 1
        sink.patch(at, count: count)
    }

    mutating func encodeNil() throws { sink.bytes.append(0); done() }
    mutating func encode(_ v: String) throws { sink.string(v); done() }
    mutating func encode(_ v: Int) throws { sink.int(Int64(v)); done() }
    mutating func encode(_ v: Bool) throws { sink.bytes.append(v ? 2 : 1); done() }
    mutating func encode(_ v: Double) throws { sink.double(v); done() }
    mutating func encode<T: Encodable>(_ v: T) throws { try sink.encode(v, path: codingPath); done() }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let c = KeyedWriter<NestedKey>(sink: sink, at: sink.open(0x08), codingPath: codingPath)
        done()
        return KeyedEncodingContainer(c)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let c = UnkeyedWriter(sink: sink, at: sink.open(0x07), codingPath: codingPath)
        done()
        return c
    }

    mutating func superEncoder() -> any Encoder { done(); return CompactEncoder(sink: sink, codingPath: codingPath) }
}

struct SingleWriter: SingleValueEncodingContainer {
    let sink: Sink
    var codingPath: [any CodingKey]

    mutating func encodeNil() throws { sink.bytes.append(0) }
    mutating func encode(_ v: Bool) throws { sink.bytes.append(v ? 2 : 1) }
    mutating func encode(_ v: String) throws { sink.string(v) }
    mutating func encode(_ v: Double) throws { sink.double(v) }
    mutating func encode(_ v: Float) throws { sink.double(Double(v)) }
    mutating func encode(_ v: Int) throws { sink.int(Int64(v)) }
    mutating func encode(_ v: Int8) throws { sink.int(Int64(v)) }
    mutating func encode(_ v: Int16) throws { sink.int(Int64(v)) }
    mutating func encode(_ v: Int32) throws { sink.int(Int64(v)) }
    mutating func encode(_ v: Int64) throws { sink.int(v) }
    mutating func encode(_ v: UInt) throws { sink.uint(UInt64(v)) }
    mutating func encode(_ v: UInt8) throws { sink.uint(UInt64(v)) }
    mutating func encode(_ v: UInt16) throws { sink.uint(UInt64(v)) }
    mutating func encode(_ v: UInt32) throws { sink.uint(UInt64(v)) }
    mutating func encode(_ v: UInt64) throws { sink.uint(v) }
    mutating func encode<T: Encodable>(_ v: T) throws { try sink.encode(v, path: codingPath) }
}

// MARK: Decoding

/// Bounds-checked reads over the payload; every read that would leave it throws.
struct Reader {
    let bytes: UnsafeRawBufferPointer
    /// Values with a hand-written compact form nested in Codable ones read it (false: Codable only).
    var useFast = true
    /// Where notify lists decoded before are found (`partyList`); nil: each one decoded.
    var lists: NotifyListCache? = nil

    @inline(__always) func byte(_ at: Int) throws -> UInt8 {
        guard at >= 0, at < bytes.count else { throw CompactCoding.corrupt("truncated at \(at)", []) }
        return bytes[at]
    }

    func varint(_ at: inout Int) throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            let b = try byte(at)
            at += 1
            guard shift < 64 else { throw CompactCoding.corrupt("varint too long", []) }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    /// A varint that must be a plausible length.
    func length(_ at: inout Int) throws -> Int {
        let v = try varint(&at)
        guard v <= UInt64(bytes.count) else { throw CompactCoding.corrupt("length \(v) exceeds the payload", []) }
        return Int(v)
    }

    func u32(_ at: Int) throws -> Int {
        guard at >= 0, at + 4 <= bytes.count else { throw CompactCoding.corrupt("truncated length at \(at)", []) }
        return Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
    }

    /// The offset just past the value at `at`.
    func skip(_ at: Int) throws -> Int {
        var p = at + 1
        switch try byte(at) {
        case 0, 1, 2: return p
        case 3, 4: _ = try varint(&p); return p
        case 5: return at + 9
        case 6: let n = try length(&p); return p + n
        case 7, 8: return at + 5 + (try u32(at + 1))
        case let t: throw CompactCoding.corrupt("unknown tag \(t) at \(at)", [])
        }
    }

    func string(_ at: Int) throws -> String {
        guard try byte(at) == 6 else { throw CompactCoding.corrupt("expected a string at \(at)", []) }
        var p = at + 1
        let n = try length(&p)
        guard p + n <= bytes.count else { throw CompactCoding.corrupt("string runs past the end", []) }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[p..<(p + n)]), as: UTF8.self)
    }

    func int(_ at: Int) throws -> Int64 {
        var p = at + 1
        switch try byte(at) {
        case 3:
            let z = try varint(&p)
            return Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1)))
        case 4:
            let u = try varint(&p)
            guard u <= UInt64(Int64.max) else { throw CompactCoding.corrupt("integer out of range", []) }
            return Int64(u)
        case 5:
            let d = try double(at)
            guard d == d.rounded(), let i = Int64(exactly: d) else { throw CompactCoding.corrupt("not an integer", []) }
            return i
        default: throw CompactCoding.corrupt("expected an integer at \(at)", [])
        }
    }

    func uint(_ at: Int) throws -> UInt64 {
        var p = at + 1
        switch try byte(at) {
        case 4: return try varint(&p)
        case 3:
            let i = try int(at)
            guard i >= 0 else { throw CompactCoding.corrupt("negative where unsigned expected", []) }
            return UInt64(i)
        default: throw CompactCoding.corrupt("expected an unsigned integer at \(at)", [])
        }
    }

    func double(_ at: Int) throws -> Double {
        switch try byte(at) {
        case 5:
            guard at + 9 <= bytes.count else { throw CompactCoding.corrupt("truncated double", []) }
            return Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at + 1, as: UInt64.self)))
        case 3: return Double(try int(at))
        case 4: return Double(try uint(at))
        default: throw CompactCoding.corrupt("expected a number at \(at)", [])
        }
    }

    func bool(_ at: Int) throws -> Bool {
        switch try byte(at) {
        case 1: return false
        case 2: return true
        default: throw CompactCoding.corrupt("expected a boolean at \(at)", [])
        }
    }

    func decode<T: Decodable>(_ type: T.Type, at: Int, path: [any CodingKey]) throws -> T {
        if T.self == String.self { return unsafeBitCast(try string(at), to: T.self) }
        if T.self == Int.self { return unsafeBitCast(Int(try int(at)), to: T.self) }
        if T.self == Double.self { return unsafeBitCast(try double(at), to: T.self) }
        if T.self == Bool.self { return unsafeBitCast(try bool(at), to: T.self) }
        if T.self == Date.self { return unsafeBitCast(Date(timeIntervalSinceReferenceDate: try double(at)), to: T.self) }
        if useFast, let fast = T.self as? any FastCompact.Type { return try decodeFast(fast, at: at) }
        return try T(from: CompactDecoder(reader: self, offset: at, codingPath: path))
    }

    /// Reads a `T` that is the fast type `F` (the caller checked).
    func decodeFast<F: FastCompact, T>(_ fast: F.Type, at: Int) throws -> T {
        try F(compactAt: at, in: self) as! T
    }
}

struct CompactDecoder: Decoder {
    let reader: Reader
    let offset: Int
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(try KeyedReader<Key>(reader: reader, at: offset, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try UnkeyedReader(reader: reader, at: offset, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleReader(reader: reader, at: offset, codingPath: codingPath)
    }
}

final class KeyedReader<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let reader: Reader
    var codingPath: [any CodingKey]
    /// (key start, key length, value offset) per entry, in stored order.
    private var entries: [(Int, Int, Int)] = []
    private var hint = 0

    init(reader: Reader, at: Int, codingPath: [any CodingKey]) throws {
        self.reader = reader
        self.codingPath = codingPath
        guard try reader.byte(at) == 8 else {
            throw CompactCoding.corrupt("expected an object at \(at)", codingPath)
        }
        let end = at + 5 + (try reader.u32(at + 1))
        let count = try reader.u32(at + 5)
        guard end <= reader.bytes.count, count <= reader.bytes.count else { throw CompactCoding.corrupt("object runs past the end", codingPath) }
        entries.reserveCapacity(count)
        var p = at + 9
        for _ in 0..<count {
            let n = try reader.length(&p)
            guard p + n <= end else { throw CompactCoding.corrupt("key runs past the object", codingPath) }
            let keyStart = p
            p += n
            entries.append((keyStart, n, p))
            p = try reader.skip(p)
            guard p <= end else { throw CompactCoding.corrupt("value runs past the object", codingPath) }
        }
    }

    private func find(_ key: Key) -> Int? {
        var name = key.stringValue
        return name.withUTF8 { u -> Int? in
            let n = entries.count
            guard n > 0 else { return nil }
            for step in 0..<n {
                let i = (hint + step) % n
                let (ks, kl, vo) = entries[i]
                if kl == u.count, memcmp(reader.bytes.baseAddress! + ks, u.baseAddress!, kl) == 0 {
                    hint = i + 1
                    return vo
                }
            }
            return nil
        }
    }

    private func value(_ key: Key) throws -> Int {
        guard let at = find(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no '\(key.stringValue)'"))
        }
        return at
    }

    var allKeys: [Key] {
        entries.compactMap { (ks, kl, _) in
            Key(stringValue: String(decoding: UnsafeRawBufferPointer(rebasing: reader.bytes[ks..<(ks + kl)]), as: UTF8.self))
        }
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }
    func decodeNil(forKey key: Key) throws -> Bool { try reader.byte(try value(key)) == 0 }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try reader.bool(try value(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try reader.string(try value(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try reader.double(try value(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try reader.double(try value(key))) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try narrow(try reader.int(try value(key)), key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try narrow(try reader.int(try value(key)), key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try narrow(try reader.int(try value(key)), key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try narrow(try reader.int(try value(key)), key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try reader.int(try value(key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try narrow(try reader.uint(try value(key)), key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try narrow(try reader.uint(try value(key)), key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try narrow(try reader.uint(try value(key)), key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try narrow(try reader.uint(try value(key)), key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try reader.uint(try value(key)) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try reader.decode(type, at: try value(key), path: [])
    }

    private func narrow<I: FixedWidthInteger, S: BinaryInteger>(_ v: S, _ key: Key) throws -> I {
        guard let r = I(exactly: v) else { throw CompactCoding.corrupt("\(v) does not fit \(I.self) at '\(key.stringValue)'", codingPath) }
        return r
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        KeyedDecodingContainer(try KeyedReader<NestedKey>(reader: reader, at: try value(key), codingPath: []))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try UnkeyedReader(reader: reader, at: try value(key), codingPath: [])
    }

    func superDecoder() throws -> any Decoder { try superDecoder(forKey: Key(stringValue: "super")!) }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        CompactDecoder(reader: reader, offset: try value(key), codingPath: [])
    }
}

struct UnkeyedReader: UnkeyedDecodingContainer {
    let reader: Reader
    var codingPath: [any CodingKey]
    var count: Int?
    var currentIndex = 0
    private var p: Int
    private let end: Int

    init(reader: Reader, at: Int, codingPath: [any CodingKey]) throws {
        self.reader = reader
        self.codingPath = codingPath
        guard try reader.byte(at) == 7 else { throw CompactCoding.corrupt("expected an array at \(at)", codingPath) }
        end = at + 5 + (try reader.u32(at + 1))
        count = try reader.u32(at + 5)
        guard end <= reader.bytes.count else { throw CompactCoding.corrupt("array runs past the end", codingPath) }
        p = at + 9
    }

    var isAtEnd: Bool { currentIndex >= (count ?? 0) }

    private mutating func next() throws -> Int {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "array ended"))
        }
        let at = p
        p = try reader.skip(at)
        guard p <= end else { throw CompactCoding.corrupt("element runs past the array", codingPath) }
        currentIndex += 1
        return at
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, try reader.byte(p) == 0 else { return false }
        _ = try next()
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try reader.bool(try next()) }
    mutating func decode(_ type: String.Type) throws -> String { try reader.string(try next()) }
    mutating func decode(_ type: Double.Type) throws -> Double { try reader.double(try next()) }
    mutating func decode(_ type: Int.Type) throws -> Int {
        let v = try reader.int(try next())
        guard let i = Int(exactly: v) else { throw CompactCoding.corrupt("integer out of range", codingPath) }
        return i
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try reader.decode(type, at: try next(), path: codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        KeyedDecodingContainer(try KeyedReader<NestedKey>(reader: reader, at: try next(), codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try UnkeyedReader(reader: reader, at: try next(), codingPath: codingPath)
    }

    mutating func superDecoder() throws -> any Decoder {
        CompactDecoder(reader: reader, offset: try next(), codingPath: codingPath)
    }
}

struct SingleReader: SingleValueDecodingContainer {
    let reader: Reader
    let at: Int
    var codingPath: [any CodingKey]

    func decodeNil() -> Bool { (try? reader.byte(at)) == 0 }
    func decode(_ type: Bool.Type) throws -> Bool { try reader.bool(at) }
    func decode(_ type: String.Type) throws -> String { try reader.string(at) }
    func decode(_ type: Double.Type) throws -> Double { try reader.double(at) }
    func decode(_ type: Float.Type) throws -> Float { Float(try reader.double(at)) }
    func decode(_ type: Int.Type) throws -> Int { try fit(try reader.int(at)) }
    func decode(_ type: Int8.Type) throws -> Int8 { try fit(try reader.int(at)) }
    func decode(_ type: Int16.Type) throws -> Int16 { try fit(try reader.int(at)) }
    func decode(_ type: Int32.Type) throws -> Int32 { try fit(try reader.int(at)) }
    func decode(_ type: Int64.Type) throws -> Int64 { try reader.int(at) }
    func decode(_ type: UInt.Type) throws -> UInt { try fit(try reader.uint(at)) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try fit(try reader.uint(at)) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try fit(try reader.uint(at)) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try fit(try reader.uint(at)) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try reader.uint(at) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try reader.decode(type, at: at, path: codingPath) }

    private func fit<I: FixedWidthInteger, S: BinaryInteger>(_ v: S) throws -> I {
        guard let r = I(exactly: v) else { throw CompactCoding.corrupt("\(v) does not fit \(I.self)", codingPath) }
        return r
    }
}
